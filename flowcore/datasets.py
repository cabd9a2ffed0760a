r"""Datasets: the FFJORD toy densities with their true log densities, and the user's own data.

Every dataset has the same small interface: ``name``, ``params``, ``description``, ``dim``,
``can_sample_fresh``, ``notice``, ``sample(n, seed)``, ``log_density(x)``, ``entropy()`` and
``entropy_se()``. ``log_density`` and ``entropy`` return ``None`` where the true density is not
known; they never guess.

The toy recipes follow the FFJORD code (Grathwohl et al., 2019) in its raw units. Their true
densities are exact formulas or one-dimensional integrals along the curve that generates the data,
done by composite Gauss-Legendre quadrature, accurate to about 1e-6 in the log density.

References:
    | FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models
    | (Grathwohl et al., 2019) https://arxiv.org/abs/1810.01367

Example:
    >>> from flowcore import datasets
    >>> ds = datasets.get("moons", noise=0.05)
    >>> ds.sample(4, seed=0).shape
    (4, 2)
    >>> round(ds.entropy(), 2)
    0.29
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

# scipy, scikit-learn and PIL are imported where they are used: importing flowcore stays fast.

MAX_ROWS = 100_000  # more rows than this are subsampled (seeded), not rejected
MIN_ROWS = 10
MAX_CSV_BYTES = 20 * 2**20  # = server.maxUploadSize (20 MB) in .streamlit/config.toml
MAX_COLUMNS = 64  # = the largest FlowConfig.dim: a flow cannot model more coordinates
MAX_IMAGE_PIXELS = 40_000_000  # checked before decoding: a decompression bomb is refused
IMAGE_MAX_SIDE = 128  # photos are downsampled so that their longer side has this many pixels
IMAGE_HALF_WIDTH = 4.0  # the image's longer side spans [-4, 4]
ENTROPY_SE_TARGET = 0.0025  # nats: Monte Carlo entropies stop once their standard error is below
_ENTROPY_BATCH = 20_000
_ENTROPY_MAX_SAMPLES = 500_000
_ENTROPY_SEED = 20_240_601  # far from the seeds a user would type, so the estimate is independent


class Dataset:
    r"""A distribution of points in ``dim`` dimensions: toy recipe, user data or an image.

    Attributes:
        name: the dataset's name, e.g. ``"moons"``.
        params: JSON-serialisable parameters. For a toy recipe ``get(name, **params)`` rebuilds
            it; for user data they describe it (rows, columns, image size).
        description: one or two sentences for the UI.
        dim: the number of coordinates of a point.
        can_sample_fresh: whether ``sample`` draws new points (True) or resamples fixed rows.
        notice: what was changed about the user's data (subsampled, renamed columns), else None.
    """

    name: str
    params: dict[str, Any]
    description: str
    dim: int
    can_sample_fresh: bool
    notice: str | None = None

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        r"""Returns ``n`` points as a float32 array of shape ``(n, dim)``; the same seed gives the
        same points."""
        n, seed = _check_count(n), _check_seed(seed)
        points = np.asarray(self._draw(n, seed), dtype=np.float32)
        return points.reshape(n, self.dim)

    def log_density(self, x: np.ndarray) -> np.ndarray | None:
        r"""The true log density (nats) at the rows of ``x``, shape ``(n,)`` float64, where it is
        known; else None. Outside the support it is ``-inf``."""
        return None

    def entropy(self) -> float | None:
        r"""The differential entropy in nats, where the true density is known; else None."""
        return None

    def entropy_se(self) -> float | None:
        r"""The standard error of ``entropy()`` (0.0 where it is exact), or None."""
        return None

    def _draw(self, n: int, seed: int) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} params={self.params} dim={self.dim}>"


# --- toy recipes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knob:
    r"""A recipe parameter that a user can set: its default and its allowed closed range."""

    default: float
    low: float
    high: float
    help: str


@dataclass(frozen=True)
class _Recipe:
    description: str
    draw: Callable[..., np.ndarray]  # (n, seed, **params) -> (n, 2)
    log_density: Callable[..., np.ndarray] | None  # (x float64 (n, 2), **params) -> (n,)
    knobs: dict[str, Knob] = field(default_factory=dict)
    exact_entropy: float | None = None


class ToyDataset(Dataset):
    r"""A 2-D toy density from a recipe; build one with :func:`get`."""

    dim = 2
    can_sample_fresh = True

    def __init__(self, name: str, params: dict[str, float]):
        self.name, self.params = name, dict(params)
        self._recipe = _RECIPES[name]
        self.description = self._recipe.description

    def _draw(self, n: int, seed: int) -> np.ndarray:
        return self._recipe.draw(n, seed, **self.params)

    def log_density(self, x: np.ndarray) -> np.ndarray | None:
        if self._recipe.log_density is None:
            return None
        return self._recipe.log_density(_check_points(x, self.dim), **self.params)

    def entropy(self) -> float | None:
        return None if self._recipe.log_density is None else self._entropy_and_se()[0]

    def entropy_se(self) -> float | None:
        return None if self._recipe.log_density is None else self._entropy_and_se()[1]

    def _entropy_and_se(self) -> tuple[float, float]:
        if self._recipe.exact_entropy is not None:
            return self._recipe.exact_entropy, 0.0
        return _toy_entropy(self.name, tuple(sorted(self.params.items())))


@functools.lru_cache(maxsize=64)
def _toy_entropy(name: str, params: tuple[tuple[str, float], ...]) -> tuple[float, float]:
    # Keyed on the parameters, so every get("moons") shares one estimate.
    return _monte_carlo_entropy(ToyDataset(name, dict(params)))


def _monte_carlo_entropy(dataset: Dataset) -> tuple[float, float]:
    r"""Estimates ``-E[log p(x)]`` from samples, in batches, until the standard error is below
    ``ENTROPY_SE_TARGET`` (or after ``_ENTROPY_MAX_SAMPLES``).

    Returns:
        ``(entropy, standard_error)`` in nats.
    """
    nll: list[np.ndarray] = []
    for batch in range(_ENTROPY_MAX_SAMPLES // _ENTROPY_BATCH):
        x = dataset.sample(_ENTROPY_BATCH, seed=_ENTROPY_SEED + batch)
        nll.append(-dataset.log_density(x))
        values = np.concatenate(nll)
        se = float(values.std(ddof=1) / math.sqrt(values.size))
        if se < ENTROPY_SE_TARGET:
            break
    return float(values.mean()), se


def names() -> tuple[str, ...]:
    r"""The names of the toy datasets, in the order the UI lists them."""
    return tuple(_RECIPES)


def knobs(name: str) -> dict[str, Knob]:
    r"""The parameters a user can set for toy dataset ``name``, with defaults and ranges."""
    return dict(_recipe(name).knobs)


def get(name: str, **params: float) -> ToyDataset:
    r"""Builds toy dataset ``name``; parameters not given take their defaults.

    Raises:
        ValueError: for an unknown name, an unknown parameter or a value out of range.

    Example:
        >>> get("circles", noise=0.1).params
        {'noise': 0.1}
    """
    recipe = _recipe(name)
    unknown = sorted(set(params) - set(recipe.knobs))
    if unknown:
        allowed = ", ".join(recipe.knobs) or "none"
        raise ValueError(
            f"dataset {name!r} has no parameter {unknown[0]!r}; its parameters: {allowed}"
        )
    values = {}
    for key, knob in recipe.knobs.items():
        value = params.get(key, knob.default)
        number = isinstance(value, (int, float, np.integer, np.floating))
        if isinstance(value, bool) or not (number and knob.low <= value <= knob.high):
            raise ValueError(
                f"{name} {key}={value!r} is out of range: use {knob.low} <= {key} <= {knob.high} "
                f"(default {knob.default}); {knob.help}"
            )
        values[key] = float(value)
    return ToyDataset(name, values)


def _recipe(name: str) -> _Recipe:
    if name not in _RECIPES:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(_RECIPES)}")
    return _RECIPES[name]


# moons: scikit-learn's two half circles, as a mixture along the arcs

def _draw_moons(n: int, seed: int, noise: float) -> np.ndarray:
    from sklearn.datasets import make_moons

    return make_moons(n, noise=noise, random_state=seed)[0]


def _log_density_moons(x: np.ndarray, noise: float) -> np.ndarray:
    # make_moons spaces the angle evenly on [0, pi]: in the limit it is uniform, half the mass
    # on each arc, and isotropic Gaussian noise around the arcs.
    centres, log_weights = _moons_curve(noise)
    return _log_gaussian_along_curve(x, centres, log_weights, noise)


@functools.lru_cache(maxsize=16)
def _moons_curve(noise: float) -> tuple[np.ndarray, np.ndarray]:
    t, w = _curve_quadrature(0.0, math.pi, lambda t: np.ones_like(t), panel_length=3 * noise)
    outer = np.stack([np.cos(t), np.sin(t)], axis=1)
    inner = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    log_w = np.log(w / (2 * math.pi))  # t ~ U[0, pi] on each arc, half of the mass each
    return np.concatenate([outer, inner]), np.concatenate([log_w, log_w])


# 8gaussians: eight Gaussian blobs on a circle

_EIGHT_CENTRES = 4.0 * np.array(
    [(1, 0), (-1, 0), (0, 1), (0, -1)]
    + [(sx / math.sqrt(2), sy / math.sqrt(2)) for sx in (1, -1) for sy in (1, -1)]
)
_FFJORD_SCALE = 1.414  # FFJORD divides the points by 1.414, not by sqrt(2)


def _draw_8gaussians(n: int, seed: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = _EIGHT_CENTRES[rng.integers(8, size=n)]
    return (centres + noise * rng.standard_normal((n, 2))) / _FFJORD_SCALE


def _log_density_8gaussians(x: np.ndarray, noise: float) -> np.ndarray:
    centres, log_w = _EIGHT_CENTRES / _FFJORD_SCALE, np.full(8, -math.log(8))
    return _log_gaussian_along_curve(x, centres, log_w, noise / _FFJORD_SCALE)


# checkerboard: uniform on 8 of the 16 squares of side 2 in [-4, 4]^2

def _draw_checkerboard(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x1 = rng.random(n) * 4 - 2
    x2 = rng.random(n) - rng.integers(0, 2, size=n) * 2 + np.floor(x1) % 2
    return np.stack([x1, x2], axis=1) * 2


def _log_density_checkerboard(x: np.ndarray) -> np.ndarray:
    # A square (i, j) of side 2 is on the board when i + j is even. The edges count as inside
    # (a set of measure zero), so a sample rounded to float32 onto an edge keeps its density.
    cells = x / 2
    inside = np.zeros(len(x), dtype=bool)
    for i in (np.floor(cells[:, 0]), np.ceil(cells[:, 0]) - 1):  # two cells only on an edge
        for j in (np.floor(cells[:, 1]), np.ceil(cells[:, 1]) - 1):
            on_board = (i >= -2) & (i <= 1) & (j >= -2) & (j <= 1)
            inside |= on_board & ((i + j) % 2 == 0)
    return np.where(inside, -math.log(32.0), -np.inf)


# circles and rings: noisy concentric circles, with the angular integral in closed form

def _draw_circles(n: int, seed: int, noise: float) -> np.ndarray:
    from sklearn.datasets import make_circles

    return 3 * make_circles(n, factor=0.5, noise=noise, random_state=seed)[0]


def _log_density_circles(x: np.ndarray, noise: float) -> np.ndarray:
    # make_circles puts n // 2 points on the outer circle: half the mass on each in the limit.
    return _log_rings(x, radii=(3.0, 1.5), weights=(0.5, 0.5), sigma=3 * noise)


_RING_RADII = (3.0, 2.25, 1.5, 0.75)


def _draw_rings(n: int, seed: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = [n // 4] * 3 + [n - 3 * (n // 4)]
    angles = np.concatenate([np.linspace(0, 2 * np.pi, c, endpoint=False) for c in counts])
    radii = np.repeat(_RING_RADII, counts)
    points = radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return rng.permutation(points) + rng.normal(scale=noise, size=(n, 2))


def _log_density_rings(x: np.ndarray, noise: float) -> np.ndarray:
    return _log_rings(x, radii=_RING_RADII, weights=(0.25,) * 4, sigma=noise)


def _log_rings(x: np.ndarray, radii: tuple[float, ...], weights: tuple[float, ...],
               sigma: float) -> np.ndarray:
    # (1/2pi) int N(x; r u(theta), s^2 I) dtheta
    #   = exp(-(|x|^2 + r^2) / 2s^2) I0(|x| r / s^2) / (2 pi s^2),
    # and I0(z) = i0e(z) e^z turns the exponent into -(|x| - r)^2 / 2s^2.
    from scipy.special import i0e, logsumexp

    norm = np.linalg.norm(x, axis=1)[:, None]
    r = np.asarray(radii)[None, :]
    log_rings = (
        -((norm - r) ** 2) / (2 * sigma**2)
        + np.log(i0e(norm * r / sigma**2))
        - math.log(2 * math.pi * sigma**2)
    )
    return logsumexp(log_rings + np.log(weights), axis=1)


# pinwheel: five arms, each a Gaussian blob rotated by an angle that grows with the radius

_PINWHEEL_ARMS = 5
_PINWHEEL_RATE = 0.25
_PINWHEEL_STD = (0.3, 0.1)  # radial, tangential
_PINWHEEL_GRID = 32  # angles per circle: short brackets for the Newton steps


def _draw_pinwheel(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    arm_angles = np.linspace(0, 2 * np.pi, _PINWHEEL_ARMS, endpoint=False)
    features = rng.standard_normal((n, 2)) * _PINWHEEL_STD
    features[:, 0] += 1
    angles = arm_angles[np.arange(n) % _PINWHEEL_ARMS] + _PINWHEEL_RATE * np.exp(features[:, 0])
    c, s = np.cos(angles), np.sin(angles)
    # FFJORD's einsum("ti,tij->tj", f, [[c, -s], [s, c]]) turns f by -angle.
    rotated = np.stack([c * features[:, 0] + s * features[:, 1],
                        -s * features[:, 0] + c * features[:, 1]], axis=1)
    return 2 * rng.permutation(rotated)


def _log_density_pinwheel(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    r"""Change of variables, summed over every preimage.

    With ``y = x / 2`` in polar form ``(rho, beta)`` and a feature ``f = rho (cos a, sin a)``,
    arm ``k`` maps ``a`` to ``beta = a - rate exp(f0) - 2 pi k / 5``: the radius is kept, so
    ``|det J| = |d beta / d a| = |1 + rate exp(f0) f1|``. All arms at once: the preimages are the
    angles where ``G(a) = 5 (a - rate exp(rho cos a) - beta) / 2 pi`` is an integer. ``G`` has at
    most two critical points (folds), found exactly; between them and a grid of angles ``G`` is
    monotone, so every integer it crosses is one preimage, refined by safeguarded Newton steps.
    For ``|x| > 8`` only features within 14 sigma are summed (density below e^-100 of the
    peak): there the value is a lower bound, and ``-inf`` beyond ``|x| = 10.5``.
    """
    out = np.empty(len(x))
    for start in range(0, len(x), chunk):
        out[start:start + chunk] = _log_density_pinwheel_chunk(x[start:start + chunk])
    return out


def _log_density_pinwheel_chunk(x: np.ndarray) -> np.ndarray:
    arms, rate, (s0, s1) = _PINWHEEL_ARMS, _PINWHEEL_RATE, _PINWHEEL_STD
    rho = np.hypot(x[:, 0], x[:, 1]) / 2
    beta = np.arctan2(x[:, 1], x[:, 0])

    def level(a: np.ndarray, rho: np.ndarray, beta: np.ndarray) -> np.ndarray:
        return arms * (a - rate * np.exp(rho * np.cos(a)) - beta) / (2 * np.pi)

    # Far out, keep the arc of angles whose features lie within 14 sigma: cos(a) >= near.
    far = (rho > 4) & (rho < 6)  # from rho = 5.24 on no feature is within 14 sigma
    near = np.where(rho < 6, -1.0, 2.0)
    near[far] = _pinwheel_near_arc(rho[far], s0, s1, mahalanobis=200.0)
    arc = np.arccos(np.clip(near, -1, 1))
    extra = np.concatenate([_pinwheel_folds(rho, rate), arc[:, None], 2 * np.pi - arc[:, None]], 1)
    grid = np.linspace(0, 2 * np.pi, _PINWHEEL_GRID + 1)
    breaks = np.sort(np.concatenate([np.broadcast_to(grid, (len(x), grid.size)), extra], 1), 1)
    with np.errstate(over="ignore", invalid="ignore"):  # exp overflows only outside the arc
        g = level(breaks, rho[:, None], beta[:, None])
        lo, hi = np.floor(g[:, :-1]), np.floor(g[:, 1:])
        steps = np.abs(hi - lo)
    middle = 0.5 * (breaks[:, 1:] + breaks[:, :-1])
    steps = np.where(np.cos(middle) >= near[:, None], steps, 0.0)
    crossings = steps.astype(np.intp)

    # One root per integer level crossed in a piece.
    point, piece = np.nonzero(crossings)
    count = crossings[point, piece]
    point, piece = np.repeat(point, count), np.repeat(piece, count)
    offset = np.arange(point.size) - np.repeat(np.cumsum(count) - count, count)
    target = np.minimum(lo, hi)[point, piece] + 1 + offset

    left, right = breaks[point, piece], breaks[point, piece + 1]
    rising = g[point, piece + 1] > g[point, piece]
    rho_p, beta_p = rho[point], beta[point]
    a = 0.5 * (left + right)
    for _ in range(100):
        miss = level(a, rho_p, beta_p) - target
        done = np.abs(miss) < 1e-12
        if done.all():
            break
        below = (miss < 0) == rising
        left, right = np.where(below, a, left), np.where(below, right, a)
        slope = arms * (1 + rate * np.exp(rho_p * np.cos(a)) * rho_p * np.sin(a)) / (2 * np.pi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = a - miss / slope
        step = np.where((newton >= left) & (newton <= right), newton, 0.5 * (left + right))
        a = np.where(done, a, step)

    f0, f1 = rho_p * np.cos(a), rho_p * np.sin(a)
    log_term = (
        -0.5 * ((f0 - 1) / s0) ** 2 - 0.5 * (f1 / s1) ** 2 - math.log(2 * math.pi * s0 * s1)
        - np.log(np.abs(1 + rate * np.exp(f0) * f1))
        - math.log(arms)  # each arm has a fifth of the mass
        - math.log(4.0)  # x = 2 y
    )
    return _logsumexp_by_group(log_term, point, len(x))


def _pinwheel_folds(rho: np.ndarray, rate: float) -> np.ndarray:
    r"""The angles where ``1 + rate rho sin(a) exp(rho cos a) = 0``, shape ``(n, 2)`` (0 if none).

    ``sin(a) exp(rho cos a)`` has exactly two critical points, ``a = ±arccos(c)`` with
    ``rho c^2 + c - rho = 0``; so there are two folds or none, one on each side of the minimum.
    """
    folds = np.zeros((len(rho), 2))
    candidates = (rho > 1) & (rho < 6)  # below rho = 1 there are none; beyond 6 none are needed
    r = rho[candidates]
    c = (np.sqrt(1 + 4 * r**2) - 1) / (2 * r)
    top = np.arccos(c)
    has = rate * r * np.sqrt(1 - c**2) * np.exp(r * c) > 1
    rows = np.flatnonzero(candidates)[has]
    r, top = r[has], top[has]
    bottom = 2 * np.pi - top
    for side, (lo, hi) in enumerate([(top, bottom), (bottom, top + 2 * np.pi)]):
        decreasing = side == 0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            positive = 1 + rate * r * np.sin(mid) * np.exp(r * np.cos(mid)) > 0
            right_of_mid = positive == decreasing
            lo, hi = np.where(right_of_mid, mid, lo), np.where(right_of_mid, hi, mid)
        folds[rows, side] = np.mod(0.5 * (lo + hi), 2 * np.pi)
    return folds


def _pinwheel_near_arc(rho: np.ndarray, s0: float, s1: float, mahalanobis: float) -> np.ndarray:
    r"""The ``c`` such that features ``rho (cos a, sin a)`` with ``cos a > c`` are the ones within
    the given squared Mahalanobis distance (for ``rho > 4`` they form one arc around ``a = 0``)."""
    # Q(c) = (rho c - 1)^2 / s0^2 + rho^2 (1 - c^2) / s1^2 is concave in c: Q < limit for c > root.
    qa = rho**2 * (1 / s0**2 - 1 / s1**2)
    qb = -2 * rho / s0**2
    qc = 1 / s0**2 + rho**2 / s1**2 - mahalanobis
    return (-qb - np.sqrt(np.maximum(qb**2 - 4 * qa * qc, 0.0))) / (2 * qa)


def _logsumexp_by_group(values: np.ndarray, group: np.ndarray, size: int) -> np.ndarray:
    peak = np.full(size, -np.inf)
    np.maximum.at(peak, group, values)
    total = np.bincount(group, weights=np.exp(values - peak[group]), minlength=size)
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(peak), np.log(total) + peak, -np.inf)


# 2spirals: two interleaved spirals; the noise is a box (uniform) plus a Gaussian

_SPIRAL_BOX = 0.5 / 3  # FFJORD adds U(0, 0.5) to each coordinate, then divides by 3
_SPIRAL_TABLE_STEP = 2e-3  # log-kernel table spacing in noise units: interpolation error < 1e-6


def _draw_2spirals(n: int, seed: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = n - n // 2
    t = np.sqrt(rng.random(m)) * 540 * (2 * np.pi) / 360
    d1 = np.stack([-np.cos(t) * t + rng.random(m) * 0.5, np.sin(t) * t + rng.random(m) * 0.5], 1)
    points = np.concatenate([d1, -d1[: n // 2]]) / 3
    return rng.permutation(points) + rng.normal(scale=noise, size=(n, 2))


def _log_density_2spirals(x: np.ndarray, noise: float) -> np.ndarray:
    r"""A 1-D integral along the spiral of a separable kernel.

    Along arm 1 the angle ``t`` has density ``2 t / (3 pi)^2`` on ``[0, 3 pi]``; the noise of a
    coordinate is ``U(0, a) + N(0, s^2)`` with ``a = 1/6``. Its density is symmetric about ``a/2``:
    ``k(e) = [Phi((a/2 - d) / s) - Phi(-(a/2 + d) / s)] / a`` with ``d = |e - a/2|``. Arm 2 is
    arm 1 reflected through the origin, noise included, so its centres are the negated ones.

    For speed, points are grouped in square cells and each cell sums only the quadrature nodes
    within ``reach`` of it. The nodes left out weigh at most ``k(0) k(reach)`` in all (the weights
    sum to 1); a point whose density is not e^25 times that is summed again with a longer reach.
    """
    centres, log_weights, log_kernel = _spirals_curve(noise)
    out = np.empty(len(x))
    pending = np.arange(len(x))
    side = 4 * noise
    for reach in (_SPIRAL_BOX / 2 + 10 * noise, _SPIRAL_BOX / 2 + 30 * noise, np.inf):
        if pending.size == 0:
            break
        cells, group = np.unique(np.floor(x[pending] / side), axis=0, return_inverse=True)
        order = np.argsort(group.ravel(), kind="stable")
        ends = np.cumsum(np.bincount(group.ravel(), minlength=len(cells)))
        for cell, rows in zip(cells, np.split(pending[order], ends[:-1]), strict=True):
            lo, hi = cell * side - reach, (cell + 1) * side + reach
            near = np.all((centres >= lo) & (centres <= hi), axis=1)
            out[rows] = _sum_separable_kernel(x[rows], centres[near], log_weights[near], log_kernel)
        left_out = float(log_kernel(np.array([0.0, reach])).sum()) if reach < np.inf else -np.inf
        pending = pending[out[pending] < left_out + 25]
    return out


def _sum_separable_kernel(x: np.ndarray, centres: np.ndarray, log_weights: np.ndarray,
                          log_kernel: Callable, chunk: int = 256) -> np.ndarray:
    r"""``log sum_j w_j k(|x0 - c_j0|) k(|x1 - c_j1|)``."""
    out = np.full(len(x), -np.inf)
    if len(centres) == 0:
        return out
    for start in range(0, len(x), chunk):
        xc = x[start:start + chunk]
        log_k = (log_kernel(np.abs(xc[:, :1] - centres[None, :, 0]))
                 + log_kernel(np.abs(xc[:, 1:] - centres[None, :, 1])) + log_weights)
        out[start:start + chunk] = _logsumexp_rows(log_k)
    return out


@functools.lru_cache(maxsize=16)
def _spirals_curve(noise: float) -> tuple[np.ndarray, np.ndarray, Callable]:
    t_max = 3 * math.pi
    t, w = _curve_quadrature(0.0, t_max, lambda t: np.sqrt(1 + t**2) / 3, panel_length=3 * noise)
    centres = np.stack([-np.cos(t) * t, np.sin(t) * t], axis=1) / 3 + _SPIRAL_BOX / 2
    log_w = np.log(0.5 * w * 2 * t / t_max**2)  # half the mass per arm
    table = _interpolated(lambda d: _log_box_gauss(d, _SPIRAL_BOX, noise),
                          stop=_SPIRAL_BOX / 2 + 100 * noise, step=_SPIRAL_TABLE_STEP * noise)
    return np.concatenate([centres, -centres]), np.concatenate([log_w, log_w]), table


def _log_box_gauss(distance: np.ndarray, width: float, sigma: float) -> np.ndarray:
    r"""Log density of ``U(-width/2, width/2) + N(0, sigma^2)`` at ``distance`` from the centre."""
    from scipy.special import log_ndtr

    half = width / 2
    # Both arguments are <= half / sigma: no difference of two numbers close to 1.
    upper = log_ndtr((half - distance) / sigma)
    lower = log_ndtr(-(half + distance) / sigma)
    return upper + np.log1p(-np.exp(lower - upper)) - math.log(width)


def _interpolated(fn: Callable[[np.ndarray], np.ndarray], stop: float, step: float) -> Callable:
    r"""``fn`` on ``[0, inf)``, linearly interpolated on a table up to ``stop``, exact beyond."""
    knots = np.arange(0.0, stop + 2 * step, step)
    values = fn(knots)
    slopes = np.diff(values)

    def table(d: np.ndarray) -> np.ndarray:
        u = np.minimum(d, stop) * (1 / step)
        i = np.minimum(u.astype(np.intp), slopes.size - 1)
        out = values[i] + (u - i) * slopes[i]
        far = d > stop
        if far.any():
            out[far] = fn(d[far])
        return out

    return table


# swissroll: scikit-learn's swiss roll seen from above (columns 0 and 2), divided by 5

def _draw_swissroll(n: int, seed: int, noise: float) -> np.ndarray:
    from sklearn.datasets import make_swiss_roll

    return make_swiss_roll(n, noise=noise, random_state=seed)[0][:, [0, 2]] / 5


def _log_density_swissroll(x: np.ndarray, noise: float) -> np.ndarray:
    # make_swiss_roll: t = 1.5 pi (1 + 2 U), (t cos t, t sin t) plus N(0, noise^2) per coordinate.
    centres, log_weights = _swissroll_curve(noise)
    return _log_gaussian_along_curve(x, centres, log_weights, noise / 5)


@functools.lru_cache(maxsize=16)
def _swissroll_curve(noise: float) -> tuple[np.ndarray, np.ndarray]:
    t0, t1 = 1.5 * math.pi, 4.5 * math.pi
    t, w = _curve_quadrature(t0, t1, lambda t: np.sqrt(1 + t**2) / 5, panel_length=3 * noise / 5)
    centres = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5
    return centres, np.log(w / (t1 - t0))


# integrals along curves

def _curve_quadrature(t0: float, t1: float, speed: Callable[[np.ndarray], np.ndarray],
                      panel_length: float, order: int = 8) -> tuple[np.ndarray, np.ndarray]:
    r"""Composite Gauss-Legendre nodes and weights in ``t`` on ``[t0, t1]``, with panels of about
    ``panel_length`` in arc length (``speed`` is ``|dc/dt|``). Three noise widths per 8-node
    panel keep the log density within 1e-7 of a rule with ten times more nodes."""
    fine = np.linspace(t0, t1, 4097)
    v = speed(fine)
    arc = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(fine))])
    panels = max(4, math.ceil(arc[-1] / min(panel_length, 0.5)))
    edges = np.interp(np.linspace(0, arc[-1], panels + 1), arc, fine)
    nodes, weights = np.polynomial.legendre.leggauss(order)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    return (mid[:, None] + half[:, None] * nodes).ravel(), (half[:, None] * weights).ravel()


def _log_gaussian_along_curve(x: np.ndarray, centres: np.ndarray, log_weights: np.ndarray,
                              sigma: float, chunk: int = 256) -> np.ndarray:
    r"""``log sum_j w_j N(x; c_j, sigma^2 I)``; the cross term ``x . c_j`` is a matrix product."""
    scaled = centres.T / sigma**2
    bias = log_weights - (centres**2).sum(axis=1) / (2 * sigma**2)
    out = np.empty(len(x))
    for start in range(0, len(x), chunk):
        xc = x[start:start + chunk]
        out[start:start + chunk] = _logsumexp_rows(xc @ scaled + bias) - (xc**2).sum(1) / (
            2 * sigma**2
        )
    return out - math.log(2 * math.pi * sigma**2)


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    # In place, and without scipy's checks: this is the inner loop of every curve density.
    peak = a.max(axis=1)
    safe = np.where(np.isfinite(peak), peak, 0.0)
    a -= safe[:, None]
    np.exp(a, out=a)
    with np.errstate(divide="ignore"):
        return np.log(a.sum(axis=1)) + safe


_NOISE_HELP = "the standard deviation of the Gaussian noise"

_RECIPES: dict[str, _Recipe] = {
    "moons": _Recipe(
        "Two interleaving half circles (scikit-learn's make_moons) with Gaussian noise. "
        "The classic first test: the flow has to bend space around both arcs.",
        _draw_moons, _log_density_moons,
        {"noise": Knob(0.05, 0.02, 0.5, _NOISE_HELP)},
    ),
    "8gaussians": _Recipe(
        "Eight Gaussian blobs evenly spaced on a circle. "
        "Tests whether a flow can split its mass into separate modes.",
        _draw_8gaussians, _log_density_8gaussians,
        {"noise": Knob(0.5, 0.05, 2.0, "the standard deviation of each blob, before / 1.414")},
    ),
    "checkerboard": _Recipe(
        "Uniform density on 8 of the 16 squares of a 4x4 board, zero elsewhere. "
        "The sharp edges can only be approximated by a smooth flow.",
        _draw_checkerboard, _log_density_checkerboard, exact_entropy=math.log(32.0),
    ),
    "circles": _Recipe(
        "Two concentric noisy circles (scikit-learn's make_circles, times 3). "
        "A flow cannot tear a hole, so it has to squeeze mass around the gap.",
        _draw_circles, _log_density_circles,
        {"noise": Knob(0.08, 0.01, 0.3, _NOISE_HELP + ", before the factor 3")},
    ),
    "rings": _Recipe(
        "Four concentric noisy rings of radii 3, 2.25, 1.5 and 0.75. "
        "Thin nested structures with little room between them.",
        _draw_rings, _log_density_rings,
        {"noise": Knob(0.08, 0.01, 0.5, _NOISE_HELP)},
    ),
    "pinwheel": _Recipe(
        "Five curved arms: Gaussian blobs turned by an angle that grows with the radius. "
        "Tests curved, elongated modes.",
        _draw_pinwheel, _log_density_pinwheel,
    ),
    "2spirals": _Recipe(
        "Two interleaved spirals, each the other turned by half a circle. "
        "Long, thin, curved structures that a flow must follow.",
        _draw_2spirals, _log_density_2spirals,
        {"noise": Knob(0.1, 0.05, 0.5, _NOISE_HELP + ", on top of the uniform jitter")},
    ),
    "swissroll": _Recipe(
        "A swiss roll seen from above (scikit-learn's make_swiss_roll, divided by 5): "
        "one spiral sheet that winds out from the middle.",
        _draw_swissroll, _log_density_swissroll,
        {"noise": Knob(1.0, 0.25, 3.0, _NOISE_HELP + ", before the division by 5")},
    ),
}


# --- user data: arrays and CSV files -------------------------------------------------------------


class PointCloud(Dataset):
    r"""The user's own points: ``sample`` draws rows (without replacement while it can).

    Attributes:
        data: the rows, float32, shape ``(rows, dim)``.
        columns: the column names (from the CSV header, else ``x1, x2, ...``).
    """

    can_sample_fresh = False

    def __init__(self, data: np.ndarray, columns: tuple[str, ...], name: str, description: str,
                 notice: str | None):
        self.data, self.columns, self.name = data, columns, name
        self.dim = data.shape[1]
        self.params = {"rows": int(data.shape[0]), "columns": list(columns)}
        self.description, self.notice = description, notice

    def _draw(self, n: int, seed: int) -> np.ndarray:
        rng, rows = np.random.default_rng(seed), len(self.data)
        if n <= rows:
            return self.data[rng.choice(rows, size=n, replace=False)]
        return self.data[rng.integers(rows, size=n)]


def from_array(x: Any, name: str = "array") -> PointCloud:
    r"""Wraps an array of points (rows are points, columns are coordinates) as a dataset.

    Raises:
        ValueError: for NaN/inf or non-numbers (naming row and column, counted from 1), fewer than
            2 or more than ``MAX_COLUMNS`` columns, fewer than 10 rows, or a constant column.
            More than ``MAX_ROWS`` rows are subsampled.

    Example:
        >>> import numpy as np
        >>> from_array(np.random.default_rng(0).normal(size=(50, 3))).dim
        3
    """
    array = np.asarray(x)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows x columns), got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        array = _numbers_from_cells(array)
    columns = tuple(f"x{j + 1}" for j in range(array.shape[1]))
    return _point_cloud(array.astype(np.float64), columns, np.arange(1, len(array) + 1),
                        header=False, name=name, source="an array", notices=[])


def _numbers_from_cells(array: np.ndarray) -> np.ndarray:
    values = np.empty(array.shape)
    for (i, j), cell in np.ndenumerate(array):
        number = _parse_number(cell) if isinstance(cell, (str, bytes)) else cell
        try:
            values[i, j] = float(number)
        except (TypeError, ValueError):
            message = f"row {i + 1}, column {j + 1}: {str(cell)!r} is not a number"
            raise ValueError(message) from None
    return values


def from_csv(source: str | PathLike | bytes | Any, name: str | None = None) -> PointCloud:
    r"""Reads points from a CSV file: a path, bytes, or a file-like object (a Streamlit upload).

    The header row is optional (a first row with no number in it is a header). Separators ``,``
    ``;`` and tab are detected; a UTF-8 byte order mark is fine. Rows are numbered as in a
    spreadsheet (the header is row 1), columns from 1.

    Raises:
        ValueError: for an empty, header-only or non-UTF-8 file, ragged rows, text or NaN/inf
            cells, fewer than 2 or more than ``MAX_COLUMNS`` columns, fewer than 10 rows, a
            constant column, or more than ``MAX_CSV_BYTES`` bytes.

    Example:
        >>> rows = "x,y\n" + "\n".join(f"{i},{i * i % 7}" for i in range(12))
        >>> from_csv(rows.encode()).columns
        ('x', 'y')
    """
    raw, default_name = _read_bytes(source)
    text = _decode(raw) if isinstance(raw, bytes) else raw.removeprefix("\ufeff")
    name = name or default_name
    lines = text.splitlines()
    blank = [i for i, line in enumerate(lines) if not line.strip()]  # usually none or a few
    if len(blank) == len(lines):
        raise ValueError("the CSV file is empty")
    skip = set(blank)
    filled = (i for i in range(len(lines)) if i not in skip)  # line indices, counted from 0
    first_index = next(filled)
    delimiter = _guess_delimiter([lines[i] for i in (first_index, *itertools.islice(filled, 19))])

    notices: list[str] = []
    if lines[first_index].count(delimiter) >= 4 * MAX_COLUMNS:  # don't split a huge line into cells
        _check_column_count(lines[first_index].count(delimiter) + 1, f"the file {name!r}")
    first = next(csv.reader([lines[first_index]], delimiter=delimiter))
    header = all(_parse_number(cell) is None for cell in first)
    body_start = next((i for i in range(first_index + 1, len(lines)) if i not in skip), None) \
        if header else first_index
    if header:
        columns = _unique_names([cell.strip() or f"column {j + 1}" for j, cell in enumerate(first)],
                                notices)
        if body_start is None:
            names = ", ".join(columns)
            raise ValueError(f"the CSV file has a header row ({names}) but no data rows")
    else:
        columns = tuple(f"x{j + 1}" for j in range(len(first)))
    if len(columns) < 2:
        raise ValueError(
            f"the CSV file has 1 column; a dataset needs at least 2 (one per coordinate). "
            f"Separate the columns with a comma, a semicolon or a tab (row {first_index + 1}: "
            f"{lines[first_index][:60]!r})"
        )
    _check_column_count(len(columns), f"the file {name!r}")

    body_end = len(lines)  # trailing blank lines are harmless
    while body_end - 1 in skip:
        body_end -= 1
    if not any(body_start < i < body_end for i in blank):
        values = _parse_plain_rows(lines[body_start:body_end], delimiter, len(columns))
        if values is not None:
            row_numbers = np.arange(body_start + 1, body_end + 1)
            return _point_cloud(values, columns, row_numbers, header, name, f"the file {name!r}",
                                notices)
    # The careful path names the row and column of the first problem. One reader per line: a
    # stray quote cannot swallow the lines after it.
    body = [(i + 1, lines[i]) for i in range(body_start, body_end) if i not in skip]
    values = np.empty((len(body), len(columns)))
    for i, (number, line) in enumerate(body):
        cells = next(csv.reader([line], delimiter=delimiter))
        if len(cells) != len(columns):
            raise ValueError(
                f"row {number} has {len(cells)} cells but the {'header' if header else 'first row'}"
                f" has {len(columns)}; every row needs one value per column"
            )
        for j, cell in enumerate(cells):
            parsed = _parse_number(cell)
            if parsed is None:
                raise ValueError(f"row {number}, {_column_label(j, columns, header)}: "
                                 + _why_not_a_number(cell))
            values[i, j] = parsed
    row_numbers = np.array([number for number, _ in body])
    return _point_cloud(values, columns, row_numbers, header, name, f"the file {name!r}", notices)


def _parse_plain_rows(rows: list[str], delimiter: str, width: int) -> np.ndarray | None:
    r"""Every cell at C speed (a million rows in about a second, with little extra memory) when
    the rows are plain: no quotes, one number per cell. Anything else returns None, and the
    careful path reads the rows and names the first problem."""
    if any('"' in row for row in rows):
        return None
    try:
        values = np.loadtxt(rows, delimiter=delimiter, dtype=np.float64, ndmin=2,
                            comments=None, quotechar=None)
    except ValueError:
        return None
    return values if values.shape == (len(rows), width) else None


def _check_column_count(columns: int, source: str) -> None:
    if columns > MAX_COLUMNS:
        raise ValueError(f"{source} has {columns} columns; a flow models at most {MAX_COLUMNS} "
                         "coordinates, so keep only the columns you need")


def _read_bytes(source: Any) -> tuple[bytes | str, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), "upload"
    elif isinstance(source, (str, PathLike)):
        if isinstance(source, str) and "\n" in source:
            raise ValueError("a str is read as a file path; pass CSV text as io.StringIO(text)")
        path = Path(source)
        try:
            if path.stat().st_size > MAX_CSV_BYTES:
                raise ValueError(f"the file {path.name!r} is larger than {MAX_CSV_BYTES:,} bytes")
            data, label = path.read_bytes(), path.stem
        except OSError as error:
            raise ValueError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    elif hasattr(source, "read"):
        # A Streamlit upload may have been read before: getvalue() sees all of it.
        data = source.getvalue() if hasattr(source, "getvalue") else source.read()
        label = Path(str(getattr(source, "name", "upload"))).stem
    else:
        kind = type(source).__name__
        raise ValueError(f"expected a path, bytes or a file-like object, got {kind}")
    if len(data) > MAX_CSV_BYTES:
        raise ValueError(f"the data is larger than {MAX_CSV_BYTES:,} bytes")
    return data, label


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")  # drops a byte order mark
    except UnicodeDecodeError as error:
        raise ValueError(
            f"the file is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "save it as 'CSV UTF-8' or plain text"
        ) from None
    if "\x00" in text:
        raise ValueError("the file contains NUL bytes: it looks binary, not like CSV text")
    return text


def _guess_delimiter(lines: list[str]) -> str:
    # The separator that splits every line into the same number (> 0) of pieces; tab and
    # semicolon first, because "1,5;2,5" uses the comma as a decimal mark.
    for delimiter in ("\t", ";", ","):
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return delimiter
    return max(("\t", ";", ","), key=lambda d: lines[0].count(d))


def _parse_number(cell: str | bytes) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _why_not_a_number(cell: str) -> str:
    if not cell.strip():
        return "the cell is empty; fill it or delete the row"
    decimal_comma = _parse_number(cell.replace(",", ".")) is not None
    hint = " (use a dot as the decimal mark)" if decimal_comma else ""
    return f"{cell.strip()[:40]!r} is not a number{hint}"


def _unique_names(names: list[str], notices: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    unique = []
    for j, column in enumerate(names):
        new, k = column, 2
        while new in seen:
            new, k = f"{column}_{k}", k + 1
        if new != column:
            notices.append(f"Column {j + 1} repeats the name {column!r}; here it is {new!r}.")
        seen.add(new)
        unique.append(new)
    return tuple(unique)


def _column_label(j: int, columns: tuple[str, ...], header: bool) -> str:
    return f"column {j + 1} ({columns[j]!r})" if header else f"column {j + 1}"


def _point_cloud(values: np.ndarray, columns: tuple[str, ...], row_numbers: np.ndarray,
                 header: bool, name: str, source: str, notices: list[str]) -> PointCloud:
    rows, cols = values.shape
    if cols < 2:
        raise ValueError(f"{source} has {cols} column(s); a dataset needs at least 2")
    _check_column_count(cols, source)
    if rows < MIN_ROWS:
        raise ValueError(f"{source} has {rows} data row(s); a dataset needs at least {MIN_ROWS}")
    with np.errstate(over="ignore"):
        data = values.astype(np.float32)
    bad = ~np.isfinite(data)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        what = "is not a finite number" if not np.isfinite(values[i, j]) else "is beyond float32"
        more = f" ({bad.sum() - 1} more such cells)" if bad.sum() > 1 else ""
        raise ValueError(f"row {row_numbers[i]}, {_column_label(j, columns, header)}: "
                         f"{float(values[i, j])} {what}{more}; fix or remove those rows")
    constant = np.flatnonzero(data.min(axis=0) == data.max(axis=0))
    if constant.size:
        j = constant[0]
        raise ValueError(
            f"{_column_label(j, columns, header)} has the same value ({data[0, j]:g}) in every "
            "row; a density needs spread in every column, so remove that column"
        )
    if rows > MAX_ROWS:
        keep = np.sort(np.random.default_rng(0).choice(rows, size=MAX_ROWS, replace=False))
        data = data[keep]
        notices.append(f"The data has {rows:,} rows; a random {MAX_ROWS:,} of them (seed 0) "
                       "are used, to keep training responsive.")
    description = f"{len(data):,} points in {cols} dimensions from {source}."
    return PointCloud(data, columns, name, description, " ".join(notices) or None)


# --- user data: images ---------------------------------------------------------------------------

_IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # only these decoders ever run


class ImageDensity(Dataset):
    r"""A 2-D density proportional to the darkness of an image's pixels.

    The longer side of the image spans ``[-4, 4]``, ``y`` points up. Within a pixel the density is
    constant, so ``log_density`` and ``entropy`` are exact. Build one with :func:`from_image`.
    """

    dim = 2
    can_sample_fresh = True  # the density is known exactly: new points can always be drawn

    def __init__(self, darkness: np.ndarray, name: str, params: dict[str, Any], notice: str | None):
        height, width = darkness.shape
        pixel = 2 * IMAGE_HALF_WIDTH / max(height, width)
        # Edges are float32 numbers, so float32 samples fall in the pixel they were drawn in.
        self._x_edges = ((np.arange(width + 1) - width / 2) * pixel).astype(np.float32)
        self._y_edges = ((np.arange(height + 1) - height / 2) * pixel).astype(np.float32)
        self._mass = darkness[::-1] / darkness.sum()  # image rows go down, y goes up
        area = np.outer(np.diff(self._y_edges.astype(np.float64)),
                        np.diff(self._x_edges.astype(np.float64)))
        with np.errstate(divide="ignore"):
            self._log_pixel_density = np.log(self._mass) - np.log(area)
        positive = self._mass > 0
        self._entropy = float(-(self._mass[positive] * self._log_pixel_density[positive]).sum())
        self.name, self.params, self.notice = name, params, notice
        self.description = (f"An image as a density: darker pixels are more likely "
                            f"({width}x{height} pixels).")

    def _draw(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        height, width = self._mass.shape
        flat = rng.choice(height * width, size=n, p=self._mass.ravel())
        row, col = np.divmod(flat, width)
        points = []
        for edges, index in ((self._x_edges, col), (self._y_edges, row)):
            lo, hi = edges[index], edges[index + 1]
            coord = (lo + rng.random(n) * (hi.astype(np.float64) - lo)).astype(np.float32)
            points.append(np.clip(coord, lo, np.nextafter(hi, np.float32(-np.inf))))
        return np.stack(points, axis=1)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        x = _check_points(x, 2)
        height, width = self._mass.shape
        col = np.searchsorted(self._x_edges, x[:, 0], side="right") - 1
        row = np.searchsorted(self._y_edges, x[:, 1], side="right") - 1
        inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
        out = np.full(len(x), -np.inf)
        out[inside] = self._log_pixel_density[row[inside], col[inside]]
        return out

    def entropy(self) -> float:
        return self._entropy

    def entropy_se(self) -> float:
        return 0.0


def from_image(data: bytes | Any, max_side: int = IMAGE_MAX_SIDE,
               name: str = "image") -> ImageDensity:
    r"""A 2-D density proportional to the darkness of a PNG or JPEG (``1 - luminance / 255``).

    Transparent pixels count as white. Images larger than ``max_side`` pixels on a side are
    downsampled (averaging); the photo's EXIF orientation is applied.

    Raises:
        ValueError: for bytes that are not an image, an image with more than ``MAX_IMAGE_PIXELS``
            pixels (checked before decoding), damaged data, or an image without dark pixels.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buffer = io.BytesIO()
        >>> Image.new("L", (20, 10), color=0).save(buffer, format="PNG")
        >>> round(from_image(buffer.getvalue()).entropy(), 3)  # uniform on 8 x 4
        3.466
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not (isinstance(max_side, int) and 8 <= max_side <= 1024):
        raise ValueError(f"max_side={max_side!r} is out of range: use an integer in [8, 1024]")
    raw, _ = _read_bytes(data)
    if isinstance(raw, str) or not raw:
        raise ValueError("expected the bytes of a PNG or JPEG image, got text or nothing")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=_IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"the image has more than {MAX_IMAGE_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        raise ValueError("the data is not an image this app can read (use a PNG or JPEG)") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"the image is {width}x{height} = {width * height:,} pixels, more than "
                         f"the {MAX_IMAGE_PIXELS:,} allowed; resize it first")
    try:
        image.draft("RGB", (max_side, max_side))  # JPEG decodes straight at a reduced scale
        gray = _luminance(ImageOps.exif_transpose(image))
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"the image data is damaged or truncated ({error})") from None

    notice = None
    if max(gray.size) > max_side:
        scale = max_side / max(gray.size)
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        notice = (f"The image is {width}x{height} pixels; it was downsampled to "
                  f"{size[0]}x{size[1]}.")
        gray = gray.resize(size, Image.Resampling.BOX)  # BOX averages: darkness is conserved
    darkness = 1.0 - np.asarray(gray, dtype=np.float64) / 255.0
    if darkness.max() < 2 / 255:
        raise ValueError("the image has no dark pixels: it is blank (white or transparent). "
                         "Draw in a dark colour on a light background.")
    params = {"width": gray.width, "height": gray.height, "max_side": max_side}
    return ImageDensity(darkness, name, params, notice)


