r"""Heatmaps of a density: the model's (:func:`density_figure`), the same with click targets for
the "Inside the flow" page (:func:`clickable_density_figure`), and truth vs model
(:func:`truth_figure`). For ``dim > 2`` they show a 2-D slice through the data mean.

Example:
    >>> import flowcore as fc, numpy as np
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    >>> data = np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32)
    >>> density_figure(flow, data, resolution=50).layout.uirevision
    'density'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcore import analysis
from flowcore.config import check_range
from flowcore.flows.base import Flow
from flowcore.plots.style import (
    DENSITY_SCALE,
    DIVERGING_SCALE,
    LOG_DENSITY_DEPTH,
    MAX_POINTS,
    OVERLAY_COLOUR,
    SMOOTH_BELOW,
    f32,
    floor_log_density,
    layout,
    not_finite_note,
    points_trace,
    subscript,
)

#: The invisible click targets of :func:`clickable_density_figure`, per axis.
CLICK_TARGETS = 60


def _density_traces(flow: Flow, data: Any, bounds: Sequence[float] | None, resolution: int,
                    log_scale: bool, title: str | None, max_points: int
                    ) -> tuple[list[go.BaseTraceType], dict[str, Any]]:
    """The heatmap and data overlay of :func:`density_figure`, and its layout."""
    dim = flow.config.dim
    points = None if data is None else analysis.as_points(data, "data")
    if points is not None and points.shape[1] != dim:
        raise ValueError(f"data must have {dim} columns like the flow, got {points.shape[1]}.")
    if bounds is None and points is not None:
        bounds = analysis.bounds_for(points)
    elif bounds is None:
        bounds = analysis.default_bounds(flow)
    x_lo, x_hi, y_lo, y_hi = analysis.check_bounds(bounds)
    anchor = None
    if points is not None and dim > 2:
        finite = points[analysis.finite_rows(points)]
        anchor = finite.mean(axis=0) if len(finite) else None
    xs, ys, log_p = analysis.density_grid(flow, (x_lo, x_hi, y_lo, y_hi), resolution, anchor)
    shown, bad = floor_log_density(log_p)
    if log_scale:
        colour, bar, fmt = shown, "log p(x)", "log p = %{z:.2f} nats"
    else:
        colour, bar, fmt = f32(np.exp(np.minimum(shown, 80.0))), "p(x)", "p = %{z:.3g}"
    if title is None:
        title = "model density p(x)" if dim == 2 else (
            f"model density, slice through the data mean of x₃…x{subscript(dim)}")
        title += not_finite_note(bad, log_p.size, "log p(x)")
    heatmap = go.Heatmap(
        x=xs, y=ys, z=colour, colorscale=DENSITY_SCALE, name="model",
        zsmooth="best" if resolution < SMOOTH_BELOW else False,
        colorbar={"title": {"text": bar, "side": "right"}, "thickness": 12, "len": 0.9},
        hovertemplate=f"x₁ = %{{x:.2f}}<br>x₂ = %{{y:.2f}}<br>{fmt}<extra></extra>",
    )
    traces = [heatmap, *points_trace(points, max_points, "data", OVERLAY_COLOUR)]
    return traces, layout("density", title, "x₁", "x₂", showlegend=False,
                          xaxis={"range": [x_lo, x_hi], "showgrid": False},
                          yaxis={"range": [y_lo, y_hi], "showgrid": False})


def density_figure(flow: Flow, data: Any = None, bounds: Sequence[float] | None = None,
                   resolution: int = 200, log_scale: bool = True, title: str | None = None,
                   max_points: int = MAX_POINTS) -> go.Figure:
    r"""The model's density ``p(x)`` as a heatmap, with the data overlaid.

    Arguments:
        flow: the flow.
        data: optional points ``(n, dim)`` shown as small semi-transparent markers; they also
            set the default bounds and, for ``dim > 2``, the slice (through their mean).
        bounds: ``(x_lo, x_hi, y_lo, y_hi)``; default: :func:`~flowcore.analysis.bounds_for`
            the data, or ``loc ± 4 scale`` of the flow's standardisation.
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
    traces, fig_layout = _density_traces(flow, data, bounds, resolution, log_scale, title,
                                         max_points)
    return go.Figure(data=traces, layout=fig_layout)


