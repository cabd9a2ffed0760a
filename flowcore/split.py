"""The three disjoint samples a Trainer uses: training, validation and test.

The training sample is what the flow learns from, the validation sample chooses the weights that
are kept, and the test sample only reports (test NLL, KL), so every reported figure comes from
data that chose nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flowcore.config import TrainConfig

# For user data (rows, not a sampler): at most this fraction of the rows is held out for
# validation, and the same again for the test, so 80% still trains.
HELD_OUT_FRACTION = 0.1

# Independent random streams of one seed: the test set, the training batches, validation.
TEST_STREAM, BATCH_STREAM, VAL_STREAM = 0, 1, 2


def seed_for(seed: int, stream: int, step: int = 0) -> int:
    """A well-mixed, reproducible data seed, distinct per stream (test set, batches) and step."""
    return int(np.random.SeedSequence([seed, stream, step]).generate_state(1)[0])


class Split(NamedTuple):
    """The three disjoint samples a :class:`Trainer` uses, each an ``(n, dim)`` array."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def part_sizes(dataset, train_config: TrainConfig) -> tuple[int, int, int]:
    r"""How many points train, validate and test (:func:`split_dataset`'s rule).

    A dataset that can sample draws ``n_train``, ``n_val`` and ``n_test`` points. User data
    holds out a test part and a validation part of at most ``HELD_OUT_FRACTION`` of its rows
    each (and at most ``n_test`` / ``n_val``), and trains on up to ``n_train`` of the rest.

    Example:
        >>> import flowcore as fc
        >>> part_sizes(fc.datasets.from_array(np.random.rand(100, 2)), TrainConfig())
        (80, 10, 10)
    """
    c = train_config
    if dataset.can_sample_fresh:
        return c.n_train, c.n_val, c.n_test
    rows = len(dataset.data)
    held_out = max(1, int(rows * HELD_OUT_FRACTION))
    n_test, n_val = min(c.n_test, held_out), min(c.n_val, held_out)
    return min(c.n_train, max(0, rows - n_test - n_val)), n_val, n_test


def split_dataset(dataset, train_config: TrainConfig) -> Split:
    r"""The training, validation and test samples, of :func:`part_sizes`.

    For a dataset that can sample (a recipe, an image, a drawing) these are three independent
    draws. For user data the rows are shuffled (by the seed) and cut into three disjoint parts.

    Example:
        >>> import flowcore as fc
        >>> split = split_dataset(fc.datasets.from_array(np.random.rand(100, 2)), TrainConfig())
        >>> [len(part) for part in split]
        [80, 10, 10]
    """
    seed = train_config.seed
    n_train, n_val, n_test = part_sizes(dataset, train_config)
    if dataset.can_sample_fresh:
        return Split(
            dataset.sample(n_train, seed=seed),
            dataset.sample(n_val, seed=seed_for(seed, VAL_STREAM)),
            dataset.sample(n_test, seed=seed_for(seed, TEST_STREAM)),
        )
    # Shuffled row numbers, not a shuffled copy of the rows (the same order: numpy shuffles
    # both alike): a million-row table is then copied once, by the three parts.
    order = np.random.default_rng(seed).permutation(len(dataset.data))
    return Split(
        dataset.data[order[n_test + n_val:][:n_train]],
        dataset.data[order[n_test: n_test + n_val]],
        dataset.data[order[:n_test]],
    )
