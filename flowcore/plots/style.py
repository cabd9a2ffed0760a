r"""The one look of every figure: colours, the template, the layout, and small trace builders.

Every figure is safe to send to a browser as it is: traces carry float32 NumPy arrays (Plotly
writes them as compact base64), never NaN or inf, and each panel has a constant
``layout.uirevision`` so that zoom and pan survive live updates.

Scatter traces are SVG ``go.Scatter`` except in the two live scatter panels (samples and the
push-forward), which redraw every second while a run trains: there a WebGL ``go.Scattergl``
draws the same points into one canvas instead of styling an SVG element per point, and sends the
same bytes. Measured in Chromium beside the seed preset training (issue 15; 6 alternating rounds
of 10 s, medians): the browser's CPU fell from 0.75 to 0.48 cores. Elsewhere SVG stays: a page
keeps at most 16 live WebGL contexts (Chromium then drops the oldest), and a figure drawn once
gains nothing. A browser without WebGL gets these points as SVG (the live chart's JS switches the
trace type, dashboard/assets/live_chart.js).

Example:
    >>> layout("density", "model density p(x)", "x₁", "x₂")["uirevision"]
    'density'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from flowcore.analysis import as_points, finite_rows, thin

#: How many nats below its maximum the displayed log-density is floored at.
LOG_DENSITY_DEPTH = 12.0
#: Cells per axis of the dashboard's live heatmap, which is evaluated every few seconds beside
#: training. The seed model (206k parameters) costs about 0.5 ms per 100 points on one core, so
#: 80×80 takes ~35 ms where 120×120 took ~85 ms and 200×200 ~200 ms (bench/dashboard.py measures
#: it); in a profile of the server while the seed trained with the page open, the 120×120 grid was
#: the largest cost after training itself. A coarse grid is drawn smoothed (SMOOTH_BELOW).
LIVE_DENSITY_RESOLUTION = 80
#: Heatmaps with fewer cells per axis than this are drawn with Plotly's smoothing.
SMOOTH_BELOW = 100
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
TEMPLATE = go.layout.Template(
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


def layout(panel: str, title: str, x_title: str | None = None, y_title: str | None = None,
           equal_aspect: bool = False, **extra: Any) -> dict[str, Any]:
    r"""The common layout of every figure: one look, compact margins, ``uirevision=panel``.

    ``extra`` entries are merged into the defaults one level deep (``xaxis={"range": ...}``
    keeps the axis title).
    """
    out: dict[str, Any] = {
        "template": TEMPLATE,
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 14}},
        "margin": {"l": 55, "r": 15, "t": 45, "b": 45},
        "uirevision": panel,
        "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.0,
                   "yanchor": "bottom", "bgcolor": "rgba(0,0,0,0)"},
    }
    if x_title is not None:
        out["xaxis"] = {"title": {"text": x_title}}
    if y_title is not None:
        out["yaxis"] = {"title": {"text": y_title}}
    if equal_aspect:
        out.setdefault("yaxis", {}).update(scaleanchor="x", scaleratio=1)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def f32(a: Any) -> np.ndarray:
    r"""``a`` as a contiguous float32 array, the form Plotly sends as base64."""
    return np.ascontiguousarray(a, dtype=np.float32)


def subscript(i: int) -> str:
    r"""``i`` in Unicode subscript digits.

    Example:
        >>> subscript(12)
        '₁₂'
    """
    return str(i).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def coordinate_names(letter: str, indices: Sequence[int]) -> str:
    r"""Coordinates by 0-based index, named from 1.

    Example:
        >>> coordinate_names("x", [0, 2])
        'x₁, x₃'
    """
    return ", ".join(f"{letter}{subscript(i + 1)}" for i in indices)


def dims_note(dim: int) -> str:
    r"""A title's note that only ``x₁, x₂`` of more dimensions are shown ("" in 2-D)."""
    return "" if dim <= 2 else f" (x₁, x₂ of {dim} dims)"


def not_finite_note(count: int, total: int, what: str) -> str:
    r"""A title's warning that ``what`` was not finite at ``count`` of ``total`` points."""
    return "" if count == 0 else f" — ⚠ {what} not finite at {count} of {total} points"


