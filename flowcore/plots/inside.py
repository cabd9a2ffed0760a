r"""Inside the flow: the data moving layer by layer (:func:`layers_figure`), model samples pulled
back from the latent (:func:`pull_back_figure`), one still of either (:func:`show_frame`,
:func:`frame_labels`), and
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

import math
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
    mean_layer_log_dets,
    pull_back_samples,
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


def _step_log_dets(flow: Flow, x: np.ndarray) -> list[float]:
    """Each trace step's mean ``log|det J|`` over data points ``x`` (NaN when there are none)."""
    if len(x) == 0:
        return [math.nan] * (len(flow.layers) + 1)
    return [mean for _, mean in mean_layer_log_dets(flow, x)]


def _frame_box(frames: list[Frame], quantile: float = 0.005, margin: float = 0.15
               ) -> tuple[list[float], list[float]]:
    """One square box for every frame: the ``quantile … 1 − quantile`` range of all frames'
    points on each axis, widened by ``margin`` of the span on each side and made square around
    its centre. Shared by all frames so the animation does not jump; a few far points (a flow's
    tails) are left outside rather than shrinking the bulk to a dot."""
    points = np.concatenate([frame.values[:, :2] for frame in frames])
    points = points[finite_rows(points)]
    if len(points) == 0:
        return [-3.0, 3.0], [-3.0, 3.0]
    lo, hi = np.quantile(points, [quantile, 1 - quantile], axis=0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2 * (1 + 2 * margin), 0.5)
    return ([float(centre[0]) - half, float(centre[0]) + half],
            [float(centre[1]) - half, float(centre[1]) + half])


def _titled(title: str, note: str) -> str:
    """A frame title with a smaller second line."""
    return f"{title}<br><sup>{note}</sup>"


def _animation(frames: list[Frame], titles: Sequence[str], labels: Sequence[str],
               marker: dict[str, Any], panel: str, axis_titles: tuple[str, str]) -> go.Figure:
    """One animation frame per stage, a slider over them and a play button; frame 0 is shown."""
    x_range, y_range = _frame_box(frames)
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
        "currentvalue": {"prefix": "", "font": {"size": 12}},
        "steps": [{"label": label, "method": "animate",
                   "args": [[frame.name], {"mode": "immediate", "frame": still,
                                           "transition": {"duration": 300}}]}
                  for frame, label in zip(frames, labels, strict=True)],
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
    # constrain="domain": equal aspect shrinks the plot area to a square instead of widening
    # the x range of a wide chart (a ±3 cloud drawn on a −12…12 axis).
    fig_layout = layout(panel, titles[0], *axis_titles, equal_aspect=True, showlegend=False,
                        sliders=[slider], updatemenus=[buttons], height=620,
                        margin={"t": 70, "b": 120},
                        xaxis={"range": x_range, "constrain": "domain"},
                        yaxis={"range": y_range, "constrain": "domain"})
    return go.Figure(data=[trace], frames=plotly_frames, layout=fig_layout)


