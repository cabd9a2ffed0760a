"""The one summary every reported figure uses: a mean and its standard error."""

from __future__ import annotations

import math

import numpy as np


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """The mean of ``values`` and its standard error (NaN for a single value).

    Example:
        >>> mean_and_se(np.array([1.0, 2.0, 3.0]))
        (2.0, 0.5773502691896258)
    """
    se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else math.nan
    return float(values.mean()), float(se)
