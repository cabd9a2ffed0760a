r"""The Flow: a fixed standardisation, then invertible layers, then an N(0, I) base.

Conventions (the notes'): ``f`` maps data to latent, ``z = f(x)``, and

    log p_x(x) = log p_z(f(x)) + log|det J_f(x)|.

Every layer follows the :class:`Layer` protocol: ``forward(x) -> (z, log_det)``,
``inverse(z) -> x``, a ``label``, and optional capabilities (``data_init``, ``coupling_mask``,
``scale_shift``) whose defaults :class:`FlowLayer` declares, so no caller has to guess them.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

import torch
from torch import Tensor, nn

from flowcore.config import FlowConfig

LOG_2PI = math.log(2 * math.pi)


class TraceStep(NamedTuple):
    """One layer's output in :meth:`Flow.trace`."""

    name: str
    value: Tensor  # the layer's output, shape (n, dim)
    log_det: Tensor  # the layer's log|det J| per point, shape (n,)


class Layer(Protocol):
    r"""What a :class:`Flow` needs of each of its layers, declared once.

    ``z, log_det = layer(x)`` maps towards the latent (``log_det`` has shape ``(n,)``) and
    ``layer.inverse(z)`` undoes it. The optional capabilities have defaults in
    :class:`FlowLayer`, which every layer subclasses.
    """

    label: str  # a short name for the UI, e.g. "affine coupling"

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]: ...

    def inverse(self, z: Tensor) -> Tensor: ...

    def data_init(self, x: Tensor) -> None:
        """Data-dependent initialisation from the layer's input on a first batch."""

    def coupling_mask(self) -> Tensor | None:
        """The binary mask ``b`` (1 = passed through) of a coupling layer, else None."""

    def scale_shift(self, x: Tensor) -> tuple[Tensor, Tensor] | None:
        """For an affine layer ``z = x * exp(scale) + shift``: ``(scale, shift)`` at ``x``."""