def floor_log_density(log_p: np.ndarray, depth: float = LOG_DENSITY_DEPTH
                      ) -> tuple[np.ndarray, int]:
    r"""A displayable log-density: clipped to ``max - depth`` and with non-finite values floored.

    Returns:
        The finite float32 array, and how many values were not finite (NaN or ±inf).

    Example:
        >>> shown, bad = floor_log_density(np.array([0.0, -50.0, np.nan]))
        >>> shown.tolist(), bad
        ([0.0, -12.0, -12.0], 1)
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    finite = np.isfinite(log_p)
    top = float(log_p[finite].max()) if finite.any() else 0.0
    floor = top - depth
    return f32(np.where(finite, np.maximum(log_p, floor), floor)), int((~finite).sum())


def points_trace(points: np.ndarray | None, max_points: int, name: str, colour: str,
                 size: float = 3.0, opacity: float | None = None, webgl: bool = False
                 ) -> list[go.Scatter | go.Scattergl]:
    r"""The finite rows of ``points`` (first two coordinates, thinned to ``max_points``) as one
    marker trace, WebGL for a live panel (see above); no trace for None."""
    if points is None:
        return []
    keep = thin(finite_rows(points), max_points)  # a row broken anywhere is a broken point
    scatter = go.Scattergl if webgl else go.Scatter
    return [scatter(x=f32(points[keep, 0]), y=f32(points[keep, 1]), mode="markers",
                    name=name, marker={"color": colour, "size": size, "line": {"width": 0}},
                    opacity=opacity, hoverinfo="skip")]


def direction_colour(x: Any) -> np.ndarray:
    r"""Each point's angle (radians, in [-π, π]) around the mean of the standardised ``x₁, x₂``.

    A cyclic colour scale of this angle lets a region of data space be followed through the flow.

    Example:
        >>> [round(float(a), 3) for a in direction_colour([[1.0, 0.0], [-1.0, 0.0]])]
        [0.0, 3.142]
    """
    points = as_points(x, "x")[:, :2]
    finite = points[finite_rows(points)]
    mean = finite.mean(axis=0) if len(finite) else np.zeros(2)
    std = finite.std(axis=0) if len(finite) > 1 else np.ones(2)
    u = (points - mean) / np.where(std > 0, std, 1.0)
    return f32(np.nan_to_num(np.arctan2(u[:, 1], u[:, 0])))


def sector_traces(x: np.ndarray, y: np.ndarray, angle: np.ndarray, name: str, size: float = 4.0,
                  **common: Any) -> list[go.Scattergl]:
    r"""Points as :data:`DIRECTION_SECTORS` WebGL traces by ``angle`` (for the live push-forward),
    each in its colour of the cyclic scale. It looks like a per-point colouring, and redraws
    several times faster in the browser."""
    sector = np.clip(((angle + math.pi) / (2 * math.pi) * DIRECTION_SECTORS).astype(int),
                     0, DIRECTION_SECTORS - 1)
    colours = sample_colorscale(CYCLIC_SCALE, list((np.arange(DIRECTION_SECTORS) + 0.5)
                                                   / DIRECTION_SECTORS))
    return [go.Scattergl(x=f32(x[sector == k]), y=f32(y[sector == k]), mode="markers",
                         name=name, legendgroup=name, showlegend=False,
                         marker={"color": colour, "size": size, "opacity": 0.8,
                                 "line": {"width": 0}}, **common)
            for k, colour in enumerate(colours)]


def cyclic_marker(colour: np.ndarray, size: float = 4.0) -> dict[str, Any]:
    r"""A marker coloured per point by an angle in [-π, π] on the cyclic scale."""
    return {"color": f32(colour), "colorscale": CYCLIC_SCALE, "cmin": -math.pi, "cmax": math.pi,
            "size": size, "opacity": 0.8, "line": {"width": 0}}


def sigma_circles(radii: Sequence[int] = (1, 2, 3), xref: str = "x", yref: str = "y"
                  ) -> tuple[list[dict], list[dict]]:
    r"""The dotted 1σ, 2σ, 3σ circles of N(0, I) as layout shapes, and their labels."""
    shapes, notes = [], []
    for r in radii:
        shapes.append({"type": "circle", "xref": xref, "yref": yref, "x0": -r, "y0": -r,
                       "x1": r, "y1": r, "layer": "above",
                       "line": {"color": SIGMA_COLOUR, "width": 1.2, "dash": "dot"}})
        notes.append({"x": r / math.sqrt(2), "y": r / math.sqrt(2), "xref": xref, "yref": yref,
                      "text": f"{r}σ", "showarrow": False, "xanchor": "left",
                      "yanchor": "bottom", "font": {"size": 10, "color": SIGMA_COLOUR}})
    return shapes, notes


def square_range(*arrays: np.ndarray, minimum: float = 3.5, maximum: float = math.inf,
                 quantile: float = 0.995) -> list[float]:
    r"""A symmetric range covering nearly all points, within ``[±minimum, ±maximum]``.

    Example:
        >>> square_range(np.array([[0.5, -1.0]]))
        [-3.5, 3.5]
    """
    values = np.concatenate([np.abs(a[np.isfinite(a)]).ravel() for a in arrays])
    half = 1.05 * float(np.quantile(values, quantile)) if values.size else minimum
    half = min(max(minimum, half), maximum)
    return [-half, half]
