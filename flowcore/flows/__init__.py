"""The flow families, and :func:`build_flow` to make one from a :class:`FlowConfig`."""

from __future__ import annotations

from collections.abc import Callable

from flowcore.config import FlowConfig
from flowcore.flows.autoregressive import build_maf
from flowcore.flows.base import Flow, TraceStep
from flowcore.flows.coupling import build_realnvp
from flowcore.flows.glow import build_glow
from flowcore.flows.spline import build_nsf

_BUILDERS: dict[str, Callable[[FlowConfig], Flow]] = {
    "realnvp": build_realnvp,
    "nsf": build_nsf,
    "maf": build_maf,
    "glow": build_glow,
}


def build_flow(config: FlowConfig, dtype=None, device=None) -> Flow:
    r"""Build an untrained flow: the identity after standardisation.

    Example:
        >>> flow = build_flow(FlowConfig(arch="nsf", dim=2, layers=4, hidden=64))
    """
    if not isinstance(config, FlowConfig):
        raise ValueError(f"build_flow needs a FlowConfig, got {type(config).__name__}.")
    return _BUILDERS[config.arch](config).to(dtype=dtype, device=device)


__all__ = ["Flow", "TraceStep", "build_flow"]
