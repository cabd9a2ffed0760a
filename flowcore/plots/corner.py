r"""Figures for data in more than two dimensions: corner plots and a pair's 2-D marginal.

- :func:`corner_figure`: data against model samples for up to ``MAX_CORNER_COLUMNS`` chosen
  columns, pairwise scatter below the diagonal and 1-D marginal histograms on it;
- :func:`latent_corner_figure`: the same for the push-forward ``z = f(x)`` against ``N(0, I)``;
- :func:`marginal_density_figure`: the 2-D marginal density of a chosen pair, a Gaussian KDE of
  model samples (a flow's marginal has no closed form beyond 2-D; the title says so).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fig = corner_figure(rng.normal(size=(300, 5)), rng.normal(size=(300, 5)), columns=[0, 2, 4])
    >>> len(fig.data)  # 3 pairs × (data, model) + 3 diagonals × (data, model)
    12
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from flowcore.analysis.evaluation import finite_rows, thin
from flowcore.config import check_range
from flowcore.plots.style import DATA_COLOUR, DENSITY_SCALE, MODEL_COLOUR, f32, layout

MAX_CORNER_COLUMNS = 8  # an 8 × 8 grid is the most that stays legible in one panel
CORNER_POINTS = 1000  # points per cloud in each histogram, and in each scatter cell at most
# Markers in all scatter cells together: the browser draws each one (SVG), so 8 columns (28
# cells × 2 clouds × 1000 points) shipped 1.7 MB and 56k markers every refresh. With this budget
# each cloud has about 14000 / (2 × cells) points per cell (1000 up to 4 columns, 250 at 8).
CORNER_MARKERS = 14_000
MARGINAL_SAMPLES = 2000  # model samples the 2-D marginal's KDE is built from (at most)
LATENT_SEED = 0


def corner_figure(data: np.ndarray, model: np.ndarray, columns: Sequence[int] | None = None,
                  names: Sequence[str] | None = None, labels: tuple[str, str] = ("data", "model"),
                  max_points: int | None = None, panel: str = "corner",
                  title: str = "data and model samples, pair by pair",
                  height: int | None = None) -> go.Figure:
    r"""A corner plot of two point clouds over the chosen columns.

    Arguments:
        data, model: arrays ``(n, dim)`` and ``(m, dim)`` (rows with NaN/inf are left out).
        columns: which columns (0-based), at most ``MAX_CORNER_COLUMNS``; default the first ones.
        names: a name per column of the arrays (default ``x1, x2, ...``).
        labels: the legend names of the two clouds.
        max_points: each cloud is thinned to this many points per scatter cell (default: a
            share of ``CORNER_MARKERS``, at most ``CORNER_POINTS``).
        height: the figure's height in pixels, its width then follows the page (default: a
            square of 140 pixels per column, plus margins).

    Raises:
        ValueError: for more than ``MAX_CORNER_COLUMNS`` columns, a column out of range, or
            arrays of different widths.
    """
    data, model = np.asarray(data, np.float64), np.asarray(model, np.float64)
    if data.ndim != 2 or model.ndim != 2 or data.shape[1] != model.shape[1]:
        raise ValueError(f"expected two arrays (n, dim) of the same dim, got {data.shape} and "
                         f"{model.shape}")
    dim = data.shape[1]
    chosen = _columns(columns, dim)
    names = list(names) if names is not None else [f"x{j + 1}" for j in range(dim)]
    k = len(chosen)
    if max_points is None:
        max_points = min(CORNER_POINTS, CORNER_MARKERS // max(1, k * (k - 1)))
    clouds = [(cloud[thin(finite_rows(cloud), CORNER_POINTS)], label, colour)
              for cloud, label, colour in ((data, labels[0], DATA_COLOUR),
                                           (model, labels[1], MODEL_COLOUR))]
    traces, axes = [], _lower_triangle_axes([names[c] for c in chosen])
    for row, i in enumerate(chosen):
        for col, j in enumerate(chosen[: row + 1]):
            n = _cell(row, col, k)
            for number, (cloud, label, colour) in enumerate(clouds):
                cell = {"xaxis": f"x{n}", "yaxis": f"y{n}", "name": label, "legendgroup": label,
                        "marker": {"color": colour}}
                if i == j:  # the diagonal: 1-D marginals
                    traces.append(go.Histogram(x=f32(cloud[:, j]), histnorm="probability density",
                                               showlegend=row == 0, opacity=0.55, nbinsx=30,
                                               **cell))
                else:
                    cell["marker"].update(size=2.5, line={"width": 0})
                    few = cloud[thin(np.arange(len(cloud)), max_points)]
                    traces.append(go.Scatter(x=f32(few[:, j]), y=f32(few[:, i]),
                                             mode="markers", showlegend=False, hoverinfo="skip",
                                             opacity=0.5 if number else 0.6, **cell))
    if height is None:
        size = {"height": 140 * k + 80, "width": 140 * k + 80}
    else:
        size = {"height": check_range("height", height, 100, 4000, whole=True)}
    return go.Figure(data=traces, layout=layout(panel, title, barmode="overlay", **size, **axes))


def _cell(row: int, col: int, k: int) -> int:
    """The axis number of cell (row, col) of a k × k grid, counted row by row from 1."""
    return row * k + col + 1


def _lower_triangle_axes(names: Sequence[str], gap: float = 0.02) -> dict[str, dict]:
    """Axes for the cells on and below the diagonal of a ``k × k`` grid (``k = len(names)``).

    Laid out directly rather than with ``make_subplots``, which builds all ``k²`` cells (the
    empty upper triangle too) and for ``k = 8`` took about 0.5 s of the figure's 0.6 s.
    A column's cells share its x-axis (the bottom cell's, which alone has ticks and a title);
    a row's scatter cells share the first column's y-axis, which names the row's variable.
    """
    k = len(names)
    width = (1 - gap * (k - 1)) / k
    axes: dict[str, dict] = {}
    for row in range(k):
        top = 1 - row * (width + gap)
        for col in range(row + 1):
            n, bottom = _cell(row, col, k), _cell(k - 1, col, k)
            left = col * (width + gap)
            x_axis = {"domain": _domain(left, left + width), "anchor": f"y{n}",
                      "showticklabels": row == k - 1}
            if row == k - 1:
                x_axis["title"] = {"text": names[col]}
            else:
                x_axis["matches"] = f"x{bottom}"
            # Only the first column's scatter cells have y ticks (a row's scatter cells share
            # its y-axis); a diagonal histogram's density scale would crowd its left neighbour.
            y_axis = {"domain": _domain(top - width, top), "anchor": f"x{n}",
                      "showticklabels": col == 0 and row > 0}
            if col == 0 and row > 0:
                y_axis["title"] = {"text": names[row]}
            elif 0 < col < row:
                y_axis["matches"] = f"y{_cell(row, 0, k)}"
            axes[f"xaxis{n}"], axes[f"yaxis{n}"] = x_axis, y_axis
    return axes


def _domain(low: float, high: float) -> list[float]:
    return [min(1.0, max(0.0, round(v, 6))) for v in (low, high)]  # rounding can step past [0, 1]


def latent_corner_figure(z: np.ndarray, columns: Sequence[int] | None = None,
                         max_points: int | None = None, seed: int = LATENT_SEED,
                         height: int | None = None) -> go.Figure:
    r"""The push-forward ``z = f(x)`` of data against draws of the prior ``N(0, I)``, as a corner
    plot: where training succeeded the two clouds look alike in every pair. The arguments are
    :func:`corner_figure`'s; ``seed`` draws the prior's points."""
    z = np.asarray(z, np.float64)
    prior = np.random.default_rng(seed).standard_normal(z.shape)
    names = [f"z{j + 1}" for j in range(z.shape[1])]
    return corner_figure(z, prior, columns, names, labels=("z = f(x)", "N(0, I)"),
                         max_points=max_points, panel="latent_corner",
                         title="latent push-forward z = f(x) against N(0, I), pair by pair",
                         height=height)


def marginal_density_figure(samples: np.ndarray, pair: tuple[int, int] = (0, 1),
                            names: Sequence[str] | None = None, data: np.ndarray | None = None,
                            resolution: int = 50, max_samples: int = MARGINAL_SAMPLES
                            ) -> go.Figure:
    r"""The 2-D marginal density of columns ``pair`` estimated from model samples (a Gaussian KDE
    with Scott's bandwidth), as a heatmap, with ``data`` points on top when given.

    Raises:
        ValueError: for a pair that is not two different columns in range, or fewer than 10
            finite samples.
    """
    from scipy.stats import gaussian_kde  # imported here: importing flowcore stays fast

    samples = np.asarray(samples, np.float64)
    dim = samples.shape[1]
    i, j = (int(c) for c in pair)
    if i == j or not (0 <= i < dim and 0 <= j < dim):
        raise ValueError(f"pair = {tuple(pair)} must be two different columns in [0, {dim - 1}]")
    points = samples[thin(finite_rows(samples), max_samples)][:, [i, j]]
    if len(points) < 10:
        raise ValueError(f"{len(points)} finite samples; the marginal needs at least 10")
    names = list(names) if names is not None else [f"x{c + 1}" for c in range(dim)]
    low, high = np.percentile(points, [0.5, 99.5], axis=0)
    pad = 0.1 * (high - low)
    xs, ys = (np.linspace(low[a] - pad[a], high[a] + pad[a], resolution) for a in (0, 1))
    grid_x, grid_y = np.meshgrid(xs, ys)
    density = gaussian_kde(points.T)(np.vstack([grid_x.ravel(), grid_y.ravel()]))
    traces: list = [go.Heatmap(x=f32(xs), y=f32(ys), z=f32(density.reshape(grid_x.shape)),
                               colorscale=DENSITY_SCALE, colorbar={"title": {"text": "density"}},
                               hovertemplate="%{z:.3g}<extra></extra>")]
    if data is not None:
        data = np.asarray(data, np.float64)
        keep = thin(finite_rows(data), 1000)
        traces.append(go.Scatter(x=f32(data[keep, i]), y=f32(data[keep, j]), mode="markers",
                                 name="data", marker={"color": "white", "size": 3,
                                                      "line": {"width": 0}}, opacity=0.6,
                                 hoverinfo="skip"))
    title = (f"model's marginal density of ({names[i]}, {names[j]}),<br>estimated from "
             f"{len(points):,} samples (KDE)")  # two lines: it fits a half-width panel
    return go.Figure(data=traces, layout=layout("marginal", title, names[i], names[j],
                                                margin={"t": 60}))


def _columns(columns: Sequence[int] | None, dim: int) -> list[int]:
    if columns is None:
        return list(range(min(dim, MAX_CORNER_COLUMNS)))
    chosen = [int(c) for c in columns]
    if not 1 <= len(chosen) <= MAX_CORNER_COLUMNS:
        raise ValueError(f"columns: choose 1 to {MAX_CORNER_COLUMNS} columns to show, got "
                         f"{len(chosen)}")
    bad = [c for c in chosen if not 0 <= c < dim]
    if bad or len(set(chosen)) != len(chosen):
        raise ValueError(f"columns = {chosen}: each must be a different column in [0, {dim - 1}]")
    return chosen
