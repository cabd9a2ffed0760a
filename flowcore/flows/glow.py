r"""Glow-style steps: ActNorm, an invertible linear map in LU form, and an affine coupling.

References:
    Kingma and Dhariwal. Glow: Generative Flow with Invertible 1x1 Convolutions. NeurIPS 2018.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from flowcore.config import FlowConfig
from flowcore.flows.base import Flow, FlowLayer
from flowcore.flows.coupling import AffineCoupling, alternating_masks


class ActNorm(FlowLayer):
    r"""``z = (x - loc) * exp(-log_scale)`` per dimension, with data-dependent initialisation.

    Starts as the identity; :meth:`data_init` sets ``loc`` and ``log_scale`` so that a first batch
    comes out with zero mean and unit variance (the Flow's ``data_init`` calls it).
    """

    label = "actnorm"

    def __init__(self, dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))

    @torch.no_grad()
    def data_init(self, x: Tensor) -> None:
        if x.shape[0] < 2:
            return
        self.loc.copy_(x.mean(0))
        self.log_scale.copy_(torch.log(x.std(0).clamp_min(1e-6)))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = (x - self.loc) * torch.exp(-self.log_scale)
        return z, (-self.log_scale.sum()).expand(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        return z * torch.exp(self.log_scale) + self.loc


class LULinear(FlowLayer):
    r"""``z = W x`` with ``W = L (U + diag(exp(log_diag)))``.

    ``L`` is unit lower triangular and ``U`` strictly upper triangular, so ``W`` stays invertible
    and ``log|det W| = sum(log_diag)``. Starts at ``W = I`` so that an untrained flow is the
    identity.
    """

    label = "LU linear"

    def __init__(self, dim: int):
        super().__init__()
        self.lower = nn.Parameter(torch.zeros(dim, dim))
        self.upper = nn.Parameter(torch.zeros(dim, dim))
        self.log_diag = nn.Parameter(torch.zeros(dim))

    def _factors(self) -> tuple[Tensor, Tensor]:
        eye = torch.eye(self.log_diag.numel(), dtype=self.lower.dtype, device=self.lower.device)
        lower = self.lower.tril(-1) + eye
        upper = self.upper.triu(1) + torch.diag(torch.exp(self.log_diag))
        return lower, upper

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        lower, upper = self._factors()
        z = x @ (lower @ upper).T
        return z, self.log_diag.sum().expand(x.shape[0])

    def inverse(self, z: Tensor) -> Tensor:
        lower, upper = self._factors()
        # Solve L U x = z for each row: two triangular solves, no explicit inverse.
        y = torch.linalg.solve_triangular(lower, z.T, upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, y, upper=True).T


def build_glow(config: FlowConfig) -> Flow:
    layers: list[FlowLayer] = []
    for mask in alternating_masks(config.dim, config.layers, config.mask_order):
        layers += [
            ActNorm(config.dim),
            LULinear(config.dim),
            AffineCoupling(mask, config.hidden, config.depth, shared_trunk=True,
                           init=config.init),
        ]
    return Flow(config, layers)
