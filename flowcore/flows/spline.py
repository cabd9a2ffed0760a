r"""Neural spline flows: rational-quadratic spline coupling (Durkan et al., 2019).

Inside ``[-B, B]`` each transformed coordinate goes through a monotone rational-quadratic spline
of ``K`` bins whose widths, heights and inner knot derivatives come from a conditioner network on
the passed-through coordinates. Outside ``[-B, B]`` the map is the identity (linear tails), and
the boundary derivatives are 1 so the two pieces join smoothly.

References:
    Durkan, Bekasov, Murray and Papamakarios. Neural Spline Flows. NeurIPS 2019.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from flowcore.config import FlowConfig
from flowcore.flows.base import Flow, FlowLayer, mlp
from flowcore.flows.coupling import alternating_masks

MIN_BIN_WIDTH = 1e-3
MIN_BIN_HEIGHT = 1e-3
MIN_DERIVATIVE = 1e-3
# softplus(_DERIVATIVE_SHIFT) + MIN_DERIVATIVE == 1, so a zero conditioner gives the identity.
_DERIVATIVE_SHIFT = math.log(math.expm1(1 - MIN_DERIVATIVE))


def _knots(unnormalised: Tensor, bound: float, minimum: float) -> tuple[Tensor, Tensor]:
    """Bin sizes (each at least ``minimum`` of the range) and knots from ``-B`` to ``B``."""
    bins = unnormalised.shape[-1]
    fractions = minimum + (1 - minimum * bins) * torch.softmax(unnormalised, dim=-1)
    knots = F.pad(torch.cumsum(fractions, dim=-1), (1, 0))
    knots = 2 * bound * knots - bound
    knots[..., 0], knots[..., -1] = -bound, bound  # exact ends, whatever the rounding
    return knots[..., 1:] - knots[..., :-1], knots


# One function for both directions, forward and inverse side by side as in the paper's
# equations (Durkan et al., 2019, section 3): split up, the two would no longer read together.
def rational_quadratic_spline(
    x: Tensor,
    widths: Tensor,
    heights: Tensor,
    derivatives: Tensor,
    bound: float,
    inverse: bool = False,
) -> tuple[Tensor, Tensor]:
    r"""Apply a monotone rational-quadratic spline elementwise.

    Arguments:
        x: inputs of shape ``(...)``.
        widths, heights: unnormalised bin sizes of shape ``(..., K)``.
        derivatives: unnormalised inner knot derivatives of shape ``(..., K - 1)``.
        bound: the spline acts on ``[-bound, bound]``; outside it is the identity.
        inverse: apply the inverse map instead.

    Returns:
        The outputs and the elementwise ``log|dy/dx|`` of the forward map at the point (for the
        inverse: ``-log|dy/dx|`` at the returned point), both of shape ``(...)``.
    """
    inside = (x > -bound) & (x < bound)
    w, x_knots = _knots(widths, bound, MIN_BIN_WIDTH)
    h, y_knots = _knots(heights, bound, MIN_BIN_HEIGHT)
    d = MIN_DERIVATIVE + F.softplus(derivatives + _DERIVATIVE_SHIFT)
    d = F.pad(d, (1, 1), value=1.0)  # boundary derivatives of the identity tails

    xc = x.clamp(-bound, bound)
    knots = y_knots if inverse else x_knots
    k = torch.searchsorted(knots[..., 1:-1].contiguous(), xc.unsqueeze(-1)).clamp(
        0, w.shape[-1] - 1
    )

    # One gather fetches the six per-bin quantities of every point's bin.
    table = torch.stack([x_knots[..., :-1], y_knots[..., :-1], w, h, d[..., :-1], d[..., 1:]], -2)
    index = k.unsqueeze(-2).expand(*k.shape[:-1], 6, 1)
    x_k, y_k, w_k, h_k, d_k, d_k1 = table.gather(-1, index).squeeze(-1).unbind(-1)
    slope = h_k / w_k
    curvature = d_k1 + d_k - 2 * slope

    if inverse:
        dy = xc - y_k
        a = h_k * (slope - d_k) + dy * curvature
        b = h_k * d_k - dy * curvature
        c = -slope * dy
        # The stable root of a xi^2 + b xi + c = 0 that lies in [0, 1].
        xi = (2 * c) / (-b - torch.sqrt((b.square() - 4 * a * c).clamp_min(0)))
        xi = xi.clamp(0, 1)
    else:
        xi = (xc - x_k) / w_k
    one_minus = 1 - xi
    denominator = slope + curvature * xi * one_minus
    if inverse:
        out = x_k + xi * w_k
    else:
        out = y_k + h_k * (slope * xi.square() + d_k * xi * one_minus) / denominator
    derivative = slope.square() * (
        d_k1 * xi.square() + 2 * slope * xi * one_minus + d_k * one_minus.square()
    )
    log_abs_det = torch.log(derivative) - 2 * torch.log(denominator)
    if inverse:
        log_abs_det = -log_abs_det
    out = torch.where(inside, out, x)
    log_abs_det = torch.where(inside, log_abs_det, torch.zeros_like(log_abs_det))
    return out, log_abs_det


class SplineCoupling(FlowLayer):
    r"""A coupling layer whose transformed coordinates go through rational-quadratic splines.

    Arguments:
        mask: binary mask of shape ``(dim,)``; 1 = passed through, 0 = transformed.
        hidden, depth: size of the conditioner network.
        bins: number of spline bins ``K``.
        bound: the spline acts on ``[-bound, bound]``.
        init: ``"identity"`` (zero last layer: the identity map) or ``"torch"`` (PyTorch's).

    Example:
        >>> layer = SplineCoupling(torch.tensor([1.0, 0.0]), hidden=16, depth=2, bins=8, bound=4)
        >>> z, log_det = layer(torch.randn(4, 2))
    """

    label = "spline coupling"

    def __init__(self, mask: Tensor, hidden: int, depth: int, bins: int, bound: float,
                 init: str = "identity"):
        super().__init__()
        self.register_buffer("mask", mask.clone())
        self.register_buffer("kept", mask.nonzero().squeeze(-1))
        self.register_buffer("changed", (1 - mask).nonzero().squeeze(-1))
        self.bins, self.bound = bins, float(bound)
        n_params = self.changed.numel() * (3 * bins - 1)
        self.net = mlp(self.kept.numel(), hidden, n_params, depth, init)

    def coupling_mask(self) -> Tensor:
        """The binary mask ``b``: 1 = passed through unchanged."""
        return self.mask

    def _spline(self, x: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        params = self.net(x[:, self.kept])
        params = params.view(x.shape[0], self.changed.numel(), 3 * self.bins - 1)
        widths, heights, derivatives = params.split([self.bins, self.bins, self.bins - 1], -1)
        y, log_det = rational_quadratic_spline(
            x[:, self.changed], widths, heights, derivatives, self.bound, inverse
        )
        out = x.index_copy(1, self.changed, y)
        return out, log_det.sum(-1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(x, inverse=False)

    def inverse(self, z: Tensor) -> Tensor:
        return self._spline(z, inverse=True)[0]


def build_nsf(config: FlowConfig) -> Flow:
    layers = [
        SplineCoupling(mask, config.hidden, config.depth, config.bins, config.bound, config.init)
        for mask in alternating_masks(config.dim, config.layers, config.mask_order)
    ]
    return Flow(config, layers)
