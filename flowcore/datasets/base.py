r"""The interface every dataset shares, the user-facing limits, and the checks at its boundary.

Every dataset has ``name``, ``params``, ``description``, ``dim``, ``can_sample_fresh``,
``notice``, ``sample(n, seed)``, ``log_density(x)``, ``entropy()`` and ``entropy_se()``.
``log_density`` and ``entropy`` return ``None`` where the true density is not known; they never
guess.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from flowcore.config import check_range

MAX_ROWS = 100_000  # more rows than this are subsampled (seeded), not rejected
MIN_ROWS = 10
MAX_CSV_BYTES = 20 * 2**20  # = server.maxUploadSize (20 MB) in .streamlit/config.toml
MAX_COLUMNS = 64  # = the largest FlowConfig.dim: a flow cannot model more coordinates
MAX_SAMPLE = 100_000_000  # points per sample() call: far beyond what fits a laptop's memory


class Dataset:
    r"""A distribution of points in ``dim`` dimensions: toy recipe, user data or an image.

    Attributes:
        name: the dataset's name, e.g. ``"moons"``.
        params: JSON-serialisable parameters. For a toy recipe ``get(name, **params)`` rebuilds
            it; for user data they describe it (rows, columns, image size).
        description: one or two sentences for the UI.
        dim: the number of coordinates of a point.
        can_sample_fresh: whether ``sample`` draws new points (True) or resamples fixed rows.
        notice: what was changed about the user's data (subsampled, renamed columns), else None.

    Example:
        >>> from flowcore import datasets
        >>> isinstance(datasets.get("moons"), Dataset)
        True
    """

    name: str
    params: dict[str, Any]
    description: str
    dim: int
    can_sample_fresh: bool
    notice: str | None = None

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        r"""Returns ``n`` points as a float32 array of shape ``(n, dim)``; the same seed gives the
        same points."""
        n = check_range("n", n, 1, MAX_SAMPLE, whole=True, note=" (the number of points)")
        seed = check_range("seed", seed, 0, 2**32 - 1, whole=True)
        points = np.asarray(self._draw(n, seed), dtype=np.float32)
        return points.reshape(n, self.dim)

    def log_density(self, x: np.ndarray) -> np.ndarray | None:
        r"""The true log density (nats) at the rows of ``x``, shape ``(n,)`` float64, where it is
        known; else None. Outside the support it is ``-inf``."""
        return None

    def entropy(self) -> float | None:
        r"""The differential entropy in nats, where the true density is known; else None."""
        return None

    def entropy_se(self) -> float | None:
        r"""The standard error of ``entropy()`` (0.0 where it is exact), or None."""
        return None

    def _draw(self, n: int, seed: int) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} params={self.params} dim={self.dim}>"


def check_points(x: Any, dim: int) -> np.ndarray:
    r"""``x`` as finite float64 points of shape ``(n, dim)``, or a ValueError naming the bad row.

    Example:
        >>> check_points([[0, 1]], 2).dtype
        dtype('float64')
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"expected points of shape (n, {dim}), got {x.shape}")
    if not np.isfinite(x).all():
        row = np.flatnonzero(~np.isfinite(x).all(axis=1))[0]
        raise ValueError(f"the points must be finite; row {row + 1} is {x[row].tolist()}")
    return x


def read_source(source: Any) -> tuple[bytes | str, str]:
    r"""The contents of a path, bytes, or a file-like object (a Streamlit upload), at most
    ``MAX_CSV_BYTES``, and a name for it (the file's stem, or ``"upload"``).

    Example:
        >>> read_source(b"x,y")
        (b'x,y', 'upload')
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), "upload"
    elif isinstance(source, (str, PathLike)):
        if isinstance(source, str) and "\n" in source:
            raise ValueError("a str is read as a file path; pass CSV text as io.StringIO(text)")
        path = Path(source)
        try:
            if path.stat().st_size > MAX_CSV_BYTES:
                raise ValueError(f"the file {path.name!r} is larger than {MAX_CSV_BYTES:,} bytes")
            data, label = path.read_bytes(), path.stem
        except OSError as error:
            raise ValueError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    elif hasattr(source, "read"):
        # A Streamlit upload may have been read before: getvalue() sees all of it.
        data = source.getvalue() if hasattr(source, "getvalue") else source.read()
        label = Path(str(getattr(source, "name", "upload"))).stem
    else:
        kind = type(source).__name__
        raise ValueError(f"expected a path, bytes or a file-like object, got {kind}")
    if len(data) > MAX_CSV_BYTES:
        raise ValueError(f"the data is larger than {MAX_CSV_BYTES:,} bytes")
    return data, label
