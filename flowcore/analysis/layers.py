r"""Inside the flow: the points at every stage (:func:`layer_frames`, :func:`pull_back_frames`,
:func:`pull_back_samples`), each step's mean ``log|det J|``, one point through the flow
(:func:`point_inspection`, :func:`layer_at_point`) and the coupling masks (:func:`coupling_masks`).

Layers are counted from 1 in the order ``f`` applies them (``flow.layers[k - 1]`` is layer
``k``); step 0 of :meth:`Flow.trace` is the fixed standardisation. A layer's capabilities come
from the :class:`~flowcore.flows.base.Layer` protocol, never from its class or label.

Example:
    >>> import flowcore as fc
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    >>> step = layer_at_point(flow, 1, [0.5, -0.2])
    >>> step.mask.tolist(), step.label
    ([1.0, 0.0], 'affine coupling')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from flowcore.analysis.evaluation import as_points, as_tensor, check_point, to_numpy
from flowcore.config import check_range
from flowcore.flows.base import Flow, standard_normal_log_prob


# -- layer by layer -------------------------------------------------------------------------------
class Frame(NamedTuple):
    """One stage of the flow for a set of points (see :func:`layer_frames`)."""

    name: str  # the trace step's name: "standardise", "1: affine coupling", ...
    layer: int  # 0 for the standardisation, else the 1-based layer whose output this is
    values: np.ndarray  # (n, dim) float32


@torch.no_grad()
def layer_frames(flow: Flow, x: Any) -> list[Frame]:
    r"""Each step of ``flow.trace(x)``: the first is the standardised data ``(x - loc) / scale``
    and the last is ``z = f(x)``.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> frames = layer_frames(flow, np.zeros((3, 2)))
        >>> [(frame.name, frame.layer) for frame in frames]
        [('standardise', 0), ('1: affine coupling', 1), ('2: affine coupling', 2)]
    """
    steps = flow.trace(as_tensor(flow, as_points(x, "x")))
    return [Frame(step.name, k, step.value.float().cpu().numpy()) for k, step in enumerate(steps)]


@torch.no_grad()
def pull_back_samples(flow: Flow, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""``z ~ N(0, I)`` drawn with ``seed``, and the model samples ``x = f⁻¹(z)`` in data units.

    Returns:
        ``z`` and ``x``, both (n, dim) float64.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> z, x = pull_back_samples(flow, n=10)
        >>> z.shape, x.shape
        ((10, 2), (10, 2))
    """
    n = check_range("n", n, 1, 100_000, whole=True)
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, flow.config.dim, generator=generator, dtype=flow.loc.dtype)
    return to_numpy(z), to_numpy(flow.inverse(z.to(flow.loc.device)))


def pull_back_frames(flow: Flow, n: int = 2000, seed: int = 0) -> tuple[np.ndarray, list[Frame]]:
    r"""Model samples ``x = f⁻¹(z)``, ``z ~ N(0, I)``, at every stage from ``z`` back to the
    standardised data: the frames of :func:`layer_frames` of those samples, in reverse.

    Returns:
        ``z`` (n, dim) float64 and the frames, the first being ``z`` (the last layer's output).

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> z, frames = pull_back_frames(flow, n=10)
        >>> [frame.layer for frame in frames]
        [2, 1, 0]
    """
    z, x = pull_back_samples(flow, n, seed)
    return z, layer_frames(flow, x)[::-1]


@torch.no_grad()
def mean_layer_log_dets(flow: Flow, x: Any) -> list[tuple[str, float]]:
    r"""Each step of ``flow.trace(x)`` with its mean ``log|det J|`` over the points of ``x``.

    A positive mean says the step stretches the data on average (it raises their density), a
    negative one that it squeezes them. Rows that are not finite are ignored.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> [name for name, _ in mean_layer_log_dets(flow, np.zeros((5, 2)))]
        ['standardise', '1: affine coupling', '2: affine coupling']
    """
    points = np.asarray(x, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != flow.config.dim:
        raise ValueError(f"x must have shape (n, {flow.config.dim}), got {points.shape}.")
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) == 0:
        raise ValueError("x has no finite rows.")
    means = []
    for step in flow.trace(as_tensor(flow, points)):
        log_det = to_numpy(step.log_det)
        finite = log_det[np.isfinite(log_det)]
        means.append((step.name, float(finite.mean()) if finite.size else math.nan))
    return means


