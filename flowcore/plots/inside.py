r"""Inside the flow: the data moving layer by layer (:func:`layers_figure`), model samples pulled
back from the latent (:func:`pull_back_figure`), one stage of either (:func:`show_frame`), and
how ``f`` deforms a grid (:func:`grid_deformation_figure`). The numbers come from
:mod:`flowcore.analysis`.

Layers are counted from 1 in the order ``f`` applies them; frame 0 is the standardised data.

Example:
    >>> import flowcore as fc, numpy as np
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    >>> fig = layers_figure(flow, np.random.default_rng(0).normal(size=(50, 2)))
    >>> [frame.name for frame in fig.frames]
    ['standardise', '1: affine coupling', '2: affine coupling']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flowcore.analysis import (
    Frame,
    as_points,
    check_bounds,
    finite_rows,
    grid_deformation,
    layer_frames,
    pull_back_frames,
    thin,
)
from flowcore.flows.base import Flow
from flowcore.plots.style import (
    DENSITY_SCALE,
    DIVERGING_SCALE,
    MAX_POINTS,
    coordinate_names,
    cyclic_marker,
    direction_colour,
    f32,
    layout,
    not_finite_note,
    sigma_circles,
    square_range,
)


def _stage_title(flow: Flow, k: int) -> str:
    """What frame ``k`` holds: the standardised data (0) or the output of layer ``k``, with what
    a coupling layer's mask passes through and transforms."""
    if k == 0:
        return "standardised data (x − mean) / std"
    layer = flow.layers[k - 1]
    title = f"layer {k}: {layer.label}"
    mask = layer.coupling_mask()
    if mask is not None:
        b = mask.cpu().numpy()
        title += (f": passes {coordinate_names('x', np.flatnonzero(b > 0.5))}, "
                  f"transforms {coordinate_names('x', np.flatnonzero(b <= 0.5))}")
    return title


def _finite(frames: list[Frame], ok: np.ndarray) -> list[Frame]:
    """The frames with only the rows ``ok``."""
    return [frame._replace(values=frame.values[ok]) for frame in frames]