def layers_figure(flow: Flow, x: Any, colour_by: Any = None,
                  max_points: int = MAX_POINTS) -> go.Figure:
    r"""The data moving through the flow, one animation frame per layer output.

    A slider steps through the layers and a play button animates them. Each frame's title says
    what the step into it does and its mean ``log|det J|`` over the points drawn (for frame 0,
    the standardisation's, the same for every point). Every point keeps its colour (by default
    its direction in data space, see :func:`~flowcore.plots.style.direction_colour`) in all
    frames; a point that leaves the finite numbers in any layer is dropped from every frame. All
    frames share one square box, from the points' quantiles.

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
    means = _step_log_dets(flow, points[keep][ok])
    n = len(frames[0].values)
    titles = [_titled(_stage_title(flow, 0),
                      f"the standardisation's log|det J| = −Σ log σᵢ = {means[0]:+.3f} nats, "
                      "the same for every point")]
    titles += [_titled(_stage_title(flow, frame.layer) + ("  →  z" if k == len(frames) - 1
                                                          else ""),
                       f"mean log|det J| of this layer over these {n:,} points: "
                       f"{means[frame.layer]:+.3f} nats")
               for k, frame in enumerate(frames) if k > 0]
    labels = ["standardised x"] + [f"layer {frame.layer}" for frame in frames[1:]]
    if len(labels) > 1:
        labels[-1] += " → z"
    return _animation(frames, titles, labels, marker, "layers", ("x₁ → z₁", "x₂ → z₂"))


def pull_back_figure(flow: Flow, n: int = MAX_POINTS, seed: int = 0) -> go.Figure:
    r"""Model samples pulled back from ``z ~ N(0, I)`` to data space, one frame per layer.

    The frames run backwards through :func:`layers_figure`: the first is ``z`` (the start, so no
    step and no ``log|det J|``), each next one undoes one more layer of ``f`` and its title gives
    the mean ``log|det J|`` of that undoing over the samples (minus the layer's own), and the
    last is the sample in standardised data units. Frame names are those of the forward figure
    (``"standardise"``, ``"1: …"``, …), so a frame shows the same stage of the flow in both
    directions. Points are coloured by their direction in latent space, where they start.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> [frame.name for frame in pull_back_figure(flow, n=100).frames]
        ['2: affine coupling', '1: affine coupling', 'standardise']
    """
    z, x = pull_back_samples(flow, n, seed)
    frames = layer_frames(flow, x)[::-1]
    angle = direction_colour(z)
    ok = finite_rows(x, *(frame.values[:, :2] for frame in frames))
    frames = _finite(frames, ok)
    means = _step_log_dets(flow, x[ok])
    count = len(ok)
    titles = [_titled("z ~ N(0, I): model samples start here",
                      "the start: no step yet, so no log|det J|")]
    for frame in frames[1:]:  # frame.layer is the layer whose output it is: layer + 1 is undone
        undone = frame.layer + 1
        titles.append(_titled(
            "undo " + _stage_title(flow, undone)
            + ("  →  standardised x" if frame.layer == 0 else ""),
            f"mean log|det J| of undoing layer {undone} over these {count:,} samples: "
            f"{0.0 - means[undone]:+.3f} nats (minus the layer's own)"))
    labels = ["z"] + [f"undo layer {frame.layer + 1}" for frame in frames[1:]]
    if len(labels) > 1:
        labels[-1] += " → x"
    return _animation(frames, titles, labels, cyclic_marker(angle[ok], size=5.0),
                      "layers-pull-back", ("z₁ → x₁", "z₂ → x₂"))


def frame_labels(fig: go.Figure) -> list[str]:
    r"""The short name of each frame of a figure of :func:`layers_figure` or
    :func:`pull_back_figure`, in order (its slider's labels): ``"standardised x"``,
    ``"layer 1"``, …, or ``"z"``, ``"undo layer 2"``, ….

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> frame_labels(pull_back_figure(flow, n=50))
        ['z', 'undo layer 2', 'undo layer 1 → x']
    """
    return [step.label for step in fig.layout.sliders[0].steps]


def show_frame(fig: go.Figure, name: str) -> go.Figure:
    r"""One still of an animated figure of this module: frame ``name``'s points and title, in
    the same box, without the animation (no frames, slider or play button).

    A page shows this and picks the frame with its own control, so there is only one control
    to follow; the animated figure itself is for a standalone download.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> fig = layers_figure(flow, np.random.default_rng(0).normal(size=(50, 2)))
        >>> still = show_frame(fig, "2: affine coupling")
        >>> len(still.frames), still.layout.sliders, still.layout.updatemenus
        (0, (), ())
    """
    names = [frame.name for frame in fig.frames]
    if name not in names:
        raise ValueError(f"name must be one of the figure's frames {names}, got {name!r}.")
    frame = fig.frames[names.index(name)]
    still = {key: value for key, value in fig.layout.to_plotly_json().items()
             if key not in ("sliders", "updatemenus")}
    out = go.Figure(data=fig.data, layout=still)
    out.data[0].x, out.data[0].y = frame.data[0].x, frame.data[0].y
    out.update_layout(title_text=frame.layout.title.text, margin_b=45, height=540)
    return out


def grid_deformation_figure(flow: Flow, bounds: Sequence[float], lines: int = 15,
                            anchor: Any = None) -> go.Figure:
    r"""A grid in data space (left) and its image under ``f`` in latent space (right).

    The data-space cells are coloured by the local ``log|det J_f|`` at their centres, on a
    diverging scale around 0 whose colour bar sits beside them: red cells are stretched by ``f``
    (the model puts density there), blue ones squeezed. The latent panel shows the grid lines'
    images and the 1σ, 2σ, 3σ circles of the prior.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> fig = grid_deformation_figure(flow, (-3, 3, -3, 3), lines=9)
    """
    grid = grid_deformation(flow, bounds, lines, anchor=anchor)
    finite = np.isfinite(grid.log_det)
    log_det = f32(np.where(finite, grid.log_det, 0.0))
    limit = float(np.abs(log_det).max()) or 1.0
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.16,
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
                   # beside the data-space panel, the one it colours
                   "colorbar": {"title": {"text": "log|det J|", "side": "top"},
                                "thickness": 12, "len": 0.9,
                                "x": fig.layout.xaxis.domain[1] + 0.01, "xanchor": "left"}},
    ))
    fig.update_xaxes(title_text="x₁", range=[x_lo, x_hi], showgrid=False, row=1, col=1)
    fig.update_yaxes(title_text="x₂", range=[y_lo, y_hi], showgrid=False, row=1, col=1)
    # constrain="domain": equal aspect narrows the panel rather than widening its z₁ range
    fig.update_xaxes(title_text="z₁", range=span, constrain="domain", row=1, col=2)
    fig.update_yaxes(title_text="z₂", range=span, scaleanchor="x2", scaleratio=1,
                     constrain="domain", row=1, col=2)
    return fig