# -- one point ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PointInspection:
    """Everything the flow computes for one point (see :func:`point_inspection`), in nats."""

    x: np.ndarray  # (dim,) the point
    z: np.ndarray  # (dim,) f(x)
    log_p_z: float  # the base log-density of z
    layer_log_dets: list[tuple[str, float]]  # (step name, log|det J|), the standardisation first
    log_det: float  # their sum
    log_p_x: float  # log_p_z + log_det


@torch.no_grad()
def point_inspection(flow: Flow, x_point: Any) -> PointInspection:
    r"""The change of variables ``log p(x) = log p_z(f(x)) + log|det J_f(x)|`` for one point,
    layer by layer.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> info = point_inspection(flow, [0.5, -0.2])
        >>> round(info.log_p_z + info.log_det - info.log_p_x, 12)
        0.0
    """
    point = check_point(flow, x_point)
    steps = flow.trace(as_tensor(flow, point))
    z = steps[-1].value
    log_p_z = float(standard_normal_log_prob(z)[0])
    layer_log_dets = [(step.name, float(step.log_det[0])) for step in steps]
    log_det = float(sum(ld for _, ld in layer_log_dets))
    return PointInspection(point[0], to_numpy(z[0]), log_p_z, layer_log_dets, log_det,
                           log_p_z + log_det)


class LayerMask(NamedTuple):
    """A coupling layer's binary mask ``b`` (1 = passed through, 0 = transformed)."""

    layer: int  # 1-based, as in the trace's names
    label: str  # e.g. "affine coupling"
    mask: np.ndarray  # (dim,) float64 of 0 and 1


def coupling_masks(flow: Flow) -> list[LayerMask]:
    r"""The mask of every coupling layer, in the order ``f`` applies them.

    Layers without a mask (:meth:`~flowcore.flows.base.FlowLayer.coupling_mask` is None: MAF's
    autoregressive layers, Glow's ActNorm and LU linear) are left out; an empty list means the
    flow has no coupling layers.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=3, hidden=8))
        >>> [m.mask.tolist() for m in coupling_masks(flow)]
        [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    """
    masks = []
    for k, layer in enumerate(flow.layers, start=1):
        mask = layer.coupling_mask()
        if mask is not None:
            masks.append(LayerMask(k, layer.label, to_numpy(mask)))
    return masks


@dataclass(frozen=True)
class LayerStep:
    """What one layer does to one point (see :func:`layer_at_point`); arrays of shape (dim,)."""

    layer: int  # 1-based
    label: str  # e.g. "affine coupling"
    input: np.ndarray  # u: x after the standardisation and layers 1 … layer - 1
    output: np.ndarray  # the layer's output at u
    log_det: float  # its log|det J| at u
    mask: np.ndarray | None  # b for a coupling layer, else None
    scale: np.ndarray | None  # (1 - b) * s(b * u) for an affine coupling layer, else None
    shift: np.ndarray | None  # (1 - b) * t(b * u) for an affine coupling layer, else None


@torch.no_grad()
def layer_at_point(flow: Flow, layer: int, x_point: Any) -> LayerStep:
    r"""What layer ``layer`` (1-based) of ``f`` does to the data point ``x``.

    For an affine coupling layer ``output = input * exp(scale) + shift`` and
    ``log_det = sum(scale)``. A spline coupling layer has a ``mask`` but no ``scale`` and
    ``shift``; other layers have none (None).

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> step = layer_at_point(flow, 2, [0.5, -0.2])
        >>> bool(np.allclose(step.output, step.input * np.exp(step.scale) + step.shift))
        True
    """
    layer = check_range("layer", layer, 1, len(flow.layers), whole=True)
    steps = flow.trace(as_tensor(flow, check_point(flow, x_point)))
    module = flow.layers[layer - 1]
    u = steps[layer - 1].value
    parts = module.scale_shift(u)
    mask = module.coupling_mask()
    return LayerStep(
        layer=layer,
        label=module.label,
        input=to_numpy(u[0]),
        output=to_numpy(steps[layer].value[0]),
        log_det=float(steps[layer].log_det[0]),
        mask=None if mask is None else to_numpy(mask),
        scale=None if parts is None else to_numpy(parts[0][0]),
        shift=None if parts is None else to_numpy(parts[1][0]),
    )
