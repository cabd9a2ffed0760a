r"""RealNVP: affine coupling layers with binary masks (Dinh et al., 2017).

With mask ``b`` (1 = passed through), scale ``s`` (ending in tanh) and shift ``t``:

    forward:  z = x * exp((1 - b) * s(b * x)) + (1 - b) * t(b * x)
              log|det J| = sum((1 - b) * s(b * x))
    inverse:  x = (z - (1 - b) * t(b * z)) * exp(-(1 - b) * s(b * z))

References:
    Dinh, Sohl-Dickstein and Bengio. Density estimation using Real NVP. ICLR 2017.
"""

from __future__ import annotations

import torch
from torch import Tensor

from flowcore.config import FlowConfig
from flowcore.flows.base import Flow, FlowLayer, mlp


def alternating_masks(dim: int, layers: int, order: str = "first") -> list[Tensor]:
    """Masks that alternate halves, so every coordinate is transformed within two layers.

    ``order="first"``: the first layer passes the first half through; ``"last"``: the last half
    (the seed tutorial's order, which transforms x₁ first).
    """
    first = (torch.arange(dim) < (dim + 1) // 2).float()
    if order == "last":
        first = 1 - first
    return [first if i % 2 == 0 else 1 - first for i in range(layers)]


class AffineCoupling(FlowLayer):
    r"""One affine coupling layer in the binary-mask form of the notes.

    Arguments:
        mask: the binary mask ``b`` of shape ``(dim,)``; 1 = passed through unchanged.
        hidden: width of the conditioner networks.
        depth: number of hidden layers of the conditioner networks.
        shared_trunk: one network outputs both ``s`` and ``t`` (faster) instead of two networks.
        init: ``"identity"`` (the networks' last layers start at zero: the layer starts as the
            identity) or ``"torch"`` (PyTorch's default initialisation, as in the tutorial).

    Example:
        >>> layer = AffineCoupling(torch.tensor([1.0, 0.0]), hidden=16, depth=2)
        >>> z, log_det = layer(torch.randn(4, 2))
    """

    label = "affine coupling"

    def __init__(self, mask: Tensor, hidden: int, depth: int, shared_trunk: bool = False,
                 init: str = "identity"):
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask.clone())
        self.shared_trunk = shared_trunk
        if shared_trunk:
            self.net = mlp(dim, hidden, 2 * dim, depth, init)
        else:
            self.scale_net = mlp(dim, hidden, dim, depth, init)
            self.shift_net = mlp(dim, hidden, dim, depth, init)

    def coupling_mask(self) -> Tensor:
        """The binary mask ``b``: 1 = passed through unchanged."""
        return self.mask

    def scale_shift(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(1 - b) * s(b * x)`` and ``(1 - b) * t(b * x)``: zero on the passed-through part."""
        b = self.mask
        if self.shared_trunk:
            s, t = self.net(b * x).chunk(2, dim=-1)
        else:
            s, t = self.scale_net(b * x), self.shift_net(b * x)
        return (1 - b) * torch.tanh(s), (1 - b) * t

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        scale, shift = self.scale_shift(x)
        z = x * torch.exp(scale) + shift
        return z, scale.sum(-1)

    def inverse(self, z: Tensor) -> Tensor:
        # b * z == b * x, so the conditioner sees the same input as in the forward pass.
        scale, shift = self.scale_shift(z)
        return (z - shift) * torch.exp(-scale)


def build_realnvp(config: FlowConfig) -> Flow:
    layers = [
        AffineCoupling(mask, config.hidden, config.depth, config.shared_trunk, config.init)
        for mask in alternating_masks(config.dim, config.layers, config.mask_order)
    ]
    return Flow(config, layers)