def clickable_density_figure(flow: Flow, data: Any = None, bounds: Sequence[float] | None = None,
                             resolution: int = 150, point: Sequence[float] | None = None,
                             targets: int = CLICK_TARGETS) -> go.Figure:
    r"""The :func:`density_figure` with a grid of invisible points to click on, and a marker.

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
    targets = check_range("targets", targets, 2, 300, whole=True)
    traces, fig_layout = _density_traces(flow, data, bounds, resolution, True, None, MAX_POINTS)
    for trace in traces[1:]:  # the data overlay: not dimmed when a target is selected
        trace.unselected = {"marker": {"opacity": 1.0}}
    if point is not None:
        px, py = (float(v) for v in np.asarray(point, dtype=np.float64).reshape(-1)[:2])
        traces.append(go.Scatter(
            x=f32([px]), y=f32([py]), mode="markers", name="inspected point",
            marker={"symbol": "x", "size": 12, "color": "white",
                    "line": {"color": "black", "width": 1.5}},
            hovertemplate="inspected x = (%{x:.3f}, %{y:.3f})<extra></extra>",
        ))
    x_lo, x_hi = fig_layout["xaxis"]["range"]
    y_lo, y_hi = fig_layout["yaxis"]["range"]
    grid_x, grid_y = np.meshgrid(analysis.cell_centres(x_lo, x_hi, targets),
                                 analysis.cell_centres(y_lo, y_hi, targets))
    invisible = {"marker": {"opacity": 0}}
    traces.append(go.Scatter(
        x=f32(grid_x.ravel()), y=f32(grid_y.ravel()), mode="markers",
        name="click targets", marker={"size": 8, "opacity": 0, "color": "white"},
        selected=invisible, unselected=invisible,
        hovertemplate="x₁ = %{x:.2f}<br>x₂ = %{y:.2f}<br>click to inspect<extra></extra>",
    ))
    return go.Figure(data=traces, layout={**fig_layout, "clickmode": "event+select",
                                          "dragmode": "pan"})


def _on_one_scale(*log_densities: np.ndarray) -> tuple[list[np.ndarray], tuple[float, float]]:
    """Log-densities clipped to one range, from the highest finite value down
    ``LOG_DENSITY_DEPTH`` nats (non-finite values at the floor), and that range."""
    finite_max = [float(a[np.isfinite(a)].max()) for a in log_densities if np.isfinite(a).any()]
    top = max(finite_max) if finite_max else 0.0
    floor = top - LOG_DENSITY_DEPTH
    return [np.where(np.isfinite(a), np.clip(a, floor, top), floor)
            for a in log_densities], (floor, top)


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

    Both densities are shown as log-densities on one colour scale and range (one colour bar),
    floored 12 nats below the higher maximum; the right panel is ``log p(x) − log p*(x)`` of
    those floored values. Every panel has equal aspect and the same box.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> fig = truth_figure(flow, lambda x: -0.5 * (x**2).sum(1) - np.log(2 * np.pi),
        ...                    (-3, 3, -3, 3), resolution=40)
    """
    x_lo, x_hi, y_lo, y_hi = analysis.check_bounds(bounds)
    grid = analysis.truth_grid(flow, log_density_fn, bounds, resolution, anchor)
    (true_shown, model_shown), (floor, top) = _on_one_scale(grid.truth, grid.model)
    ratio = model_shown - true_shown
    limit = float(np.abs(ratio).max()) or 1.0
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.09, shared_yaxes=True,
                        subplot_titles=("true log p*(x)", "model log p(x)",
                                        "log p(x) − log p*(x)"))
    hover = "x₁ = %{x:.2f}<br>x₂ = %{y:.2f}<br>%{z:.2f} nats<extra></extra>"
    for col, (z, axis) in enumerate([(true_shown, "coloraxis"), (model_shown, "coloraxis"),
                                     (ratio, "coloraxis2")], start=1):
        fig.add_trace(go.Heatmap(x=f32(grid.xs), y=f32(grid.ys), z=f32(z), coloraxis=axis,
                                 hovertemplate=hover),
                      row=1, col=col)
        # equal aspect in every panel: a unit of x₁ is as long as a unit of x₂
        fig.update_xaxes(title_text="x₁", range=[x_lo, x_hi], showgrid=False, scaleanchor="y",
                         scaleratio=1, constrain="domain", row=1, col=col)
    fig.update_yaxes(range=[y_lo, y_hi], showgrid=False, constrain="domain")
    fig.update_yaxes(title_text="x₂", row=1, col=1)
    # Equal aspect fixes each panel's shape; size the figure to it (panels are ~280 px wide) so a
    # wide box does not leave a band of white above and below.
    height = round(110 + 280 * min(max((y_hi - y_lo) / (x_hi - x_lo), 0.5), 1.5))
    title = "true density vs model" + ("" if flow.config.dim == 2 else
                                        " (slice through the data mean)")
    fig.update_layout(layout(
        "truth", title, margin={"t": 60}, height=height,
        coloraxis={"colorscale": DENSITY_SCALE, "cmin": floor, "cmax": top,
                   "colorbar": {"title": {"text": "log p"}, "thickness": 10, "len": 0.9,
                                "x": fig.layout.xaxis2.domain[1] + 0.01, "xanchor": "left"}},
        coloraxis2={"colorscale": DIVERGING_SCALE, "cmin": -limit, "cmax": limit,
                    "colorbar": {"title": {"text": "nats"}, "thickness": 10, "len": 0.9}},
    ))
    return fig
