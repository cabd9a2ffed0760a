r"""Looking inside a flow: one layer at one point, the masks, and the pull-back animation.

These complete :mod:`flowcore.plots` for the dashboard's "Inside the flow" and "Learn" pages.
They are pure functions (no Streamlit): the numbers a page prints are the ones computed here.

Conventions as everywhere: ``z = f(x)`` maps data to latent, layers are counted from 1 in the
order ``f`` applies them, and ``flow.layers[k - 1]`` is layer ``k``. Step 0 of
:meth:`Flow.trace` is the fixed standardisation.

Example:
    >>> import flowcore as fc
    >>> from flowcore import inspect as flow_inspect
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    >>> step = flow_inspect.layer_at_point(flow, 1, [0.5, -0.2])
    >>> step["mask"].tolist(), step["label"]
    ([1.0, 0.0], 'affine coupling')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import plotly.graph_objects as go
import torch

from flowcore import plots
from flowcore.flows.base import Flow
from flowcore.flows.coupling import AffineCoupling

#: The invisible click targets of :func:`clickable_density_figure`, per axis.
CLICK_TARGETS = 60


class LayerMask(NamedTuple):
    """A coupling layer's binary mask ``b`` (1 = passed through, 0 = transformed)."""

    layer: int  # 1-based, as in the trace's names
    label: str  # e.g. "affine coupling"
    mask: np.ndarray  # (dim,) float64 of 0 and 1


def _point(flow: Flow, x_point: Any) -> torch.Tensor:
    dim = flow.config.dim
    point = np.asarray(x_point, dtype=np.float64)
    if point.size != dim or point.ndim > 2 or not np.isfinite(point).all():
        raise ValueError(f"x_point must be {dim} finite numbers, got shape {point.shape}.")
    return torch.as_tensor(point.reshape(1, dim), dtype=flow.loc.dtype, device=flow.loc.device)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def _mask_of(layer: torch.nn.Module, dim: int) -> np.ndarray | None:
    mask = getattr(layer, "mask", None)
    if isinstance(mask, torch.Tensor) and mask.shape == (dim,):
        return _numpy(mask)
    return None


def coupling_masks(flow: Flow) -> list[LayerMask]:
    r"""The mask of every coupling layer, in the order ``f`` applies them.

    Layers without a per-coordinate mask (MAF's autoregressive layers, Glow's ActNorm and LU
    linear) are left out; an empty list means the flow has no coupling layers.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=3, hidden=8))
        >>> [m.mask.tolist() for m in coupling_masks(flow)]
        [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    """
    dim = flow.config.dim
    masks = []
    for k, layer in enumerate(flow.layers, start=1):
        mask = _mask_of(layer, dim)
        if mask is not None:
            masks.append(LayerMask(k, layer.label, mask))
    return masks


@torch.no_grad()
def layer_at_point(flow: Flow, layer: int, x_point: Any) -> dict[str, Any]:
    r"""What layer ``layer`` (1-based) of ``f`` does to the data point ``x``.

    Arguments:
        flow: the flow.
        layer: which layer, from 1 to ``len(flow.layers)``.
        x_point: a data point of ``dim`` numbers (in the data's own units).

    Returns:
        A dict with ``layer``, ``label``, ``input`` (what the layer receives: ``x`` after the
        standardisation and layers ``1 … layer - 1``), ``output`` and ``log_det`` (its
        ``log|det J|`` there), and ``mask``, ``scale``, ``shift``. For an affine coupling layer
        ``mask`` is ``b`` and ``scale, shift`` are ``(1 - b) * s(b * u)`` and
        ``(1 - b) * t(b * u)`` at the input ``u``, so that
        ``output = u * exp(scale) + shift`` and ``log_det = sum(scale)``. A spline coupling
        layer has a ``mask`` but no ``scale`` and ``shift``; other layers have none (None).
        Arrays are float64 of shape ``(dim,)``.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> step = layer_at_point(flow, 2, [0.5, -0.2])
        >>> bool(np.allclose(step["output"], step["input"] * np.exp(step["scale"]) + step["shift"]))
        True
    """
    n_layers = len(flow.layers)
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not (
            1 <= layer <= n_layers):
        raise ValueError(f"layer must be a whole number in [1, {n_layers}], got {layer!r}.")
    layer = int(layer)
    steps = flow.trace(_point(flow, x_point))
    module = flow.layers[layer - 1]
    u = steps[layer - 1].value
    scale = shift = None
    if isinstance(module, AffineCoupling):
        s, t = module.scale_shift(u)
        scale, shift = _numpy(s[0]), _numpy(t[0])
    return {
        "layer": layer,
        "label": module.label,
        "input": _numpy(u[0]),
        "output": _numpy(steps[layer].value[0]),
        "log_det": float(steps[layer].log_det[0]),
        "mask": _mask_of(module, flow.config.dim),
        "scale": scale,
        "shift": shift,
    }


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
    steps = flow.trace(torch.as_tensor(points, dtype=flow.loc.dtype, device=flow.loc.device))
    means = []
    for step in steps:
        log_det = _numpy(step.log_det)
        finite = log_det[np.isfinite(log_det)]
        means.append((step.name, float(finite.mean()) if finite.size else math.nan))
    return means


