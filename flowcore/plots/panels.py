r"""The dashboard's live panels and small figures: model samples vs data
(:func:`samples_figure`), the push-forward into latent space (:func:`latent_figure`), the NLL
curves (:func:`nll_figure`, :func:`compare_nll_figure`), the sidebar's data preview and the
drawing canvas. The arrays come from :func:`flowcore.analysis.panel_data`.

Conventions: ``z = f(x)`` maps data to latent, axes are labelled ``x₁, x₂`` in data space and
``z₁, z₂`` in latent space, NLLs are in nats. For ``dim > 2`` the first two coordinates are shown.

Example:
    >>> import flowcore as fc
    >>> from flowcore.analysis import panel_data
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    >>> panels = panel_data(flow, np.random.default_rng(0).normal(size=(300, 2)))
    >>> latent_figure(panels.z, panels.data).layout.uirevision
    'latent'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from flowcore.analysis import as_points, bounds_for, finite_rows, thin
from flowcore.config import check_range
from flowcore.plots.style import (
    DATA_COLOUR,
    MAX_POINTS,
    MODEL_COLOUR,
    dims_note,
    direction_colour,
    f32,
    layout,
    not_finite_note,
    points_trace,
    sector_traces,
    sigma_circles,
    square_range,
)


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
        go.Scatter(x=f32(grid[:, 0]), y=f32(grid[:, 1]), mode="markers", name="canvas",
                   marker={"color": "rgba(120, 120, 120, 0.25)", "size": 5, "line": {"width": 0}},
                   hoverinfo="skip"),
        go.Scatter(x=f32(grid[drawn, 0]), y=f32(grid[drawn, 1]), mode="markers", name="drawn",
                   marker={"color": DATA_COLOUR, "size": 9, "symbol": "square",
                           "line": {"width": 0}}, hoverinfo="skip"),
    ]
    return go.Figure(data=traces, layout=layout(
        "drawing", f"{len(drawn)} cells drawn", "x₁", "x₂",
        equal_aspect=True, showlegend=False, dragmode="lasso",
        xaxis={"range": [-4.2, 4.2], "showgrid": False, "zeroline": False},
        yaxis={"range": [-4.2, 4.2], "showgrid": False, "zeroline": False}))


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
        >>> from flowcore.analysis import panel_data
        >>> fig = samples_figure(panel_data(flow, data).samples, data)
    """
    samples = as_points(model_samples, "model_samples")
    points = None if data is None else as_points(data, "data")
    if points is not None and samples.shape[1] != points.shape[1]:
        raise ValueError(f"model_samples and data must have the same number of columns, got "
                         f"{samples.shape[1]} and {points.shape[1]}.")
    bad = len(samples) - len(finite_rows(samples))
    title = ("samples: model vs data" if points is not None else "samples from the model")
    title += dims_note(samples.shape[1]) + not_finite_note(bad, len(samples), "model samples")
    axes: dict[str, Any] = {}
    if points is not None and len(finite_rows(points[:, :2])):
        x_lo, x_hi, y_lo, y_hi = bounds_for(points)
        axes = {"xaxis": {"range": [x_lo, x_hi]}, "yaxis": {"range": [y_lo, y_hi]}}
    traces = [*points_trace(points, max_points, "data", DATA_COLOUR, 4.0, opacity=0.55, webgl=True),
              *points_trace(samples, max_points, "model", MODEL_COLOUR, 4.0, opacity=0.55,
                            webgl=True)]
    return go.Figure(data=traces, layout=layout("samples", title, "x₁", "x₂", **axes))


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
    points = as_points(data, "data")
    height = check_range("height", height, 100, 2000, whole=True)
    title = f"{len(points):,} points" + dims_note(points.shape[1])
    return go.Figure(
        data=points_trace(points, max_points, "data", DATA_COLOUR, 3.0),
        layout=layout("data-preview", title, "x₁", "x₂", showlegend=False, height=height,
                       margin={"l": 35, "r": 5, "t": 30, "b": 30}, font={"size": 11}),
    )


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
        >>> from flowcore.analysis import panel_data
        >>> panels = panel_data(flow, data)
        >>> fig = latent_figure(panels.z, panels.data)
    """
    z, x = as_points(z, "z"), as_points(x, "x")
    if z.shape[0] != x.shape[0]:
        raise ValueError(f"z and x must have the same number of points, got {len(z)} and {len(x)}.")
    keep = finite_rows(z[:, :2], x[:, :2])
    bad = len(z) - len(keep)
    keep = thin(keep, max_points)
    shapes, notes = sigma_circles()
    span = square_range(z[keep, :2])
    title = "latent z = f(x), coloured by direction in data space" + dims_note(z.shape[1])
    title += not_finite_note(bad, len(z), "z")
    traces = sector_traces(z[keep, 0], z[keep, 1], direction_colour(x[keep]), "f(x)",
                            hovertemplate="z₁ = %{x:.2f}<br>z₂ = %{y:.2f}<extra></extra>")
    return go.Figure(
        data=traces,
        layout=layout("latent", title, "z₁", "z₂", equal_aspect=True, showlegend=False,
                       shapes=shapes, annotations=notes,
                       xaxis={"range": span, "zeroline": False},
                       yaxis={"range": span, "zeroline": False}),
    )


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
    return f32(steps), f32(values)


def _entropy_trace(entropy: float | None, steps: Sequence[np.ndarray]) -> list[go.Scatter]:
    entropy = _finite_number(entropy)
    if entropy is None:
        return []
    all_steps = np.concatenate([s for s in steps if s.size] or [np.array([0.0, 1.0])])
    lo, hi = float(all_steps.min()), float(all_steps.max())
    return [go.Scatter(x=f32([lo, hi if hi > lo else lo + 1]), y=f32([entropy, entropy]),
                       mode="lines", name="true entropy (KL = gap)",
                       line={"color": "#54A24B", "dash": "dash", "width": 1.5},
                       hovertemplate="true entropy = %{y:.4f} nats<extra></extra>")]


_BASELINE_COLOURS = ("#B279A2", "#9D755D", "#72B7B2")


def _baseline_traces(baselines: Sequence[Any], steps: Sequence[np.ndarray]) -> list[go.Scatter]:
    all_steps = np.concatenate([s for s in steps if s.size] or [np.array([0.0, 1.0])])
    lo, hi = float(all_steps.min()), float(all_steps.max())
    return [go.Scatter(x=f32([lo, hi if hi > lo else lo + 1]), y=f32([b.test_nll] * 2),
                       mode="lines", name=f"{b.label}: test",
                       line={"color": _BASELINE_COLOURS[n % 3], "dash": "dot", "width": 1.5},
                       hovertemplate=f"{b.label}: %{{y:.4f}} nats<extra></extra>")
            for n, b in enumerate(baselines) if np.isfinite(b.test_nll)]


def _smoothed(values: np.ndarray, weight: float) -> np.ndarray:
    """An exponential moving average with weight ``weight`` on the past, debiased at the start
    (as TensorBoard smooths a curve); ``weight=0`` leaves the values as they are."""
    if weight <= 0 or values.size == 0:
        return values
    out, mean = np.empty_like(values), 0.0
    for i, value in enumerate(values):
        mean = weight * mean + (1 - weight) * float(value)
        out[i] = mean / (1 - weight ** (i + 1))
    return out


def nll_figure(history: Sequence[Mapping[str, Any]], entropy: float | None = None,
               losses: Sequence[Mapping[str, Any]] | None = None, smooth: float = 0.0,
               log_steps: bool = False, max_points: int = 600,
               baselines: Sequence[Any] = ()) -> go.Figure:
    r"""Train and test NLL (nats) against step, and the true entropy when it is known.

    The NLL is the cross-entropy ``H(p, q) = H(p) + KL(p ‖ q)``, so the gap down to the entropy
    line is the KL divergence still to be won.

    Arguments:
        history: records with ``step``, ``train_nll`` and ``test_nll`` (a missing, None or NaN
            value is skipped); other keys are ignored.
        entropy: the data's true entropy in nats, or None when it is not known.
        losses: the training loss of every step (records with ``step`` and ``train_nll``,
            :attr:`flowcore.Trainer.loss_history`); when given, the train curve is drawn from it
            instead of from ``history``.
        smooth: the weight of an exponential moving average of the train curve, in [0, 0.99].
        log_steps: a logarithmic step axis (the early steps get room).
        max_points: the train curve is thinned to about this many points.
        baselines: :class:`flowcore.baselines.Baseline` s (``label``, ``test_nll``), each drawn
            as a dotted line: the test NLL a flow should beat where no entropy is known.

    Example:
        >>> fig = nll_figure([{"step": 0, "train_nll": 2.9, "test_nll": None}], entropy=1.2)
    """
    smooth = check_range("smooth", smooth, 0.0, 0.99)
    train = _curve(losses if losses is not None else history, "train_nll")
    train = (train[0], _smoothed(train[1], smooth))
    keep = thin(np.arange(train[0].size), max_points)
    train = (train[0][keep], train[1][keep])
    test = _curve(history, "test_nll")
    hover = "%{y:.4f} nats"
    traces = [
        go.Scatter(x=train[0], y=train[1], mode="lines", hovertemplate=hover,
                   name="train (smoothed)" if smooth else "train",
                   line={"color": DATA_COLOUR, "width": 1.5}),
        go.Scatter(x=test[0], y=test[1], mode="lines", name="test", hovertemplate=hover,
                   line={"color": MODEL_COLOUR, "width": 2}),
        *_entropy_trace(entropy, [train[0], test[0]]),
        *_baseline_traces(baselines, [train[0], test[0]]),
    ]
    fig = go.Figure(data=traces, layout=layout("nll", "negative log-likelihood", "step",
                                                "NLL (nats)", hovermode="x unified"))
    if log_steps:
        fig.update_xaxes(type="log")
    return fig


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
    return go.Figure(data=traces, layout=layout("compare", f"{label} NLL by run", "step",
                                                 f"{label} NLL (nats)", hovermode="x unified"))