class FlowLayer(nn.Module):
    r"""The base class of every layer: :class:`Layer` with the optional capabilities off.

    A subclass sets ``label``, implements ``forward`` and ``inverse``, and overrides a capability
    only when it has it.

    Example:
        >>> class Shift(FlowLayer):
        ...     label = "shift by one"
        ...     def forward(self, x):
        ...         return x + 1, x.new_zeros(x.shape[0])
        ...     def inverse(self, z):
        ...         return z - 1
        >>> Shift().coupling_mask() is None
        True
    """

    label = "layer"

    def inverse(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def data_init(self, x: Tensor) -> None:
        """Nothing to initialise from data (Glow's ActNorm overrides this)."""

    def coupling_mask(self) -> Tensor | None:
        """None: not a coupling layer."""
        return None

    def scale_shift(self, x: Tensor) -> tuple[Tensor, Tensor] | None:
        """None: not an elementwise affine map of its input."""
        return None


def mlp(n_in: int, hidden: int, n_out: int, depth: int, init: str = "identity") -> nn.Sequential:
    r"""A ReLU MLP. With ``init="identity"`` its last layer starts at zero, so a fresh
    conditioner outputs zeros; with ``"torch"`` every layer keeps PyTorch's default init."""
    sizes = [n_in] + [hidden] * depth
    modules: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        modules += [nn.Linear(a, b), nn.ReLU()]
    last = nn.Linear(sizes[-1], n_out)
    if init == "identity":
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(*modules, last)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    return -0.5 * (z.square().sum(-1) + z.shape[-1] * LOG_2PI)


class Flow(nn.Module):
    r"""A normalizing flow ``z = f(x)`` with a standard normal base.

    The first transform is a fixed affine standardisation ``(x - loc) / scale`` (buffers, not
    trained), counted in the log-det, so :meth:`log_prob` is in the units of the user's data.

    Arguments:
        config: the :class:`FlowConfig` the flow was built from (kept as ``flow.config``).
        layers: the invertible layers, applied in order from data to latent.

    Example:
        >>> import flowcore as fc, torch
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2))
        >>> z, log_det = flow(torch.randn(5, 2))
        >>> z.shape, log_det.shape
        (torch.Size([5, 2]), torch.Size([5]))
    """

    def __init__(self, config: FlowConfig, layers: list[FlowLayer]):
        super().__init__()
        self.config = config
        self.register_buffer("loc", torch.zeros(config.dim))
        self.register_buffer("scale", torch.ones(config.dim))
        self.layers = nn.ModuleList(layers)

    # -- standardisation ---------------------------------------------------------------------
    @torch.no_grad()
    def set_standardisation(self, loc: Tensor, scale: Tensor) -> None:
        """Fix the first layer to ``(x - loc) / scale``, usually the data's mean and std."""
        loc = torch.as_tensor(loc, dtype=self.loc.dtype, device=self.loc.device).reshape(-1)
        scale = torch.as_tensor(scale, dtype=self.scale.dtype, device=self.scale.device)
        scale = scale.reshape(-1)
        if loc.shape != self.loc.shape or scale.shape != self.scale.shape:
            raise ValueError(f"loc and scale must have shape ({self.config.dim},).")
        if not (torch.isfinite(loc).all() and torch.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("loc must be finite and scale finite and positive.")
        self.loc.copy_(loc)
        self.scale.copy_(scale)

    def _check(self, x: Tensor, name: str) -> Tensor:
        """Check the shape at the boundary; compute in the flow's own dtype and device."""
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.config.dim:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            dim = self.config.dim
            raise ValueError(f"{name} must be a tensor of shape (n, {dim}), got {shape}.")
        return x.to(self.loc)

    def standardise(self, x: Tensor) -> tuple[Tensor, Tensor]:
        log_det = -torch.log(self.scale).sum().expand(x.shape[0])
        return (x - self.loc) / self.scale, log_det

    # -- the flow ----------------------------------------------------------------------------
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Data to latent: returns ``z = f(x)`` and ``log|det J_f(x)|`` of shape ``(n,)``."""
        x = self._check(x, "x")
        z, log_det = self.standardise(x)
        for layer in self.layers:
            z, ld = layer(z)
            log_det = log_det + ld
        return z, log_det

    def inverse(self, z: Tensor) -> Tensor:
        """Latent to data: ``x = f^{-1}(z)``."""
        z = self._check(z, "z")
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z * self.scale + self.loc

    def log_prob(self, x: Tensor) -> Tensor:
        """``log p_x(x) = log N(f(x); 0, I) + log|det J_f(x)|`` in the data's own units."""
        z, log_det = self(x)
        return standard_normal_log_prob(z) + log_det

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` samples: ``x = f^{-1}(z)`` with ``z ~ N(0, I)``."""
        z = torch.randn(
            n, self.config.dim, generator=generator, dtype=self.loc.dtype, device=self.loc.device
        )
        return self.inverse(z)

    def trace(self, x: Tensor) -> list[TraceStep]:
        """Every layer's output on the way from ``x`` to ``z``.

        The first step is the standardisation, the last one's ``value`` is ``z``, and the
        ``log_det`` of the steps sum to the flow's ``log_det``.
        """
        x = self._check(x, "x")
        value, log_det = self.standardise(x)
        steps = [TraceStep("standardise", value, log_det)]
        for i, layer in enumerate(self.layers):
            value, log_det = layer(value)
            steps.append(TraceStep(f"{i + 1}: {layer.label}", value, log_det))
        return steps

    @torch.no_grad()
    def data_init(self, x: Tensor) -> None:
        """Data-dependent initialisation (Glow's ActNorm) from a first batch of data."""
        x = self._check(x, "x")
        value, _ = self.standardise(x)
        for layer in self.layers:
            layer.data_init(value)
            value, _ = layer(value)
