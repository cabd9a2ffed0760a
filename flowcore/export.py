r"""What a user downloads or writes: a model file's bytes and samples as CSV, one function each,
shared by the command line and the dashboard.

Example:
    >>> import flowcore as fc
    >>> flow = fc.build_flow(fc.FlowConfig())
    >>> samples_csv(flow, n=2).decode().splitlines()[0]
    'x1,x2'
    >>> fc.load(model_bytes(flow, {"note": "untrained"})).config.arch
    'realnvp'
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch

from flowcore.config import check_range
from flowcore.flows import Flow
from flowcore.io import to_bytes

#: Samples in the dashboard's "Download samples (CSV)".
CSV_SAMPLES = 5000
#: The most samples one CSV holds (about 150 MB of text in 2-D).
MAX_CSV_SAMPLES = 10_000_000


def model_bytes(flow: Flow, info: dict[str, Any] | None = None) -> bytes:
    r"""The ``.safetensors`` file of ``flow`` (weights, config, standardisation) with ``info``
    (dataset, training config, metrics) in its metadata; :func:`flowcore.load_with_info` reads
    both back."""
    return to_bytes(flow, info=info)


def samples_csv(flow: Flow, n: int = CSV_SAMPLES, seed: int = 0) -> bytes:
    r"""``n`` model samples ``x = f⁻¹(z)``, ``z ~ N(0, I)``, as CSV bytes with a header
    ``x1,x2,...``, six significant digits. The same seed gives the same file."""
    n = check_range("n", n, 1, MAX_CSV_SAMPLES, whole=True, note=" (the number of samples)")
    with torch.no_grad():
        x = flow.sample(n, generator=torch.Generator().manual_seed(seed)).float().cpu().numpy()
    out = io.StringIO()
    header = ",".join(f"x{i + 1}" for i in range(x.shape[1]))
    np.savetxt(out, x, delimiter=",", header=header, comments="", fmt="%.6g")
    return out.getvalue().encode()