def _animation(frames: list[Frame], titles: Sequence[str], marker: dict[str, Any], panel: str,
               axis_titles: tuple[str, str]) -> go.Figure:
    """One animation frame per stage, a slider over them and a play button; frame 0 is shown."""
    span = square_range(*(frame.values[:, :2] for frame in frames))
    plotly_frames = [
        go.Frame(name=frame.name, data=[go.Scatter(x=f32(frame.values[:, 0]),
                                                   y=f32(frame.values[:, 1]))],
                 layout={"title": {"text": title}})
        for frame, title in zip(frames, titles, strict=True)
    ]
    start = frames[0].values
    trace = go.Scatter(x=f32(start[:, 0]), y=f32(start[:, 1]), mode="markers", marker=marker,
                       hovertemplate="%{x:.2f}, %{y:.2f}<extra></extra>", name="points")
    # redraw=True so each frame's title (which layer, what its mask does) is shown too.
    still = {"duration": 0, "redraw": True}
    slider = {
        "active": 0, "pad": {"t": 45, "l": 10}, "len": 0.9, "x": 0.1,
        "currentvalue": {"prefix": "layer ", "font": {"size": 12}},
        "steps": [{"label": str(frame.layer), "method": "animate",
                   "args": [[frame.name], {"mode": "immediate", "frame": still,
                                           "transition": {"duration": 300}}]}
                  for frame in frames],
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
    fig_layout = layout(panel, titles[0], *axis_titles, equal_aspect=True, showlegend=False,
                        sliders=[slider], updatemenus=[buttons], margin={"b": 120},
                        xaxis={"range": span}, yaxis={"range": span})
    return go.Figure(data=[trace], frames=plotly_frames, layout=fig_layout)


def layers_figure(flow: Flow, x: Any, colour_by: Any = None,
                  max_points: int = MAX_POINTS) -> go.Figure:
    r"""The data moving through the flow, one animation frame per layer output.

    A slider steps through the layers and a play button animates them. Every point keeps its
    colour (by default its direction in data space, see
    :func:`~flowcore.plots.style.direction_colour`) in all frames; a point that leaves the finite
    numbers in any layer is dropped from every frame.

    Arguments:
        flow: the flow.
        x: data points of shape ``(n, dim)``.
        colour_by: optional numbers of shape ``(n,)`` to colour the points by instead.
        max_points: at most this many points are drawn.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> data = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
        >>> len(layers_figure(flow, data).frames) == len(flow.layers) + 1
        True
    """
    points = as_points(x, "x")
    colour = None
    if colour_by is not None:
        colour = np.asarray(colour_by, dtype=np.float64).reshape(-1)
        if colour.shape != (len(points),):
            raise ValueError(f"colour_by must have shape ({len(points)},), got {colour.shape}.")
    keep = thin(finite_rows(points), max_points)
    frames = layer_frames(flow, points[keep])
    ok = finite_rows(*(frame.values[:, :2] for frame in frames))
    if colour is None:
        frames = _finite(frames, ok)
        marker = cyclic_marker(direction_colour(frames[0].values), size=5.0)
    else:
        ok = ok[np.isfinite(colour[keep][ok])]
        frames = _finite(frames, ok)
        marker = {"color": f32(colour[keep][ok]), "colorscale": DENSITY_SCALE, "size": 5.0,
                  "opacity": 0.8, "line": {"width": 0}, "showscale": True,
                  "colorbar": {"thickness": 12, "len": 0.8}}
    titles = [_stage_title(flow, frame.layer) for frame in frames]
    titles[-1] += "  →  z"
    return _animation(frames, titles, marker, "layers", ("x₁ → z₁", "x₂ → z₂"))


def pull_back_figure(flow: Flow, n: int = MAX_POINTS, seed: int = 0) -> go.Figure:
    r"""Model samples pulled back from ``z ~ N(0, I)`` to data space, one frame per layer.

    The frames run backwards through :func:`layers_figure`: the first is ``z``, each next one
    undoes one more layer of ``f``, and the last is the sample in standardised data units. Frame
    names are those of the forward figure (``"standardise"``, ``"1: …"``, …), so a frame shows
    the same stage of the flow in both directions. Points are coloured by their direction in
    latent space, where they start.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> [frame.name for frame in pull_back_figure(flow, n=100).frames]
        ['2: affine coupling', '1: affine coupling', 'standardise']
    """
    z, frames = pull_back_frames(flow, n, seed)
    angle = direction_colour(z)
    ok = finite_rows(*(frame.values[:, :2] for frame in frames))
    frames = _finite(frames, ok)
    titles = ["z ~ N(0, I): model samples start here"]
    for frame in frames[1:]:  # frame.layer is the layer whose output it is: layer + 1 is undone
        titles.append("undo " + _stage_title(flow, frame.layer + 1)
                      + ("  →  standardised x" if frame.layer == 0 else ""))
    return _animation(frames, titles, cyclic_marker(angle[ok], size=5.0), "layers-pull-back",
                      ("z₁ → x₁", "z₂ → x₂"))


def show_frame(fig: go.Figure, name: str) -> go.Figure:
    r"""A copy of an animated figure of this module showing frame ``name``.

    The visible points, the title and the figure's own slider all move to that frame, so the
    play button animates on from there.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> fig = layers_figure(flow, np.random.default_rng(0).normal(size=(50, 2)))
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
    log_det = f32(np.where(finite, grid.log_det, 0.0))
    limit = float(np.abs(log_det).max()) or 1.0
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("data space x", "latent space z = f(x)"))
    fig.add_trace(go.Heatmap(
        x=f32(grid.cell_xs), y=f32(grid.cell_ys), z=log_det, coloraxis="coloraxis",
        name="log|det J|",
        hovertemplate="x₁ = %{x:.2f}<br>x₂ = %{y:.2f}<br>log|det J| = %{z:.3f}<extra></extra>",
    ), row=1, col=1)
    line_colours = ("#333333", "#8C8C8C")
    for path, colour in zip(grid.data_paths, line_colours, strict=True):
        fig.add_trace(go.Scatter(x=f32(path[:, 0]), y=f32(path[:, 1]), mode="lines",
                                 line={"color": colour, "width": 1}, hoverinfo="skip"),
                      row=1, col=1)
    for path, colour in zip(grid.latent_paths, line_colours, strict=True):
        fig.add_trace(go.Scatter(x=f32(path[:, 0]), y=f32(path[:, 1]), mode="lines",
                                 line={"color": colour, "width": 1}, hoverinfo="skip"),
                      row=1, col=2)
    images = finite_rows(grid.centre_images)
    fig.add_trace(go.Scatter(
        x=f32(grid.centre_images[images, 0]), y=f32(grid.centre_images[images, 1]),
        mode="markers", name="f(cell centres)",
        marker={"color": log_det.ravel()[images], "coloraxis": "coloraxis", "size": 6},
        hovertemplate="z₁ = %{x:.2f}<br>z₂ = %{y:.2f}<br>log|det J| = %{marker.color:.3f}"
                      "<extra></extra>",
    ), row=1, col=2)
    title = "how f deforms space: cells coloured by log|det J_f|"
    title += not_finite_note(int((~finite).sum()), finite.size, "log|det J|")
    # The latent view frames the prior's bulk; a flow's far tails can be zoomed out to.
    span = square_range(grid.centre_images[images], minimum=3.5, maximum=8.0, quantile=0.9)
    shapes, notes = sigma_circles(xref="x2", yref="y2")
    x_lo, x_hi, y_lo, y_hi = check_bounds(bounds)
    fig.update_layout(layout(
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


