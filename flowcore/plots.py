r"""Plotly figures of a flow and its data, as pure functions (no Streamlit).

The four live panels of the dashboard are :func:`density_figure`, :func:`samples_figure`,
:func:`latent_figure` and :func:`nll_figure`; the "see inside the flow" views are
:func:`layers_figure`, :func:`grid_deformation_figure`, :func:`point_inspection`,
:func:`truth_figure` and :func:`compare_nll_figure`.

Conventions: ``z = f(x)`` maps data to latent, axes are labelled ``x₁, x₂`` in data space and
``z₁, z₂`` in latent space, and log-densities are in nats. For ``dim > 2`` the figures show the
first two coordinates (the density: a 2-D slice through the data mean).

Every figure is safe to send to a browser as it is: traces carry float32 NumPy arrays (Plotly
writes them as compact base64), never NaN or inf, and each panel has a constant
``layout.uirevision`` so that zoom and pan survive live updates. Scatter traces are SVG
``go.Scatter``: in Plotly 7 it serialises to exactly the same bytes, as fast, as
``go.Scattergl``, and it avoids WebGL's per-page context limit (a dashboard with several live
charts loses the oldest WebGL contexts, and headless Chromium may have no WebGL at all).

Example:
    >>> import flowcore as fc, numpy as np
    >>> from flowcore import plots
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    >>> data = np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32)
    >>> fig = plots.density_figure(flow, data, resolution=50)
    >>> fig.layout.uirevision
    'density'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from flowcore.flows.base import Flow, standard_normal_log_prob

Bounds = tuple[float, float, float, float]

#: How many nats below its maximum the displayed log-density is floored at.
LOG_DENSITY_DEPTH = 12.0
#: Points per batch when a plot evaluates a flow: small enough that activations stay in cache.
EVAL_CHUNK = 4096
#: Cells per axis of the dashboard's live heatmap, which is evaluated every few seconds beside
#: training. The seed model (206k parameters) costs about 0.5 ms per 100 points on one core, so
#: 120×120 takes ~85 ms and 200×200 ~200 ms (bench/dashboard.py measures it).
LIVE_DENSITY_RESOLUTION = 120
#: Scatter panels thin their points to at most this many (deterministically, so no flicker).
MAX_POINTS = 2000

DATA_COLOUR = "#4C78A8"
MODEL_COLOUR = "#F58518"
OVERLAY_COLOUR = "rgba(255, 80, 80, 0.55)"
SIGMA_COLOUR = "rgba(40, 40, 40, 0.7)"
DENSITY_SCALE = "Viridis"
DIVERGING_SCALE = "RdBu_r"
CYCLIC_SCALE = "Phase"
#: Live scatter panels colour points by direction in this many sectors, one trace (and colour)
#: each: the browser styles a trace at once, but a colour per point one point at a time.
DIRECTION_SECTORS = 12

# A small template instead of Plotly's default, which alone adds ~6.5 kB to every figure.
_TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": "Inter, Helvetica, Arial, sans-serif", "size": 12, "color": "#262730"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": [DATA_COLOUR, MODEL_COLOUR, "#54A24B", "#E45756", "#72B7B2", "#B279A2",
                     "#FF9DA6", "#9D755D", "#BAB0AC", "#EECA3B"],
        "xaxis": {"showgrid": True, "gridcolor": "#ECECEC", "zeroline": False,
                  "linecolor": "#BBBBBB", "ticks": "outside", "tickcolor": "#BBBBBB"},
        "yaxis": {"showgrid": True, "gridcolor": "#ECECEC", "zeroline": False,
                  "linecolor": "#BBBBBB", "ticks": "outside", "tickcolor": "#BBBBBB"},
        "hovermode": "closest",
    }
)


# -- shared look ---------------------------------------------------------------------------------
def _layout(panel: str, title: str, x_title: str | None = None, y_title: str | None = None,
            equal_aspect: bool = False, **extra: Any) -> dict[str, Any]:
    """The common layout of every figure: one look, compact margins, a constant uirevision."""
    layout: dict[str, Any] = {
        "template": _TEMPLATE,
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "margin": {"l": 55, "r": 15, "t": 45, "b": 45},
        "uirevision": panel,
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0,
                   "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0)"},
    }
    if x_title is not None:
        layout["xaxis"] = {"title": {"text": x_title}}
    if y_title is not None:
        layout["yaxis"] = {"title": {"text": y_title}}
    if equal_aspect:
        layout.setdefault("yaxis", {}).update(scaleanchor="x", scaleratio=1)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def _f32(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _sub(i: int) -> str:
    """``i`` in Unicode subscript digits: 12 -> ₁₂."""
    return str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _names(letter: str, indices: Sequence[int]) -> str:
    return ", ".join(f"{letter}{_sub(i + 1)}" for i in indices)


def _dims_note(dim: int) -> str:
    return "" if dim <= 2 else f" (x₁, x₂ of {dim} dims)"


# -- checking and cleaning inputs ----------------------------------------------------------------
def _points(a: Any, name: str, min_dim: int = 2) -> np.ndarray:
    """``a`` as a float64 array of shape ``(n, d)`` with ``d >= min_dim``, or a ValueError."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < min_dim:
        raise ValueError(f"{name} must have shape (n, d) with d >= {min_dim}, got {arr.shape}.")
    return arr


def _finite_rows(*arrays: np.ndarray) -> np.ndarray:
    """Indices of the rows that are finite in every array (NaN/inf never reach a figure)."""
    keep = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays:
        finite = np.isfinite(a)
        keep &= finite.all(axis=tuple(range(1, a.ndim))) if a.ndim > 1 else finite
    return np.flatnonzero(keep)


def _thin(indices: np.ndarray, max_points: int) -> np.ndarray:
    """At most ``max_points`` of ``indices``, evenly strided: deterministic, so no flicker."""
    max_points = _check_int(max_points, "max_points", 1, 10_000_000)
    if len(indices) <= max_points:
        return indices
    return indices[np.linspace(0, len(indices) - 1, max_points).astype(np.int64)]