# -- figures built on flowcore.plots --------------------------------------------------------------
def show_frame(fig: go.Figure, name: str) -> go.Figure:
    r"""A copy of an animated figure (such as :func:`plots.layers_figure`) showing frame ``name``.

    The visible points, the title and the figure's own slider all move to that frame, so the
    play button animates on from there.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> fig = plots.layers_figure(flow, np.random.default_rng(0).normal(size=(50, 2)))
        >>> show_frame(fig, "2: affine coupling").layout.sliders[0].active
        2
    """
    names = [frame.name for frame in fig.frames]
    if name not in names:
        raise ValueError(f"name must be one of the figure's frames {names}, got {name!r}.")
    index = names.index(name)
    frame = fig.frames[index]
    out = go.Figure(fig)
    out.data[0].x, out.data[0].y = frame.data[0].x, frame.data[0].y
    out.layout.title.text = frame.layout.title.text
    if out.layout.sliders:
        out.layout.sliders[0].active = index
    return out


@torch.no_grad()
def pull_back_figure(flow: Flow, n: int = plots.MAX_POINTS, seed: int = 0) -> go.Figure:
    r"""Model samples pulled back from ``z ~ N(0, I)`` to data space, one frame per layer.

    The frames run backwards through :func:`plots.layers_figure`: the first is ``z``, each next
    one undoes one more layer of ``f``, and the last is the sample in standardised data units.
    Frame names are those of the forward figure (``"standardise"``, ``"1: …"``, …), so a frame
    shows the same stage of the flow in both directions. Points are coloured by their direction
    in latent space, where they start.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> [frame.name for frame in pull_back_figure(flow, n=100).frames]
        ['2: affine coupling', '1: affine coupling', 'standardise']
    """
    n = plots._check_int(n, "n", 1, 100_000)
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, flow.config.dim, generator=generator, dtype=flow.loc.dtype)
    x = flow.inverse(z.to(flow.loc.device))
    angle = plots.direction_colour(_numpy(z))
    fig = plots.layers_figure(flow, _numpy(x), colour_by=angle, max_points=n)
    fig.data[0].marker.update(colorscale=plots.CYCLIC_SCALE, cmin=-math.pi, cmax=math.pi,
                              showscale=False)
    frames = list(fig.frames)[::-1]
    forward_titles = [frame.layout.title.text for frame in fig.frames]
    last = len(frames) - 1
    for j, frame in enumerate(frames):
        k = last - j  # the frame holds the output of layer k (0: the standardisation)
        if j == 0:
            title = "z ~ N(0, I): model samples start here"
        else:
            title = "undo " + forward_titles[k + 1].replace("  →  z", "")
            if k == 0:
                title += "  →  standardised x"
        frame.layout.title.text = title
    steps = list(fig.layout.sliders[0].steps)[::-1]
    fig.frames = frames
    fig.layout.sliders[0].steps = steps
    fig.layout.sliders[0].active = 0
    fig.layout.uirevision = "layers-pull-back"
    fig.layout.xaxis.title.text, fig.layout.yaxis.title.text = "z₁ → x₁", "z₂ → x₂"
    return show_frame(fig, frames[0].name)


def clickable_density_figure(flow: Flow, data: Any = None, bounds: Sequence[float] | None = None,
                             resolution: int = 150, point: Sequence[float] | None = None,
                             targets: int = CLICK_TARGETS) -> go.Figure:
    r""":func:`plots.density_figure` with a grid of invisible points to click on, and a marker.

    A click on a heatmap selects nothing in a browser, so ``targets × targets`` transparent
    markers over the box (trace ``"click targets"``, the last trace) make any spot clickable.
    ``point`` (its first two coordinates) is marked with a cross.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> fig = clickable_density_figure(flow, bounds=(-3, 3, -3, 3), resolution=20, targets=10)
        >>> len(fig.data[-1].x)
        100
    """
    targets = plots._check_int(targets, "targets", 2, 300)
    fig = plots.density_figure(flow, data, bounds=bounds, resolution=resolution)
    x_lo, x_hi = fig.layout.xaxis.range
    y_lo, y_hi = fig.layout.yaxis.range
    xs = plots._cell_centres(x_lo, x_hi, targets)
    ys = plots._cell_centres(y_lo, y_hi, targets)
    grid_x, grid_y = np.meshgrid(xs, ys)
    for trace in fig.data[1:]:  # the data overlay: not dimmed when a target is selected
        trace.unselected = {"marker": {"opacity": 1.0}}
    if point is not None:
        px, py = (float(v) for v in np.asarray(point, dtype=np.float64).reshape(-1)[:2])
        fig.add_trace(go.Scatter(
            x=plots._f32([px]), y=plots._f32([py]), mode="markers", name="inspected point",
            marker={"symbol": "x", "size": 12, "color": "white",
                    "line": {"color": "black", "width": 1.5}},
            hovertemplate="inspected x = (%{x:.3f}, %{y:.3f})<extra></extra>",
        ))
    invisible = {"marker": {"opacity": 0}}
    fig.add_trace(go.Scatter(
        x=plots._f32(grid_x.ravel()), y=plots._f32(grid_y.ravel()), mode="markers",
        name="click targets", marker={"size": 8, "opacity": 0, "color": "white"},
        selected=invisible, unselected=invisible,
        hovertemplate="x₁ = %{x:.2f}<br>x₂ = %{y:.2f}<br>click to inspect<extra></extra>",
    ))
    fig.update_layout(clickmode="event+select", dragmode="pan")
    return fig


__all__ = [
    "CLICK_TARGETS",
    "LayerMask",
    "clickable_density_figure",
    "coupling_masks",
    "layer_at_point",
    "mean_layer_log_dets",
    "pull_back_figure",
    "show_frame",
]
