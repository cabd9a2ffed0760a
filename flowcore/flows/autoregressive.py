r"""Masked autoregressive flow (MAF) with a MADE conditioner and affine transforms.

Each layer maps data to latent with ``z_i = (x_i - mu_i(x_<i)) * exp(-alpha_i(x_<i))``, so the
density is evaluated in one pass and ``log|det J| = -sum(alpha)``. Sampling inverts it one
dimension at a time (``dim`` passes). Layers alternate the variable order.

References:
    Germain, Gregor, Murray and Larochelle. MADE: Masked Autoencoder for Distribution
    Estimation. ICML 2015.
    Papamakarios, Pavlakou and Murray. Masked Autoregressive Flow for Density Estimation.
    NeurIPS 2017.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from flowcore.config import FlowConfig
from flowcore.flows.base import Flow, FlowLayer

# log-scales are soft-clipped to (-LOG_SCALE_BOUND, LOG_SCALE_BOUND), once, here.
LOG_SCALE_BOUND = 3.0


def soft_clip(u: Tensor, bound: float = LOG_SCALE_BOUND) -> Tensor:
    return bound * torch.tanh(u / bound)


class MaskedLinear(nn.Linear):
    def __init__(self, n_in: int, n_out: int, mask: Tensor):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    r"""An MLP whose output ``i`` depends only on inputs that come before ``i`` in ``order``.

    Arguments:
        order: a permutation of ``1..dim`` giving each input's place in the order.
        hidden, depth: width and number of hidden layers.
        n_params: outputs per dimension; output ``[:, i, j]`` is parameter ``j`` of dim ``i``.
        init: ``"identity"`` (the last layer starts at zero) or ``"torch"`` (PyTorch's default).
    """

    def __init__(self, order: Tensor, hidden: int, depth: int, n_params: int,
                 init: str = "identity"):
        super().__init__()
        dim = order.numel()
        self.dim, self.n_params = dim, n_params
        degrees = [order]
        for _ in range(depth):
            degrees.append(torch.arange(hidden) % max(dim - 1, 1) + 1)
        modules: list[nn.Module] = []
        for d_in, d_out in zip(degrees[:-1], degrees[1:], strict=True):
            mask = (d_out[:, None] >= d_in[None, :]).float()
            modules += [MaskedLinear(d_in.numel(), d_out.numel(), mask), nn.ReLU()]
        out_degrees = order.repeat_interleave(n_params)  # dim-major: [d0 p0, d0 p1, d1 p0, ...]
        out_mask = (out_degrees[:, None] > degrees[-1][None, :]).float()
        last = MaskedLinear(degrees[-1].numel(), dim * n_params, out_mask)
        if init == "identity":
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*modules, last)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).view(x.shape[0], self.dim, self.n_params)


class MaskedAffineAutoregressive(FlowLayer):
    r"""One MAF layer: ``z = (x - mu(x)) * exp(-alpha(x))`` with autoregressive ``mu, alpha``.

    Example:
        >>> layer = MaskedAffineAutoregressive(torch.tensor([1, 2]), hidden=16, depth=2)
        >>> z, log_det = layer(torch.randn(4, 2))
    """

    label = "autoregressive affine"

    def __init__(self, order: Tensor, hidden: int, depth: int, init: str = "identity"):
        super().__init__()
        self.register_buffer("order", order.clone())
        self.made = MADE(order, hidden, depth, n_params=2, init=init)

    def _shift_log_scale(self, x: Tensor) -> tuple[Tensor, Tensor]:
        params = self.made(x)
        return params[..., 0], soft_clip(params[..., 1])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        shift, log_scale = self._shift_log_scale(x)
        return (x - shift) * torch.exp(-log_scale), -log_scale.sum(-1)

    def inverse(self, z: Tensor) -> Tensor:
        # Dimension i depends only on dimensions earlier in the order: fill them in that order.
        x = torch.zeros_like(z)
        for i in torch.argsort(self.order).tolist():
            shift, log_scale = self._shift_log_scale(x)
            x = x.index_copy(
                1,
                torch.tensor([i], device=z.device),
                (z[:, i] * torch.exp(log_scale[:, i]) + shift[:, i]).unsqueeze(1),
            )
        return x


def build_maf(config: FlowConfig) -> Flow:
    forward_order = torch.arange(1, config.dim + 1)
    layers = [
        MaskedAffineAutoregressive(
            forward_order if i % 2 == 0 else forward_order.flip(0), config.hidden, config.depth,
            config.init,
        )
        for i in range(config.layers)
    ]
    return Flow(config, layers)