def _check_bounds(bounds: Sequence[float]) -> Bounds:
    if len(bounds) != 4:
        raise ValueError(f"bounds must be (x_lo, x_hi, y_lo, y_hi), got {bounds!r}.")
    x_lo, x_hi, y_lo, y_hi = (float(b) for b in bounds)
    if not all(map(math.isfinite, (x_lo, x_hi, y_lo, y_hi))) or x_lo >= x_hi or y_lo >= y_hi:
        raise ValueError(f"bounds must be finite with x_lo < x_hi and y_lo < y_hi, got {bounds!r}.")
    return x_lo, x_hi, y_lo, y_hi


def _check_int(value: int, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number in [{lo}, {hi}], got {value!r}.")
    return int(value)


def floor_log_density(log_p: np.ndarray, depth: float = LOG_DENSITY_DEPTH
                      ) -> tuple[np.ndarray, int]:
    r"""A displayable log-density: clipped to ``max - depth`` and with non-finite values floored.

    Returns:
        The finite float32 array, and how many values were not finite (NaN or ±inf).
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    finite = np.isfinite(log_p)
    top = float(log_p[finite].max()) if finite.any() else 0.0
    floor = top - depth
    return _f32(np.where(finite, np.maximum(log_p, floor), floor)), int((~finite).sum())


def _not_finite_note(count: int, total: int, what: str) -> str:
    return "" if count == 0 else f" — ⚠ {what} not finite at {count} of {total} points"


# -- evaluating a flow ---------------------------------------------------------------------------
def _tensor(flow: Flow, x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=flow.loc.dtype, device=flow.loc.device)


@torch.no_grad()
def _forward(flow: Flow, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``z, log_det = f(x)`` in batches, as float64 NumPy arrays."""
    zs, lds = [], []
    for batch in _tensor(flow, x).split(EVAL_CHUNK):
        z, ld = flow(batch)
        zs.append(z)
        lds.append(ld)
    return torch.cat(zs).double().cpu().numpy(), torch.cat(lds).double().cpu().numpy()


@torch.no_grad()
def _log_prob(flow: Flow, x: np.ndarray) -> np.ndarray:
    """``flow.log_prob(x)`` in batches, as a float64 NumPy array."""
    parts = [flow.log_prob(batch) for batch in _tensor(flow, x).split(EVAL_CHUNK)]
    return torch.cat(parts).double().cpu().numpy()


def _anchor(flow: Flow, anchor: Any) -> np.ndarray:
    """Where a 2-D slice sits in the other coordinates: by default the data mean (``flow.loc``)."""
    dim = flow.config.dim
    if anchor is None:
        return flow.loc.detach().double().cpu().numpy()
    anchor = np.asarray(anchor, dtype=np.float64).reshape(-1)
    if anchor.shape != (dim,) or not np.isfinite(anchor).all():
        raise ValueError(f"anchor must be {dim} finite numbers, got shape {anchor.shape}.")
    return anchor


def _plane(xs: np.ndarray, ys: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Points ``(x₁, x₂) = (xs[j], ys[i])`` in row-major order, the rest of ``x`` at ``anchor``."""
    points = np.repeat(anchor[None, :], len(xs) * len(ys), axis=0)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points[:, 0], points[:, 1] = grid_x.ravel(), grid_y.ravel()
    return points


def _cell_centres(lo: float, hi: float, n: int) -> np.ndarray:
    return lo + (np.arange(n) + 0.5) * (hi - lo) / n


# -- 1. density ----------------------------------------------------------------------------------
def bounds_for(data: Any, margin: float = 0.15) -> Bounds:
    r"""The plotting box ``(x_lo, x_hi, y_lo, y_hi)`` around the first two coordinates of data.

    Arguments:
        data: points of shape ``(n, d)``, ``d >= 2``; rows that are not finite are ignored.
        margin: padding on each side, as a fraction of the data's range.

    Example:
        >>> bounds_for(np.array([[0.0, 0.0], [1.0, 2.0]]), margin=0.5)
        (-0.5, 1.5, -1.0, 3.0)
    """
    points = _points(data, "data")[:, :2]
    points = points[_finite_rows(points)]
    if len(points) == 0:
        raise ValueError("data has no finite points to take bounds from.")
    if not (math.isfinite(margin) and 0 <= margin <= 10):
        raise ValueError(f"margin must be in [0, 10], got {margin!r}.")
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = np.where(hi > lo, margin * (hi - lo), 1.0)
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0]),
            float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def density_grid(flow: Flow, bounds: Sequence[float], resolution: int = 200,
                 anchor: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The model's log-density on a ``resolution × resolution`` grid of cell centres.

    Arguments:
        flow: the flow; it is evaluated under ``torch.no_grad()`` in its own dtype.
        bounds: ``(x_lo, x_hi, y_lo, y_hi)``; the cells tile this box exactly.
        resolution: cells per axis, in [2, 1000].
        anchor: for ``dim > 2``, the values of the other coordinates (default: the data mean,
            ``flow.loc``), so the grid is a 2-D slice.

    Returns:
        ``xs`` (resolution,), ``ys`` (resolution,) and ``log_p`` (resolution, resolution), float32,
        with ``log_p[i, j]`` at ``(xs[j], ys[i])``. ``log_p`` is raw: it may hold -inf or NaN
        where the model does; :func:`floor_log_density` makes it displayable.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> xs, ys, log_p = density_grid(flow, (-3, 3, -3, 3), resolution=50)
        >>> log_p.shape
        (50, 50)
    """
    xs, ys, plane = _grid(flow, bounds, resolution, anchor)
    log_p = _log_prob(flow, plane).reshape(len(ys), len(xs))
    return _f32(xs), _f32(ys), _f32(log_p)


def _grid(flow: Flow, bounds: Sequence[float], resolution: int, anchor: Any
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell centres ``xs, ys`` tiling ``bounds``, and the full-dimensional points of the grid."""
    x_lo, x_hi, y_lo, y_hi = _check_bounds(bounds)
    resolution = _check_int(resolution, "resolution", 2, 1000)
    xs, ys = _cell_centres(x_lo, x_hi, resolution), _cell_centres(y_lo, y_hi, resolution)
    return xs, ys, _plane(xs, ys, _anchor(flow, anchor))


def _default_bounds(flow: Flow) -> Bounds:
    loc = flow.loc.detach().double().cpu().numpy()[:2]
    scale = flow.scale.detach().double().cpu().numpy()[:2]
    return (float(loc[0] - 4 * scale[0]), float(loc[0] + 4 * scale[0]),
            float(loc[1] - 4 * scale[1]), float(loc[1] + 4 * scale[1]))


def _overlay(points: np.ndarray | None, max_points: int, name: str, colour: str,
             size: float = 3.0) -> list[go.Scatter]:
    if points is None:
        return []
    keep = _thin(_finite_rows(points), max_points)  # a row broken anywhere is a broken point
    return [go.Scatter(x=_f32(points[keep, 0]), y=_f32(points[keep, 1]), mode="markers",
                       name=name, marker={"color": colour, "size": size, "line": {"width": 0}},
                       hoverinfo="skip")]


def density_figure(flow: Flow, data: Any = None, bounds: Sequence[float] | None = None,
                   resolution: int = 200, log_scale: bool = True, title: str | None = None,
                   max_points: int = MAX_POINTS) -> go.Figure:
    r"""The model's density ``p(x)`` as a heatmap, with the data overlaid.

    Arguments:
        flow: the flow.
        data: optional points ``(n, dim)`` shown as small semi-transparent markers; they also
            set the default bounds and, for ``dim > 2``, the slice (through their mean).
        bounds: ``(x_lo, x_hi, y_lo, y_hi)``; default: :func:`bounds_for` the data, or
            ``loc ± 4 scale`` of the flow's standardisation.
        resolution: heatmap cells per axis.
        log_scale: colour by ``log p(x)`` (floored at ``max - 12`` nats) or by ``p(x)``.
        title: the figure title; a default says what is shown.
        max_points: at most this many data points are drawn.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> data = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
        >>> fig = density_figure(flow, data, resolution=50, log_scale=False)
    """
    dim = flow.config.dim
    points = None if data is None else _points(data, "data")
    if points is not None and points.shape[1] != dim:
        raise ValueError(f"data must have {dim} columns like the flow, got {points.shape[1]}.")
    if bounds is None:
        bounds = bounds_for(points) if points is not None else _default_bounds(flow)
    bounds = _check_bounds(bounds)
    anchor = None
    if points is not None and dim > 2:
        finite = points[_finite_rows(points)]
        anchor = finite.mean(axis=0) if len(finite) else None
    xs, ys, log_p = density_grid(flow, bounds, resolution, anchor)
    shown, bad = floor_log_density(log_p)
    if log_scale:
        colour, bar, fmt = shown, "log p(x)", "log p = %{z:.2f} nats"
    else:
        colour, bar, fmt = _f32(np.exp(np.minimum(shown, 80.0))), "p(x)", "p = %{z:.3g}"
    if title is None:
        title = "model density p(x)" if dim == 2 else (
            f"model density, slice through the data mean of x₃…x{_sub(dim)}")
        title += _not_finite_note(bad, log_p.size, "log p(x)")
    heatmap = go.Heatmap(
        x=xs, y=ys, z=colour, colorscale=DENSITY_SCALE, name="model",
        colorbar={"title": {"text": bar, "side": "right"}, "thickness": 12, "len": 0.9},
        hovertemplate=f"x₁ = %{{x:.2f}}<br>x₂ = %{{y:.2f}}<br>{fmt}<extra></extra>",
    )
    x_lo, x_hi, y_lo, y_hi = bounds
    return go.Figure(
        data=[heatmap, *_overlay(points, max_points, "data", OVERLAY_COLOUR)],
        layout=_layout("density", title, "x₁", "x₂", showlegend=False,
                       xaxis={"range": [x_lo, x_hi], "showgrid": False},
                       yaxis={"range": [y_lo, y_hi], "showgrid": False}),
    )


# -- drawing a dataset ----------------------------------------------------------------------------
def drawing_grid(side: int) -> np.ndarray:
    """The centres of a ``side × side`` grid of cells on ``[-4, 4]²``, row by row from the bottom:
    point ``k`` is cell ``(k // side, k % side)`` (row from the bottom, column from the left)."""
    centres = (np.arange(side) + 0.5) / side * 8.0 - 4.0
    x, y = np.meshgrid(centres, centres)
    return np.stack([x.ravel(), y.ravel()], axis=1)


def drawn_weights(side: int, cells: Any) -> np.ndarray:
    """The drawn cells (indices into :func:`drawing_grid`) as an image-like grid of 0/1 weights,
    row 0 at the top, for :func:`flowcore.datasets.from_grid`."""
    weights = np.zeros((side, side))
    for k in cells:
        if 0 <= int(k) < side * side:
            row, col = divmod(int(k), side)
            weights[side - 1 - row, col] = 1.0
    return weights


def drawing_figure(side: int, cells: Any) -> go.Figure:
    """A canvas: every cell centre as a faint point to box- or lasso-select, the drawn ones dark."""
    grid = drawing_grid(side)
    drawn = sorted(k for k in cells if 0 <= int(k) < side * side)
    traces = [
        go.Scatter(x=_f32(grid[:, 0]), y=_f32(grid[:, 1]), mode="markers", name="canvas",
                   marker={"color": "rgba(120, 120, 120, 0.25)", "size": 5, "line": {"width": 0}},
                   hoverinfo="skip"),
        go.Scatter(x=_f32(grid[drawn, 0]), y=_f32(grid[drawn, 1]), mode="markers", name="drawn",
                   marker={"color": DATA_COLOUR, "size": 9, "symbol": "square",
                           "line": {"width": 0}}, hoverinfo="skip"),
    ]
    return go.Figure(data=traces, layout=_layout(
        "drawing", f"{len(drawn)} cells drawn", "x₁", "x₂",
        equal_aspect=True, showlegend=False, dragmode="lasso",
        xaxis={"range": [-4.2, 4.2], "showgrid": False, "zeroline": False},
        yaxis={"range": [-4.2, 4.2], "showgrid": False, "zeroline": False}))


# -- 2. samples ----------------------------------------------------------------------------------
def samples_figure(model_samples: Any, data: Any = None, max_points: int = MAX_POINTS
                   ) -> go.Figure:
    r"""Samples from the model overlaid on the real data, on the data's axes.

    Arguments:
        model_samples: ``x = f⁻¹(z)``, ``z ~ N(0, I)``, of shape ``(m, d)``.
        data: real points of shape ``(n, d)``, which set the axes range; or None to show the
            samples alone (e.g. a loaded model whose data is not at hand).
        max_points: at most this many points of each are drawn.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> data = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
        >>> fig = samples_figure(flow.sample(500).numpy(), data)
    """
    samples = _points(model_samples, "model_samples")
    points = None if data is None else _points(data, "data")
    if points is not None and samples.shape[1] != points.shape[1]:
        raise ValueError(f"model_samples and data must have the same number of columns, got "
                         f"{samples.shape[1]} and {points.shape[1]}.")
    bad = len(samples) - len(_finite_rows(samples))
    title = ("samples: model vs data" if points is not None else "samples from the model")
    title += _dims_note(samples.shape[1]) + _not_finite_note(bad, len(samples), "model samples")
    axes: dict[str, Any] = {}
    if points is not None and len(_finite_rows(points[:, :2])):
        x_lo, x_hi, y_lo, y_hi = bounds_for(points)
        axes = {"xaxis": {"range": [x_lo, x_hi]}, "yaxis": {"range": [y_lo, y_hi]}}
    traces = [*_overlay(points, max_points, "data", DATA_COLOUR, 4.0),
              *_overlay(samples, max_points, "model", MODEL_COLOUR, 4.0)]
    for trace in traces:
        trace.opacity = 0.55
    return go.Figure(data=traces, layout=_layout("samples", title, "x₁", "x₂", **axes))


def data_preview_figure(data: Any, max_points: int = MAX_POINTS, height: int = 220
                        ) -> go.Figure:
    r"""A small scatter of a dataset, for a sidebar preview.

    Arguments:
        data: points of shape ``(n, d)``; the first two coordinates are shown.
        max_points: at most this many points are drawn.
        height: the figure's height in pixels.

    Example:
        >>> fig = data_preview_figure(np.random.default_rng(0).normal(size=(500, 2)))
    """
    points = _points(data, "data")
    height = _check_int(height, "height", 100, 2000)
    title = f"{len(points):,} points" + _dims_note(points.shape[1])
    return go.Figure(
        data=_overlay(points, max_points, "data", DATA_COLOUR, 3.0),
        layout=_layout("data-preview", title, "x₁", "x₂", showlegend=False, height=height,
                       margin={"l": 35, "r": 5, "t": 30, "b": 30}, font={"size": 11}),
    )


# -- 3. latent -----------------------------------------------------------------------------------
def direction_colour(x: Any) -> np.ndarray:
    r"""Each point's angle (radians, in [-π, π]) around the mean of the standardised ``x₁, x₂``.

    A cyclic colour scale of this angle lets a region of data space be followed through the flow.
    """
    points = _points(x, "x")[:, :2]
    finite = points[_finite_rows(points)]
    mean = finite.mean(axis=0) if len(finite) else np.zeros(2)
    std = finite.std(axis=0) if len(finite) > 1 else np.ones(2)
    u = (points - mean) / np.where(std > 0, std, 1.0)
    return _f32(np.nan_to_num(np.arctan2(u[:, 1], u[:, 0])))


def _sector_traces(x: np.ndarray, y: np.ndarray, angle: np.ndarray, name: str, size: float = 4.0,
                   **common: Any) -> list[go.Scatter]:
    """Points as :data:`DIRECTION_SECTORS` traces by ``angle``, each in its colour of the cyclic
    scale. It looks like a per-point colouring, and redraws several times faster in the browser."""
    sector = np.clip(((angle + math.pi) / (2 * math.pi) * DIRECTION_SECTORS).astype(int),
                     0, DIRECTION_SECTORS - 1)
    colours = sample_colorscale(CYCLIC_SCALE, list((np.arange(DIRECTION_SECTORS) + 0.5)
                                                   / DIRECTION_SECTORS))
    return [go.Scatter(x=_f32(x[sector == k]), y=_f32(y[sector == k]), mode="markers",
                       name=name, legendgroup=name, showlegend=False,
                       marker={"color": colour, "size": size, "opacity": 0.8,
                               "line": {"width": 0}}, **common)
            for k, colour in enumerate(colours)]


def _colour_marker(colour: np.ndarray, size: float = 4.0) -> dict[str, Any]:
    return {"color": colour, "colorscale": CYCLIC_SCALE, "cmin": -math.pi, "cmax": math.pi,
            "size": size, "opacity": 0.8, "line": {"width": 0}}


def _sigma_circles(radii: Sequence[int] = (1, 2, 3), xref: str = "x", yref: str = "y"
                   ) -> tuple[list[dict], list[dict]]:
    shapes, notes = [], []
    for r in radii:
        shapes.append({"type": "circle", "xref": xref, "yref": yref, "x0": -r, "y0": -r,
                       "x1": r, "y1": r, "layer": "above",
                       "line": {"color": SIGMA_COLOUR, "width": 1.2, "dash": "dot"}})
        notes.append({"x": r / math.sqrt(2), "y": r / math.sqrt(2), "xref": xref, "yref": yref,
                      "text": f"{r}σ", "showarrow": False, "xanchor": "left",
                      "yanchor": "bottom", "font": {"size": 10, "color": SIGMA_COLOUR}})
    return shapes, notes


def _square_range(*arrays: np.ndarray, minimum: float = 3.5, maximum: float = math.inf,
                  quantile: float = 0.995) -> list[float]:
    """A symmetric range covering nearly all points, within ``[±minimum, ±maximum]``."""
    values = np.concatenate([np.abs(a[np.isfinite(a)]).ravel() for a in arrays])
    half = 1.05 * float(np.quantile(values, quantile)) if values.size else minimum
    half = min(max(minimum, half), maximum)
    return [-half, half]


def latent_figure(z: Any, x: Any, max_points: int = MAX_POINTS) -> go.Figure:
    r"""The push-forward ``z = f(x)`` of the data over the 1σ, 2σ, 3σ circles of N(0, I).

    Each point is coloured by its direction from the data mean in (standardised) data space,
    with a cyclic scale, so a region of the data can be found again in latent space.

    Arguments:
        z: latent points ``f(x)`` of shape ``(n, d)``.
        x: the data points they came from, same shape.
        max_points: at most this many points are drawn.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> data = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
        >>> z, _ = flow(torch.as_tensor(data))
        >>> fig = latent_figure(z.detach().numpy(), data)
    """
    z, x = _points(z, "z"), _points(x, "x")
    if z.shape[0] != x.shape[0]:
        raise ValueError(f"z and x must have the same number of points, got {len(z)} and {len(x)}.")
    keep = _finite_rows(z[:, :2], x[:, :2])
    bad = len(z) - len(keep)
    keep = _thin(keep, max_points)
    shapes, notes = _sigma_circles()
    span = _square_range(z[keep, :2])
    title = "latent z = f(x), coloured by direction in data space" + _dims_note(z.shape[1])
    title += _not_finite_note(bad, len(z), "z")
    traces = _sector_traces(z[keep, 0], z[keep, 1], direction_colour(x[keep]), "f(x)",
                            hovertemplate="z₁ = %{x:.2f}<br>z₂ = %{y:.2f}<extra></extra>")
    return go.Figure(
        data=traces,
        layout=_layout("latent", title, "z₁", "z₂", equal_aspect=True, showlegend=False,
                       shapes=shapes, annotations=notes,
                       xaxis={"range": span, "zeroline": False},
                       yaxis={"range": span, "zeroline": False}),
    )


# -- 4. NLL --------------------------------------------------------------------------------------
def _finite_number(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _curve(history: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of one metric, skipping records where either is missing or not finite."""
    steps, values = [], []
    for record in history:
        step, value = _finite_number(record.get("step")), _finite_number(record.get(key))
        if step is not None and value is not None:
            steps.append(step)
            values.append(value)
    return _f32(steps), _f32(values)


def _entropy_trace(entropy: float | None, steps: Sequence[np.ndarray]) -> list[go.Scatter]:
    entropy = _finite_number(entropy)
    if entropy is None:
        return []
    all_steps = np.concatenate([s for s in steps if s.size] or [np.array([0.0, 1.0])])
    lo, hi = float(all_steps.min()), float(all_steps.max())
    return [go.Scatter(x=_f32([lo, hi if hi > lo else lo + 1]), y=_f32([entropy, entropy]),
                       mode="lines", name="true entropy (KL = gap)",
                       line={"color": "#54A24B", "dash": "dash", "width": 1.5},
                       hovertemplate="true entropy = %{y:.4f} nats<extra></extra>")]


def nll_figure(history: Sequence[Mapping[str, Any]], entropy: float | None = None) -> go.Figure:
    r"""Train and test NLL (nats) against step, and the true entropy when it is known.

    The NLL is the cross-entropy ``H(p, q) = H(p) + KL(p ‖ q)``, so the gap down to the entropy
    line is the KL divergence still to be won.

    Arguments:
        history: records with ``step``, ``train_nll`` and ``test_nll`` (a missing, None or NaN
            value is skipped); other keys are ignored.
        entropy: the data's true entropy in nats, or None when it is not known.

    Example:
        >>> fig = nll_figure([{"step": 0, "train_nll": 2.9, "test_nll": None}], entropy=1.2)
    """
    train, test = _curve(history, "train_nll"), _curve(history, "test_nll")
    traces = [
        go.Scatter(x=train[0], y=train[1], mode="lines", name="train",
                   line={"color": DATA_COLOUR, "width": 1.5}),
        go.Scatter(x=test[0], y=test[1], mode="lines", name="test",
                   line={"color": MODEL_COLOUR, "width": 2}),
        *_entropy_trace(entropy, [train[0], test[0]]),
    ]
    return go.Figure(data=traces, layout=_layout("nll", "negative log-likelihood", "step",
                                                 "NLL (nats)", hovermode="x unified"))


def compare_nll_figure(runs: Mapping[str, Sequence[Mapping[str, Any]]],
                       entropy: float | None = None, key: str = "test_nll") -> go.Figure:
    r"""Several runs' NLL curves (by default the test NLL) overlaid, one colour per run.

    Arguments:
        runs: run name -> its history records (as for :func:`nll_figure`).
        entropy: the true entropy in nats, drawn as a dashed line when given.
        key: which metric of the records to plot.

    Example:
        >>> fig = compare_nll_figure({"a": [{"step": 0, "test_nll": 2.0}]})
    """
    curves = {name: _curve(history, key) for name, history in runs.items()}
    traces = [go.Scatter(x=steps, y=values, mode="lines", name=str(name))
              for name, (steps, values) in curves.items()]
    traces += _entropy_trace(entropy, [steps for steps, _ in curves.values()])
    label = key.replace("_nll", "").replace("_", " ")
    return go.Figure(data=traces, layout=_layout("compare", f"{label} NLL by run", "step",
                                                 f"{label} NLL (nats)", hovermode="x unified"))


# -- 5. inside the flow: layer by layer ----------------------------------------------------------
@torch.no_grad()
def layer_frames(flow: Flow, x: Any) -> list[tuple[str, np.ndarray]]:
    r"""Each step of ``flow.trace(x)`` as ``(name, values)``, values float32 of shape (n, dim).

    The first is the standardised data ``(x - loc) / scale`` and the last is ``z = f(x)``.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> data = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
        >>> frames = layer_frames(flow, data)
        >>> len(frames) == len(flow.layers) + 1
        True
    """
    steps = flow.trace(_tensor(flow, _points(x, "x")))
    return [(step.name, _f32(step.value.cpu().numpy())) for step in steps]


def _coupling_note(layer: torch.nn.Module, dim: int) -> str:
    """``passes x₁, transforms x₂`` for a layer with a binary ``mask`` buffer (1 = passed)."""
    mask = getattr(layer, "mask", None)
    if not isinstance(mask, torch.Tensor) or mask.shape != (dim,):
        return ""
    passed = torch.nonzero(mask > 0.5).flatten().tolist()
    changed = torch.nonzero(mask <= 0.5).flatten().tolist()
    return f": passes {_names('x', passed)}, transforms {_names('x', changed)}"


def _frame_titles(flow: Flow, names: Sequence[str]) -> list[str]:
    titles = ["standardised data (x − mean) / std"]
    for name, layer in zip(names[1:], flow.layers, strict=True):
        titles.append(f"layer {name}{_coupling_note(layer, flow.config.dim)}")
    titles[-1] += "  →  z"
    return titles


def layers_figure(flow: Flow, x: Any, colour_by: Any = None,
                  max_points: int = MAX_POINTS) -> go.Figure:
    r"""The data moving through the flow, one animation frame per layer output.

    A slider steps through the layers and a play button animates them. Every point keeps its
    colour (by default its direction in data space, see :func:`direction_colour`) in all frames.

    Arguments:
        flow: the flow.
        x: data points of shape ``(n, dim)``.
        colour_by: optional numbers of shape ``(n,)`` to colour the points by instead.
        max_points: at most this many points are drawn.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> data = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
        >>> fig = layers_figure(flow, data)
        >>> len(fig.frames) == len(flow.layers) + 1
        True
    """
    points = _points(x, "x")
    colour = None
    if colour_by is not None:
        colour = np.asarray(colour_by, dtype=np.float64).reshape(-1)
        if colour.shape != (len(points),):
            raise ValueError(f"colour_by must have shape ({len(points)},), got {colour.shape}.")
    keep = _thin(_finite_rows(points), max_points)
    frames = layer_frames(flow, points[keep])
    # A point that leaves the finite numbers in any layer is dropped from every frame.
    ok = _finite_rows(*(values[:, :2] for _, values in frames))
    if colour is not None:
        ok = ok[np.isfinite(colour[keep][ok])]
    keep, frames = keep[ok], [(name, values[ok]) for name, values in frames]
    if colour is None:
        marker = _colour_marker(direction_colour(frames[0][1]), size=5.0)
    else:
        c = colour[keep]
        marker = {"color": _f32(c), "colorscale": DENSITY_SCALE, "size": 5.0, "opacity": 0.8,
                  "line": {"width": 0}, "showscale": True,
                  "colorbar": {"thickness": 12, "len": 0.8}}
    titles = _frame_titles(flow, [name for name, _ in frames])
    span = _square_range(*(values[:, :2] for _, values in frames))
    plotly_frames = [
        go.Frame(name=name, data=[go.Scatter(x=_f32(v[:, 0]), y=_f32(v[:, 1]))],
                 layout={"title": {"text": title}})
        for (name, v), title in zip(frames, titles, strict=True)
    ]
    start = frames[0][1]
    trace = go.Scatter(x=_f32(start[:, 0]), y=_f32(start[:, 1]), mode="markers", marker=marker,
                       hovertemplate="%{x:.2f}, %{y:.2f}<extra></extra>", name="points")
    # redraw=True so each frame's title (which layer, what its mask does) is shown too.
    still = {"duration": 0, "redraw": True}
    slider = {
        "active": 0, "pad": {"t": 45, "l": 10}, "len": 0.9, "x": 0.1,
        "currentvalue": {"prefix": "layer ", "font": {"size": 12}},
        "steps": [{"label": name.split(":")[0] if i else "0", "method": "animate",
                   "args": [[name], {"mode": "immediate", "frame": still,
                                     "transition": {"duration": 300}}]}
                  for i, (name, _) in enumerate(frames)],
    }
    buttons = {
        "type": "buttons", "direction": "left", "x": 0.1, "y": 0, "xanchor": "right",
        "yanchor": "top", "pad": {"t": 55, "r": 10}, "showactive": False,
        "buttons": [
            {"label": "▶ play", "method": "animate",
             "args": [None, {"frame": {"duration": 900, "redraw": True}, "fromcurrent": True,
                             "transition": {"duration": 500, "easing": "cubic-in-out"}}]},
            {"label": "❚❚", "method": "animate",
             "args": [[None], {"mode": "immediate", "frame": still,
                               "transition": {"duration": 0}}]},
        ],
    }
    layout = _layout("layers", titles[0], "x₁ → z₁", "x₂ → z₂", equal_aspect=True,
                     showlegend=False, sliders=[slider], updatemenus=[buttons],
                     margin={"b": 120}, xaxis={"range": span}, yaxis={"range": span})
    return go.Figure(data=[trace], frames=plotly_frames, layout=layout)


# -- 6. grid deformation -------------------------------------------------------------------------
class GridDeformation(NamedTuple):
    """A regular grid in data space and its image under ``f`` (see :func:`grid_deformation`)."""

    data_paths: list[np.ndarray]  # [rows, columns]: each one path (m, 2) through all grid lines
    latent_paths: list[np.ndarray]  # the same paths mapped to z₁, z₂ (non-finite points dropped)
    cell_xs: np.ndarray  # (lines - 1,) x₁ of the cell centres
    cell_ys: np.ndarray  # (lines - 1,) x₂ of the cell centres
    centres: np.ndarray  # (k, dim) the cell centres in full data space, row-major (y, then x)
    centre_images: np.ndarray  # (k, 2) z₁, z₂ of f(centres)
    log_det: np.ndarray  # (lines - 1, lines - 1) float64 log|det J_f| at the centres


def _snake(across: np.ndarray, levels: np.ndarray, join: int) -> np.ndarray:
    """One path through every line ``y = level``, joined along the box's edges (no NaN gaps).

    Returns ``(m, 2)`` points ``(along, level)``; swap the columns for the other family.
    """
    parts = []
    for i, level in enumerate(levels):
        run = across if i % 2 == 0 else across[::-1]
        parts.append(np.column_stack([run, np.full_like(run, level)]))
        if i + 1 < len(levels):  # the joint runs along an edge of the box, itself a grid line
            edge = run[-1]
            steps = np.linspace(level, levels[i + 1], join + 2)[1:-1]
            parts.append(np.column_stack([np.full_like(steps, edge), steps]))
    return np.concatenate(parts)


def grid_deformation(flow: Flow, bounds: Sequence[float], lines: int = 15,
                     points_per_line: int = 80, anchor: Any = None) -> GridDeformation:
    r"""Push a regular grid of ``lines × lines`` lines in data space through ``z = f(x)``.

    Arguments:
        flow: the flow.
        bounds: ``(x_lo, x_hi, y_lo, y_hi)`` of the grid.
        lines: grid lines per direction, in [2, 100].
        points_per_line: samples along each line, so curved images stay smooth.
        anchor: for ``dim > 2``, the other coordinates (default: the data mean, ``flow.loc``).

    Returns:
        A :class:`GridDeformation`; its ``log_det`` is ``flow(centres)[1]`` at the cell centres.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> grid = grid_deformation(flow, (-3, 3, -3, 3), lines=5)
        >>> grid.log_det.shape
        (4, 4)
    """
    x_lo, x_hi, y_lo, y_hi = _check_bounds(bounds)
    lines = _check_int(lines, "lines", 2, 100)
    points_per_line = _check_int(points_per_line, "points_per_line", 2, 1000)
    base = _anchor(flow, anchor)
    xs, ys = np.linspace(x_lo, x_hi, lines), np.linspace(y_lo, y_hi, lines)
    join = max(1, points_per_line // (lines - 1))
    rows = _snake(np.linspace(x_lo, x_hi, points_per_line), ys, join)
    columns = _snake(np.linspace(y_lo, y_hi, points_per_line), xs, join)[:, ::-1]
    data_paths = [rows, columns]
    latent_paths = []
    for path in data_paths:
        full = np.repeat(base[None, :], len(path), axis=0)
        full[:, :2] = path
        z, _ = _forward(flow, full)
        latent_paths.append(z[_finite_rows(z[:, :2]), :2])
    cell_xs = 0.5 * (xs[1:] + xs[:-1])
    cell_ys = 0.5 * (ys[1:] + ys[:-1])
    centres = _plane(cell_xs, cell_ys, base)
    z, log_det = _forward(flow, centres)
    return GridDeformation(data_paths, latent_paths, cell_xs, cell_ys, centres, z[:, :2],
                           log_det.reshape(lines - 1, lines - 1))


def grid_deformation_figure(flow: Flow, bounds: Sequence[float], lines: int = 15,
                            anchor: Any = None) -> go.Figure:
    r"""A grid in data space (left) and its image under ``f`` in latent space (right).

    The cells are coloured by the local ``log|det J_f|`` at their centres, on a diverging scale
    around 0: red cells are stretched by ``f`` (the model puts density there), blue ones squeezed.
    In latent space the image of each cell centre carries its cell's colour.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> fig = grid_deformation_figure(flow, (-3, 3, -3, 3), lines=9)
    """
    grid = grid_deformation(flow, bounds, lines, anchor=anchor)
    finite = np.isfinite(grid.log_det)
    log_det = _f32(np.where(finite, grid.log_det, 0.0))
    limit = float(np.abs(log_det).max()) or 1.0
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("data space x", "latent space z = f(x)"))
    fig.add_trace(go.Heatmap(
        x=_f32(grid.cell_xs), y=_f32(grid.cell_ys), z=log_det, coloraxis="coloraxis",
        name="log|det J|",
        hovertemplate="x₁ = %{x:.2f}<br>x₂ = %{y:.2f}<br>log|det J| = %{z:.3f}<extra></extra>",
    ), row=1, col=1)
    line_colours = ("#333333", "#8C8C8C")
    for path, colour in zip(grid.data_paths, line_colours, strict=True):
        fig.add_trace(go.Scatter(x=_f32(path[:, 0]), y=_f32(path[:, 1]), mode="lines",
                                 line={"color": colour, "width": 1}, hoverinfo="skip"),
                      row=1, col=1)
    for path, colour in zip(grid.latent_paths, line_colours, strict=True):
        fig.add_trace(go.Scatter(x=_f32(path[:, 0]), y=_f32(path[:, 1]), mode="lines",
                                 line={"color": colour, "width": 1}, hoverinfo="skip"),
                      row=1, col=2)
    images = _finite_rows(grid.centre_images)
    fig.add_trace(go.Scatter(
        x=_f32(grid.centre_images[images, 0]), y=_f32(grid.centre_images[images, 1]),
        mode="markers", name="f(cell centres)",
        marker={"color": log_det.ravel()[images], "coloraxis": "coloraxis", "size": 6},
        hovertemplate="z₁ = %{x:.2f}<br>z₂ = %{y:.2f}<br>log|det J| = %{marker.color:.3f}"
                      "<extra></extra>",
    ), row=1, col=2)
    title = "how f deforms space: cells coloured by log|det J_f|"
    title += _not_finite_note(int((~finite).sum()), finite.size, "log|det J|")
    # The latent view frames the prior's bulk; a flow's far tails can be zoomed out to.
    span = _square_range(grid.centre_images[images], minimum=3.5, maximum=8.0, quantile=0.9)
    shapes, notes = _sigma_circles(xref="x2", yref="y2")
    x_lo, x_hi, y_lo, y_hi = _check_bounds(bounds)
    fig.update_layout(_layout(
        "grid", title, showlegend=False, margin={"t": 60}, shapes=shapes,
        annotations=[*fig.layout.annotations, *notes],
        coloraxis={"colorscale": DIVERGING_SCALE, "cmin": -limit, "cmax": limit,
                   "colorbar": {"title": {"text": "log|det J|"}, "thickness": 12}},
    ))
    fig.update_xaxes(title_text="x₁", range=[x_lo, x_hi], showgrid=False, row=1, col=1)
    fig.update_yaxes(title_text="x₂", range=[y_lo, y_hi], showgrid=False, row=1, col=1)
    fig.update_xaxes(title_text="z₁", range=span, row=1, col=2)
    fig.update_yaxes(title_text="z₂", range=span, scaleanchor="x2", scaleratio=1, row=1, col=2)
    return fig


# -- 7. one point --------------------------------------------------------------------------------
@torch.no_grad()
def point_inspection(flow: Flow, x_point: Any) -> dict[str, Any]:
    r"""Everything the flow computes for one point ``x``, layer by layer.

    Returns:
        A dict with ``x`` and ``z = f(x)`` (float64 arrays of shape (dim,)), ``log_p_z`` (the
        base log-density of z), ``layer_log_dets`` (a list of ``(name, log|det J|)``, the first
        being the standardisation), ``log_det`` (their sum) and
        ``log_p_x = log_p_z + log_det``, all in nats.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> info = point_inspection(flow, [0.5, -0.2])
        >>> round(info["log_p_z"] + info["log_det"] - info["log_p_x"], 12)
        0.0
    """
    dim = flow.config.dim
    point = np.asarray(x_point, dtype=np.float64)
    if point.size != dim or point.ndim > 2 or not np.isfinite(point).all():
        raise ValueError(f"x_point must be {dim} finite numbers, got shape {point.shape}.")
    steps = flow.trace(_tensor(flow, point.reshape(1, dim)))
    z = steps[-1].value
    log_p_z = float(standard_normal_log_prob(z)[0])
    layer_log_dets = [(step.name, float(step.log_det[0])) for step in steps]
    log_det = float(sum(ld for _, ld in layer_log_dets))
    return {
        "x": point.reshape(dim),
        "z": z[0].double().cpu().numpy(),
        "log_p_z": log_p_z,
        "layer_log_dets": layer_log_dets,
        "log_det": log_det,
        "log_p_x": log_p_z + log_det,
    }


# -- 8. truth vs model ---------------------------------------------------------------------------
def truth_figure(flow: Flow, log_density_fn: Callable[[np.ndarray], Any],
                 bounds: Sequence[float], resolution: int = 150, anchor: Any = None
                 ) -> go.Figure:
    r"""The true density, the model's, and their log-ratio, side by side.

    Arguments:
        flow: the flow.
        log_density_fn: the true ``log p*(x)`` of points ``(n, dim)`` -> ``(n,)`` (e.g. a
            dataset's ``log_density``); it must know the density.
        bounds: ``(x_lo, x_hi, y_lo, y_hi)``.
        resolution: grid cells per axis.
        anchor: for ``dim > 2``, the other coordinates of the slice (default ``flow.loc``).

    Both densities are shown as log-densities on one colour scale, floored 12 nats below the
    higher maximum; the right panel is ``log p(x) − log p*(x)`` of those floored values.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> fig = truth_figure(flow, lambda x: -0.5 * (x**2).sum(1) - np.log(2 * np.pi),
        ...                    (-3, 3, -3, 3), resolution=40)
    """
    x_lo, x_hi, y_lo, y_hi = _check_bounds(bounds)
    xs, ys, plane = _grid(flow, bounds, resolution, anchor)
    model = _log_prob(flow, plane).reshape(len(ys), len(xs))
    truth = log_density_fn(plane)
    if truth is None:
        raise ValueError("log_density_fn returned None: the true density is not known here.")
    truth = np.asarray(truth, dtype=np.float64).reshape(-1)
    if truth.shape != (plane.shape[0],):
        raise ValueError(f"log_density_fn must return shape ({plane.shape[0]},), "
                         f"got {truth.shape}.")
    truth = truth.reshape(model.shape)
    finite_max = [float(a[np.isfinite(a)].max()) for a in (truth, model) if np.isfinite(a).any()]
    top = max(finite_max) if finite_max else 0.0
    floor = top - LOG_DENSITY_DEPTH

    def shown(a: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(a), np.clip(a, floor, top), floor)

    true_shown, model_shown = shown(truth), shown(model)
    ratio = model_shown - true_shown
    limit = float(np.abs(ratio).max()) or 1.0
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.09, shared_yaxes=True,
                        subplot_titles=("true log p*(x)", "model log p(x)",
                                        "log p(x) − log p*(x)"))
    hover = "x₁ = %{x:.2f}<br>x₂ = %{y:.2f}<br>%{z:.2f} nats<extra></extra>"
    for col, (z, axis) in enumerate([(true_shown, "coloraxis"), (model_shown, "coloraxis"),
                                     (ratio, "coloraxis2")], start=1):
        fig.add_trace(go.Heatmap(x=_f32(xs), y=_f32(ys), z=_f32(z), coloraxis=axis,
                                 hovertemplate=hover),
                      row=1, col=col)
        fig.update_xaxes(title_text="x₁", range=[x_lo, x_hi], showgrid=False, row=1, col=col)
    fig.update_yaxes(range=[y_lo, y_hi], showgrid=False)
    fig.update_yaxes(title_text="x₂", row=1, col=1)
    title = "true density vs model" + ("" if flow.config.dim == 2 else
                                        " (slice through the data mean)")
    fig.update_layout(_layout(
        "truth", title, margin={"t": 60},
        coloraxis={"colorscale": DENSITY_SCALE, "cmin": floor, "cmax": top,
                   "colorbar": {"title": {"text": "log p"}, "thickness": 10, "len": 0.9,
                                "x": fig.layout.xaxis2.domain[1] + 0.01, "xanchor": "left"}},
        coloraxis2={"colorscale": DIVERGING_SCALE, "cmin": -limit, "cmax": limit,
                    "colorbar": {"title": {"text": "nats"}, "thickness": 10, "len": 0.9}},
    ))
    return fig


__all__ = [
    "GridDeformation",
    "bounds_for",
    "compare_nll_figure",
    "data_preview_figure",
    "density_figure",
    "density_grid",
    "direction_colour",
    "floor_log_density",
    "grid_deformation",
    "grid_deformation_figure",
    "latent_figure",
    "layer_frames",
    "layers_figure",
    "nll_figure",
    "point_inspection",
    "samples_figure",
    "truth_figure",
    "drawing_figure",
    "drawing_grid",
    "drawn_weights",
]
