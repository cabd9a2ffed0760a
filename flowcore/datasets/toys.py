r"""The toy recipes: the FFJORD densities, how to draw them, and their true densities.

The recipes follow the FFJORD code (Grathwohl et al., 2019) in its raw units; their true densities
live in :mod:`flowcore.datasets.densities`. Entropies are exact where a formula exists; at a
recipe's default parameters they come from :data:`flowcore.datasets.entropy_table.ENTROPIES`
(computed once to a standard error below 0.00025 nats); for other parameters they are a Monte
Carlo estimate made at run time to a standard error of ``ENTROPY_SE_TARGET`` nats, cached.

References:
    | FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models
    | (Grathwohl et al., 2019) https://arxiv.org/abs/1810.01367

Example:
    >>> ds = get("moons", noise=0.05)
    >>> ds.sample(4, seed=0).shape
    (4, 2)
    >>> round(ds.entropy(), 2)
    0.29
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from flowcore.config import check_range
from flowcore.datasets import densities
from flowcore.datasets.base import Dataset, check_points
from flowcore.datasets.entropy_table import ENTROPIES

# scikit-learn is imported where it is used: importing flowcore stays fast.

ENTROPY_SE_TARGET = 0.0025  # nats: Monte Carlo entropies stop once their standard error is below
_ENTROPY_BATCH = 20_000
_ENTROPY_MAX_SAMPLES = 500_000
_ENTROPY_SEED = 20_240_601  # far from the seeds a user would type, so the estimate is independent


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
        return self._recipe.log_density(check_points(x, self.dim), **self.params)

    def entropy(self) -> float | None:
        return None if self._recipe.log_density is None else self._entropy_and_se()[0]

    def entropy_se(self) -> float | None:
        return None if self._recipe.log_density is None else self._entropy_and_se()[1]

    def _entropy_and_se(self) -> tuple[float, float]:
        if self._recipe.exact_entropy is not None:
            return self._recipe.exact_entropy, 0.0
        tabled = ENTROPIES.get(self.name)
        if tabled is not None and tabled["params"] == self.params:
            return tabled["entropy"], tabled["se"]
        return _toy_entropy(self.name, tuple(sorted(self.params.items())))


@functools.lru_cache(maxsize=64)
def _toy_entropy(name: str, params: tuple[tuple[str, float], ...]) -> tuple[float, float]:
    # Keyed on the parameters, so every get("moons", noise=0.1) shares one estimate.
    entropy, se, _ = monte_carlo_entropy(ToyDataset(name, dict(params)))
    return entropy, se


def monte_carlo_entropy(dataset: Dataset, se_target: float = ENTROPY_SE_TARGET,
                        max_samples: int = _ENTROPY_MAX_SAMPLES,
                        seed: int = _ENTROPY_SEED) -> tuple[float, float, int]:
    r"""Estimates the entropy ``-E[log p(x)]`` from the recipe's own samples, in batches of
    20,000 (batch ``i`` drawn with seed ``seed + i``), until the standard error is below
    ``se_target`` or ``max_samples`` points are used.

    Returns:
        ``(entropy, standard_error, samples)``: nats, nats, and the number of points used.

    Example:
        >>> h, se, n = monte_carlo_entropy(get("8gaussians"), se_target=0.01)
        >>> se < 0.01 and n % 20_000 == 0
        True
    """
    total = squares = shift = 0.0
    n = 0
    for batch in range(max(1, max_samples // _ENTROPY_BATCH)):
        nll = -dataset.log_density(dataset.sample(_ENTROPY_BATCH, seed=seed + batch))
        # Running sums around a first-batch shift: the variance stays exact in float64.
        if n == 0:
            shift = float(nll.mean())
        total += float((nll - shift).sum())
        squares += float(((nll - shift) ** 2).sum())
        n += nll.size
        mean = total / n
        se = math.sqrt(max(0.0, (squares - n * mean**2) / (n - 1)) / n)
        if se < se_target:
            break
    return shift + mean, se, n


def names() -> tuple[str, ...]:
    r"""The names of the toy datasets, in the order the UI lists them."""
    return tuple(_RECIPES)


def knobs(name: str) -> dict[str, Knob]:
    r"""The parameters a user can set for toy dataset ``name``, with defaults and ranges."""
    return dict(_recipe(name).knobs)


def exact_entropy(name: str) -> float | None:
    r"""The entropy of toy dataset ``name`` where a formula gives it (any parameters), else None.

    Example:
        >>> round(exact_entropy("checkerboard"), 4), exact_entropy("moons")
        (3.4657, None)
    """
    return _recipe(name).exact_entropy


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
        note = f" (default {knob.default}): {knob.help}"
        values[key] = check_range(f"{name} {key}", params.get(key, knob.default), knob.low,
                                  knob.high, note=note)
    return ToyDataset(name, values)


def _recipe(name: str) -> _Recipe:
    if name not in _RECIPES:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(_RECIPES)}")
    return _RECIPES[name]



# --- how each recipe draws its points -------------------------------------------------------

def _draw_moons(n: int, seed: int, noise: float) -> np.ndarray:
    from sklearn.datasets import make_moons

    return make_moons(n, noise=noise, random_state=seed)[0]


def _draw_8gaussians(n: int, seed: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = densities.EIGHT_CENTRES[rng.integers(8, size=n)]
    return (centres + noise * rng.standard_normal((n, 2))) / densities.FFJORD_SCALE


def _draw_checkerboard(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x1 = rng.random(n) * 4 - 2
    x2 = rng.random(n) - rng.integers(0, 2, size=n) * 2 + np.floor(x1) % 2
    return np.stack([x1, x2], axis=1) * 2


def _draw_circles(n: int, seed: int, noise: float) -> np.ndarray:
    from sklearn.datasets import make_circles

    return 3 * make_circles(n, factor=0.5, noise=noise, random_state=seed)[0]


def _draw_rings(n: int, seed: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = [n // 4] * 3 + [n - 3 * (n // 4)]
    angles = np.concatenate([np.linspace(0, 2 * np.pi, c, endpoint=False) for c in counts])
    radii = np.repeat(densities.RING_RADII, counts)
    points = radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return rng.permutation(points) + rng.normal(scale=noise, size=(n, 2))


def _draw_pinwheel(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    arm_angles = np.linspace(0, 2 * np.pi, densities.PINWHEEL_ARMS, endpoint=False)
    features = rng.standard_normal((n, 2)) * densities.PINWHEEL_STD
    features[:, 0] += 1
    arm = arm_angles[np.arange(n) % densities.PINWHEEL_ARMS]
    angles = arm + densities.PINWHEEL_RATE * np.exp(features[:, 0])
    c, s = np.cos(angles), np.sin(angles)
    # FFJORD's einsum("ti,tij->tj", f, [[c, -s], [s, c]]) turns f by -angle.
    rotated = np.stack([c * features[:, 0] + s * features[:, 1],
                        -s * features[:, 0] + c * features[:, 1]], axis=1)
    return 2 * rng.permutation(rotated)


def _draw_2spirals(n: int, seed: int, noise: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = n - n // 2
    t = np.sqrt(rng.random(m)) * 540 * (2 * np.pi) / 360
    d1 = np.stack([-np.cos(t) * t + rng.random(m) * 0.5, np.sin(t) * t + rng.random(m) * 0.5], 1)
    points = np.concatenate([d1, -d1[: n // 2]]) / 3
    return rng.permutation(points) + rng.normal(scale=noise, size=(n, 2))


def _draw_swissroll(n: int, seed: int, noise: float) -> np.ndarray:
    from sklearn.datasets import make_swiss_roll

    return make_swiss_roll(n, noise=noise, random_state=seed)[0][:, [0, 2]] / 5



_NOISE_HELP = "the standard deviation of the Gaussian noise"

_RECIPES: dict[str, _Recipe] = {
    "moons": _Recipe(
        "Two interleaving half circles (scikit-learn's make_moons) with Gaussian noise. "
        "The classic first test: the flow has to bend space around both arcs.",
        _draw_moons, densities.log_density_moons,
        {"noise": Knob(0.05, 0.02, 0.5, _NOISE_HELP)},
    ),
    "8gaussians": _Recipe(
        "Eight Gaussian blobs evenly spaced on a circle. "
        "Tests whether a flow can split its mass into separate modes.",
        _draw_8gaussians, densities.log_density_8gaussians,
        {"noise": Knob(0.5, 0.05, 2.0, "the standard deviation of each blob, before / 1.414")},
    ),
    "checkerboard": _Recipe(
        "Uniform density on 8 of the 16 squares of a 4x4 board, zero elsewhere. "
        "The sharp edges can only be approximated by a smooth flow.",
        _draw_checkerboard, densities.log_density_checkerboard, exact_entropy=math.log(32.0),
    ),
    "circles": _Recipe(
        "Two concentric noisy circles (scikit-learn's make_circles, times 3). "
        "A flow cannot tear a hole, so it has to squeeze mass around the gap.",
        _draw_circles, densities.log_density_circles,
        {"noise": Knob(0.08, 0.01, 0.3, _NOISE_HELP + ", before the factor 3")},
    ),
    "rings": _Recipe(
        "Four concentric noisy rings of radii 3, 2.25, 1.5 and 0.75. "
        "Thin nested structures with little room between them.",
        _draw_rings, densities.log_density_rings,
        {"noise": Knob(0.08, 0.01, 0.5, _NOISE_HELP)},
    ),
    "pinwheel": _Recipe(
        "Five curved arms: Gaussian blobs turned by an angle that grows with the radius. "
        "Tests curved, elongated modes.",
        _draw_pinwheel, densities.log_density_pinwheel,
    ),
    "2spirals": _Recipe(
        "Two interleaved spirals, each the other turned by half a circle. "
        "Long, thin, curved structures that a flow must follow.",
        _draw_2spirals, densities.log_density_2spirals,
        {"noise": Knob(0.1, 0.05, 0.5, _NOISE_HELP + ", on top of the uniform jitter")},
    ),
    "swissroll": _Recipe(
        "A swiss roll seen from above (scikit-learn's make_swiss_roll, divided by 5): "
        "one spiral sheet that winds out from the middle.",
        _draw_swissroll, densities.log_density_swissroll,
        {"noise": Knob(1.0, 0.25, 3.0, _NOISE_HELP + ", before the division by 5")},
    ),
}

