r"""Evaluating a flow on points and grids: the checks at the boundary, batched ``f(x)`` and
``log p(x)``, the live panels' arrays, density grids, truth vs model, and grid deformation.

Example:
    >>> bounds_for(np.array([[0.0, 0.0], [2.0, 1.0]]), margin=0.0)
    (0.0, 2.0, 0.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from flowcore.config import check_range
from flowcore.flows.base import Flow

Bounds = tuple[float, float, float, float]

#: Points per batch when a flow is evaluated: small enough that activations stay in cache.
EVAL_CHUNK = 4096
#: Points in each live scatter panel (samples and push-forward) of the dashboard.
PANEL_POINTS = 1000


# -- checking inputs ------------------------------------------------------------------------------
def as_points(a: Any, name: str, min_dim: int = 2) -> np.ndarray:
    r"""``a`` (array or tensor) as float64 of shape ``(n, d)`` with ``d >= min_dim``.

    Example:
        >>> as_points([[1, 2]], "x").shape
        (1, 2)
    """
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < min_dim:
        raise ValueError(f"{name} must have shape (n, d) with d >= {min_dim}, got {arr.shape}.")
    return arr


def finite_rows(*arrays: np.ndarray) -> np.ndarray:
    r"""Indices of the rows that are finite in every array (NaN/inf never reach a figure).

    Example:
        >>> finite_rows(np.array([[0.0, 1.0], [np.nan, 0.0]])).tolist()
        [0]
    """
    keep = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays:
        finite = np.isfinite(a)
        keep &= finite.all(axis=tuple(range(1, a.ndim))) if a.ndim > 1 else finite
    return np.flatnonzero(keep)


def thin(indices: np.ndarray, max_points: int) -> np.ndarray:
    r"""At most ``max_points`` of ``indices``, evenly strided: deterministic, so no flicker.

    Example:
        >>> thin(np.arange(10), 3).tolist()
        [0, 4, 9]
    """
    max_points = check_range("max_points", max_points, 1, 10_000_000, whole=True)
    if len(indices) <= max_points:
        return indices
    return indices[np.linspace(0, len(indices) - 1, max_points).astype(np.int64)]


def check_bounds(bounds: Sequence[float]) -> Bounds:
    r"""``(x_lo, x_hi, y_lo, y_hi)`` as finite floats with ``lo < hi``, or a ValueError.

    Example:
        >>> check_bounds([0, 1, 0, 2])
        (0.0, 1.0, 0.0, 2.0)
    """
    if len(bounds) != 4:
        raise ValueError(f"bounds must be (x_lo, x_hi, y_lo, y_hi), got {bounds!r}.")
    x_lo, x_hi, y_lo, y_hi = (float(b) for b in bounds)
    if not all(map(math.isfinite, (x_lo, x_hi, y_lo, y_hi))) or x_lo >= x_hi or y_lo >= y_hi:
        raise ValueError(f"bounds must be finite with x_lo < x_hi and y_lo < y_hi, got {bounds!r}.")
    return x_lo, x_hi, y_lo, y_hi


def check_point(flow: Flow, x_point: Any) -> np.ndarray:
    r"""One data point of ``dim`` finite numbers, as float64 of shape ``(1, dim)``."""
    dim = flow.config.dim
    point = np.asarray(x_point, dtype=np.float64)
    if point.size != dim or point.ndim > 2 or not np.isfinite(point).all():
        raise ValueError(f"x_point must be {dim} finite numbers, got shape {point.shape}.")
    return point.reshape(1, dim)


# -- evaluating a flow ----------------------------------------------------------------------------
def as_tensor(flow: Flow, x: np.ndarray) -> torch.Tensor:
    r"""``x`` as a tensor in the flow's dtype and on its device."""
    return torch.as_tensor(np.asarray(x), dtype=flow.loc.dtype, device=flow.loc.device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    r"""A tensor as a float64 NumPy array."""
    return t.detach().double().cpu().numpy()


@torch.no_grad()
def push_forward(flow: Flow, x: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""``z, log_det = f(x)`` in batches, as float64 NumPy arrays.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> z, log_det = push_forward(flow, np.zeros((3, 2)))
        >>> z.shape, log_det.shape
        ((3, 2), (3,))
    """
    zs, lds = [], []
    for batch in as_tensor(flow, x).split(EVAL_CHUNK):
        z, ld = flow(batch)
        zs.append(z)
        lds.append(ld)
    return to_numpy(torch.cat(zs)), to_numpy(torch.cat(lds))


@torch.no_grad()
def log_prob(flow: Flow, x: Any) -> np.ndarray:
    r"""``flow.log_prob(x)`` in batches, as a float64 NumPy array of shape ``(n,)``."""
    parts = [flow.log_prob(batch) for batch in as_tensor(flow, x).split(EVAL_CHUNK)]
    return to_numpy(torch.cat(parts))


class PanelData(NamedTuple):
    """The arrays of the live scatter panels (see :func:`panel_data`), float32."""

    data: np.ndarray | None  # (n, dim) the data points shown; None when there is no data
    z: np.ndarray | None  # (n, dim) their push-forward f(data); None when there is no data
    samples: np.ndarray  # (n, dim) model samples f⁻¹(z), z ~ N(0, I)


@torch.no_grad()
def panel_data(flow: Flow, data: Any, n: int = PANEL_POINTS, seed: int = 0) -> PanelData:
    r"""The first ``n`` data points, their push-forward ``z = f(x)``, and ``n`` model samples.

    The dashboard's live panels, its Model page and ``bench/dashboard.py`` all use this, so the
    benchmark times what the app builds. With ``data=None`` (a loaded model whose data is not
    at hand) only the samples are computed.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> panels = panel_data(flow, np.zeros((50, 2)), n=20)
        >>> panels.data.shape, panels.z.shape, panels.samples.shape
        ((20, 2), (20, 2), (20, 2))
    """
    n = check_range("n", n, 1, 1_000_000, whole=True)
    seed = check_range("seed", seed, 0, 2**63 - 1, whole=True)
    samples = flow.sample(n, generator=torch.Generator().manual_seed(seed)).float().cpu().numpy()
    if data is None:
        return PanelData(None, None, samples)
    points = as_points(data, "data")[:n]
    z, _ = push_forward(flow, points)
    return PanelData(points.astype(np.float32), z.astype(np.float32), samples)


# -- grids ----------------------------------------------------------------------------------------
def bounds_for(data: Any, margin: float = 0.15) -> Bounds:
    r"""The plotting box ``(x_lo, x_hi, y_lo, y_hi)`` around the first two coordinates of data.

    Arguments:
        data: points of shape ``(n, d)``, ``d >= 2``; rows that are not finite are ignored.
        margin: padding on each side, as a fraction of the data's range.

    Example:
        >>> bounds_for(np.array([[0.0, 0.0], [1.0, 2.0]]), margin=0.5)
        (-0.5, 1.5, -1.0, 3.0)
    """
    points = as_points(data, "data")[:, :2]
    points = points[finite_rows(points)]
    if len(points) == 0:
        raise ValueError("data has no finite points to take bounds from.")
    margin = check_range("margin", margin, 0, 10)
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = np.where(hi > lo, margin * (hi - lo), 1.0)
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0]),
            float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def default_bounds(flow: Flow) -> Bounds:
    r"""``loc ± 4 scale`` of the flow's standardisation, in ``x₁, x₂``: where its data was."""
    loc = to_numpy(flow.loc)[:2]
    scale = to_numpy(flow.scale)[:2]
    return (float(loc[0] - 4 * scale[0]), float(loc[0] + 4 * scale[0]),
            float(loc[1] - 4 * scale[1]), float(loc[1] + 4 * scale[1]))


def anchor_of(flow: Flow, anchor: Any = None) -> np.ndarray:
    r"""Where a 2-D slice sits in the other coordinates: by default the data mean (``flow.loc``)."""
    dim = flow.config.dim
    if anchor is None:
        return to_numpy(flow.loc)
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


def cell_centres(lo: float, hi: float, n: int) -> np.ndarray:
    r"""The centres of ``n`` equal cells tiling ``[lo, hi]``.

    Example:
        >>> cell_centres(0, 1, 2).tolist()
        [0.25, 0.75]
    """
    return lo + (np.arange(n) + 0.5) * (hi - lo) / n


def grid_points(flow: Flow, bounds: Sequence[float], resolution: int, anchor: Any = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Cell centres ``xs, ys`` tiling ``bounds`` and the full-dimensional points of the grid,
    ``(resolution², dim)`` in row-major order (``y``, then ``x``)."""
    x_lo, x_hi, y_lo, y_hi = check_bounds(bounds)
    resolution = check_range("resolution", resolution, 2, 1000, whole=True)
    xs, ys = cell_centres(x_lo, x_hi, resolution), cell_centres(y_lo, y_hi, resolution)
    return xs, ys, _plane(xs, ys, anchor_of(flow, anchor))


def density_grid(flow: Flow, bounds: Sequence[float], resolution: int = 200,
                 anchor: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The model's log-density on a ``resolution × resolution`` grid of cell centres.

    Arguments:
        flow: the flow; it is evaluated under ``torch.no_grad()`` in its own dtype.
        bounds: ``(x_lo, x_hi, y_lo, y_hi)``; the cells tile this box exactly.
        resolution: cells per axis, in [2, 1000].
        anchor: for ``dim > 2``, the values of the other coordinates (default: the data mean).

    Returns:
        ``xs`` (resolution,), ``ys`` (resolution,) and ``log_p`` (resolution, resolution), float32,
        with ``log_p[i, j]`` at ``(xs[j], ys[i])``. ``log_p`` is raw: it may hold -inf or NaN
        where the model does; :func:`flowcore.plots.floor_log_density` makes it displayable.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> xs, ys, log_p = density_grid(flow, (-3, 3, -3, 3), resolution=50)
        >>> log_p.shape
        (50, 50)
    """
    xs, ys, plane = grid_points(flow, bounds, resolution, anchor)
    log_p = log_prob(flow, plane).reshape(len(ys), len(xs))
    return xs.astype(np.float32), ys.astype(np.float32), log_p.astype(np.float32)


class TruthGrid(NamedTuple):
    """The true and the model's log-density on one grid (see :func:`truth_grid`), float64."""

    xs: np.ndarray  # (resolution,)
    ys: np.ndarray  # (resolution,)
    truth: np.ndarray  # (resolution, resolution) log p*(x)
    model: np.ndarray  # (resolution, resolution) log p(x)


def truth_grid(flow: Flow, log_density_fn: Callable[[np.ndarray], Any], bounds: Sequence[float],
               resolution: int = 150, anchor: Any = None) -> TruthGrid:
    r"""The true ``log p*(x)`` (``log_density_fn``, e.g. a dataset's ``log_density``) and the
    model's ``log p(x)`` on the same grid of cell centres.

    Example:
        >>> import flowcore as fc
        >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
        >>> grid = truth_grid(flow, lambda x: -0.5 * (x**2).sum(1) - np.log(2 * np.pi),
        ...                   (-3, 3, -3, 3), resolution=10)
        >>> grid.truth.shape == grid.model.shape == (10, 10)
        True
    """
    xs, ys, plane = grid_points(flow, bounds, resolution, anchor)
    model = log_prob(flow, plane).reshape(len(ys), len(xs))
    truth = log_density_fn(plane)
    if truth is None:
        raise ValueError("log_density_fn returned None: the true density is not known here.")
    truth = np.asarray(truth, dtype=np.float64).reshape(-1)
    if truth.shape != (plane.shape[0],):
        raise ValueError(f"log_density_fn must return shape ({plane.shape[0]},), "
                         f"got {truth.shape}.")
    return TruthGrid(xs, ys, truth.reshape(model.shape), model)


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
    x_lo, x_hi, y_lo, y_hi = check_bounds(bounds)
    lines = check_range("lines", lines, 2, 100, whole=True)
    points_per_line = check_range("points_per_line", points_per_line, 2, 1000, whole=True)
    base = anchor_of(flow, anchor)
    xs, ys = np.linspace(x_lo, x_hi, lines), np.linspace(y_lo, y_hi, lines)
    join = max(1, points_per_line // (lines - 1))
    rows = _snake(np.linspace(x_lo, x_hi, points_per_line), ys, join)
    columns = _snake(np.linspace(y_lo, y_hi, points_per_line), xs, join)[:, ::-1]
    data_paths = [rows, columns]
    latent_paths = []
    for path in data_paths:
        full = np.repeat(base[None, :], len(path), axis=0)
        full[:, :2] = path
        z, _ = push_forward(flow, full)
        latent_paths.append(z[finite_rows(z[:, :2]), :2])
    cell_xs = 0.5 * (xs[1:] + xs[:-1])
    cell_ys = 0.5 * (ys[1:] + ys[:-1])
    centres = _plane(cell_xs, cell_ys, base)
    z, log_det = push_forward(flow, centres)
    return GridDeformation(data_paths, latent_paths, cell_xs, cell_ys, centres, z[:, :2],
                           log_det.reshape(lines - 1, lines - 1))
