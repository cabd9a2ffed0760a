r"""The true log densities of the toy recipes (see :mod:`flowcore.datasets.toys`), in raw units.

They are exact formulas or one-dimensional integrals along the curve that generates the data,
done by composite Gauss-Legendre quadrature, accurate to about 1e-6 in the log density; the
pinwheel's is a change of variables summed over every preimage, found by safeguarded Newton
steps. Each ``log_density_<name>(x, **params)`` takes float64 points ``(n, 2)`` and returns
``(n,)`` nats, ``-inf`` outside the support.

Example:
    >>> import numpy as np
    >>> round(float(log_density_checkerboard(np.array([[0.5, 0.5]]))[0]), 4)  # log(1/32)
    -3.4657
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

# scipy is imported where it is used: importing flowcore stays fast.

# moons: scikit-learn's two half circles, as a mixture along the arcs

def log_density_moons(x: np.ndarray, noise: float) -> np.ndarray:
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

EIGHT_CENTRES = 4.0 * np.array(
    [(1, 0), (-1, 0), (0, 1), (0, -1)]
    + [(sx / math.sqrt(2), sy / math.sqrt(2)) for sx in (1, -1) for sy in (1, -1)]
)
FFJORD_SCALE = 1.414  # FFJORD divides the points by 1.414, not by sqrt(2)


def log_density_8gaussians(x: np.ndarray, noise: float) -> np.ndarray:
    centres, log_w = EIGHT_CENTRES / FFJORD_SCALE, np.full(8, -math.log(8))
    return _log_gaussian_along_curve(x, centres, log_w, noise / FFJORD_SCALE)


# checkerboard: uniform on 8 of the 16 squares of side 2 in [-4, 4]^2

def log_density_checkerboard(x: np.ndarray) -> np.ndarray:
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

def log_density_circles(x: np.ndarray, noise: float) -> np.ndarray:
    # make_circles puts n // 2 points on the outer circle: half the mass on each in the limit.
    return _log_rings(x, radii=(3.0, 1.5), weights=(0.5, 0.5), sigma=3 * noise)


RING_RADII = (3.0, 2.25, 1.5, 0.75)


def log_density_rings(x: np.ndarray, noise: float) -> np.ndarray:
    return _log_rings(x, radii=RING_RADII, weights=(0.25,) * 4, sigma=noise)


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

PINWHEEL_ARMS = 5
PINWHEEL_RATE = 0.25
PINWHEEL_STD = (0.3, 0.1)  # radial, tangential
PINWHEEL_GRID = 32  # angles per circle: short brackets for the Newton steps


def log_density_pinwheel(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
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
    arms, rate, (s0, s1) = PINWHEEL_ARMS, PINWHEEL_RATE, PINWHEEL_STD
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
    grid = np.linspace(0, 2 * np.pi, PINWHEEL_GRID + 1)
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

SPIRAL_BOX = 0.5 / 3  # FFJORD adds U(0, 0.5) to each coordinate, then divides by 3
SPIRAL_TABLE_STEP = 2e-3  # log-kernel table spacing in noise units: interpolation error < 1e-6


def log_density_2spirals(x: np.ndarray, noise: float) -> np.ndarray:
    r"""A 1-D integral along the spiral of a separable kernel.

    Along arm 1 the angle ``t`` has density ``2 t / (3 pi)^2`` on ``[0, 3 pi]``; the noise of a
    coordinate is ``U(0, a) + N(0, s^2)`` with ``a = 1/6``. Its density is symmetric about ``a/2``:
    ``k(e) = [Phi((a/2 - d) / s) - Phi(-(a/2 + d) / s)] / a`` with ``d = |e - a/2|``. Arm 2 is
    arm 1 reflected through the origin, noise included, so its centres are the negated ones.

    For speed, points are grouped in square cells and each cell sums only the quadrature nodes
    within ``reach`` of it. The nodes left out weigh at most ``k(0) k(reach)`` in all (the weights
    sum to 1); a point whose density is not e^25 times that is summed again with a longer reach.
    """
    centres, log_weights, log_kernel = spirals_curve(noise)
    out = np.empty(len(x))
    pending = np.arange(len(x))
    side = 4 * noise
    for reach in (SPIRAL_BOX / 2 + 10 * noise, SPIRAL_BOX / 2 + 30 * noise, np.inf):
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
def spirals_curve(noise: float) -> tuple[np.ndarray, np.ndarray, Callable]:
    t_max = 3 * math.pi
    t, w = _curve_quadrature(0.0, t_max, lambda t: np.sqrt(1 + t**2) / 3, panel_length=3 * noise)
    centres = np.stack([-np.cos(t) * t, np.sin(t) * t], axis=1) / 3 + SPIRAL_BOX / 2
    log_w = np.log(0.5 * w * 2 * t / t_max**2)  # half the mass per arm
    table = _interpolated(lambda d: log_box_gauss(d, SPIRAL_BOX, noise),
                          stop=SPIRAL_BOX / 2 + 100 * noise, step=SPIRAL_TABLE_STEP * noise)
    return np.concatenate([centres, -centres]), np.concatenate([log_w, log_w]), table


def log_box_gauss(distance: np.ndarray, width: float, sigma: float) -> np.ndarray:
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

def log_density_swissroll(x: np.ndarray, noise: float) -> np.ndarray:
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