def from_grid(weights: Any, name: str = "drawing") -> ImageDensity:
    r"""A 2-D density proportional to non-negative ``weights`` on a grid of cells.

    The grid is laid out like an image (row 0 at the top) whose longer side spans ``[-4, 4]``; the
    density is constant within a cell, so it is known exactly. The dashboard's drawing canvas
    makes its dataset this way, from the cells a user marked.

    Raises:
        ValueError: for a grid that is not 2-D, larger than 1024 cells on a side, holds a
            negative or non-finite weight, or marks no cell at all.

    Example:
        >>> round(from_grid(np.ones((2, 2))).entropy(), 3)  # uniform on [-4, 4]²: log 64
        4.159
    """
    grid = np.asarray(weights, dtype=np.float64)
    if grid.ndim != 2 or min(grid.shape) < 1 or max(grid.shape) > 1024:
        raise ValueError(f"expected a 2-D grid of at most 1024x1024 cells, got shape {grid.shape}")
    if not np.isfinite(grid).all() or (grid < 0).any():
        raise ValueError("every weight must be a finite number >= 0")
    if not (grid > 0).any():
        raise ValueError("nothing is drawn: mark at least one cell")
    params = {"width": grid.shape[1], "height": grid.shape[0]}
    density = ImageDensity(grid, name, params, notice=None)
    density.description = (f"Your drawing: {int((grid > 0).sum())} cells of a "
                           f"{grid.shape[1]}x{grid.shape[0]} grid, each as likely as its weight.")
    return density


def _luminance(image: Any) -> Any:
    r"""The image in grey levels from 0 (black) to 255 (white), as a PIL image."""
    from PIL import Image

    if image.mode.startswith("I"):  # 16-bit greyscale: 0 to 65535
        return Image.fromarray(np.asarray(image, dtype=np.float32) * np.float32(255 / 65535))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent means white: composite onto white before taking the luminance.
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("L")


# --- argument checks -----------------------------------------------------------------------------


def _check_count(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} must be a positive integer (the number of points)")
    return int(n)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed!r} must be an integer in [0, 2**32 - 1]")
    return int(seed)


def _check_points(x: Any, dim: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"expected points of shape (n, {dim}), got {x.shape}")
    if not np.isfinite(x).all():
        row = np.flatnonzero(~np.isfinite(x).all(axis=1))[0]
        raise ValueError(f"the points must be finite; row {row + 1} is {x[row].tolist()}")
    return x
