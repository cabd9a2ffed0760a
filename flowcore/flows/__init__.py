r"""The flow families: one registry of architectures, and :func:`build_flow`.

Adding an architecture is one :func:`register` call: a name, a label for the UI, a builder from
a :class:`FlowConfig` to a :class:`Flow`, and (if its layers have no hidden-by-hidden conditioner)
the fewest weights such a model has, which :func:`flowcore.load` checks before building a file's
config. Layers subclass :class:`FlowLayer` (the declared :class:`Layer` protocol).

Example:
    >>> [arch.name for arch in architectures()][:4]
    ['realnvp', 'nsf', 'maf', 'glow']
    >>> architecture("realnvp").label
    'RealNVP (affine coupling)'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flowcore.config import ARCHITECTURES, FlowConfig
from flowcore.flows.autoregressive import build_maf
from flowcore.flows.base import Flow, FlowLayer, Layer, TraceStep
from flowcore.flows.coupling import build_realnvp
from flowcore.flows.glow import build_glow
from flowcore.flows.spline import build_nsf


def conditioner_weights(config: FlowConfig) -> int:
    r"""The fewest weights of a flow whose every layer has a conditioner network: ``depth - 1``
    hidden-by-hidden matrices and a ``hidden``-wide first layer (true of every built-in family).

    Example:
        >>> conditioner_weights(FlowConfig(layers=2, hidden=4, depth=2))
        40
    """
    return config.layers * config.hidden * (config.hidden * (config.depth - 1) + 1)


@dataclass(frozen=True)
class Architecture:
    r"""One flow family of the registry.

    Arguments:
        name: the ``FlowConfig.arch`` value, e.g. ``"realnvp"``.
        label: what the UI calls it, e.g. ``"RealNVP (affine coupling)"``.
        build: makes an untrained flow from a config.
        min_weights: a lower bound on the number of weights of ``build(config)``, cheap to
            compute: a model file with fewer is refused before its config is built.
        options: the :class:`FlowConfig` fields only this family reads (the UI shows them).
    """

    name: str
    label: str
    build: Callable[[FlowConfig], Flow]
    min_weights: Callable[[FlowConfig], int] = conditioner_weights
    options: tuple[str, ...] = ()


_REGISTRY: dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    r"""Adds ``arch`` to the registry (replacing one of the same name); returns it.

    Example:
        >>> import torch
        >>> class Shift(FlowLayer):
        ...     label = "shift"
        ...     def __init__(self, dim):
        ...         super().__init__()
        ...         self.b = torch.nn.Parameter(torch.zeros(dim))
        ...     def forward(self, x):
        ...         return x + self.b, x.new_zeros(x.shape[0])
        ...     def inverse(self, z):
        ...         return z - self.b
        >>> _ = register(Architecture("shift", "Shift", lambda c: Flow(c, [Shift(c.dim)]),
        ...                           min_weights=lambda c: c.dim))
        >>> build_flow(FlowConfig(arch="shift")).layers[0].label
        'shift'
        >>> unregister("shift")
    """
    if not isinstance(arch, Architecture):
        raise ValueError(f"register needs an Architecture, got {type(arch).__name__}.")
    _REGISTRY[arch.name] = arch
    return arch


def unregister(name: str) -> None:
    r"""Removes a registered architecture (the built-in ones stay)."""
    if name in ARCHITECTURES:
        raise ValueError(f"{name!r} is built in and cannot be removed.")
    _REGISTRY.pop(name, None)


def architectures() -> tuple[Architecture, ...]:
    r"""Every registered architecture, the built-in ones first."""
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    r"""The names of the registered architectures, for ``FlowConfig.arch``."""
    return tuple(_REGISTRY)


def architecture(name: str) -> Architecture:
    r"""The registered architecture ``name``, or a ValueError listing the known ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(_REGISTRY)}.")
    return _REGISTRY[name]


def build_flow(config: FlowConfig, dtype=None, device=None) -> Flow:
    r"""Build an untrained flow of the config's registered architecture.

    Example:
        >>> flow = build_flow(FlowConfig(arch="nsf", dim=2, layers=4, hidden=64))
    """
    if not isinstance(config, FlowConfig):
        raise ValueError(f"build_flow needs a FlowConfig, got {type(config).__name__}.")
    return architecture(config.arch).build(config).to(dtype=dtype, device=device)


for _arch in (
    Architecture("realnvp", "RealNVP (affine coupling)", build_realnvp, options=("shared_trunk",)),
    Architecture("nsf", "Neural spline flow", build_nsf, options=("bins", "bound")),
    Architecture("maf", "MAF (autoregressive)", build_maf),
    Architecture("glow", "Glow (ActNorm + LU + coupling)", build_glow),
):
    register(_arch)
if names() != ARCHITECTURES:  # config.ARCHITECTURES names the built-in families, in this order
    raise ImportError(f"config.ARCHITECTURES {ARCHITECTURES} != the registry's {names()}")

__all__ = [
    "Architecture",
    "Flow",
    "FlowLayer",
    "Layer",
    "TraceStep",
    "architecture",
    "architectures",
    "build_flow",
    "conditioner_weights",
    "names",
    "register",
    "unregister",
]
