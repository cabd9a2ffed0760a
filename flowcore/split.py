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


def split_dataset(dataset, train_config: TrainConfig) -> Split:
    r"""The training, validation and test samples.

    For a dataset that can sample (a recipe, an image, a drawing) these are three independent
    draws of ``n_train``, ``n_val`` and ``n_test`` points. For user data the rows are shuffled
    (by the seed) and cut into three disjoint parts: a test part and a validation part of at
    most ``HELD_OUT_FRACTION`` of the rows each (and at most ``n_test`` / ``n_val``), and up to
    ``n_train`` of the remaining rows for training.

    Example:
        >>> import flowcore as fc
        >>> split = split_dataset(fc.datasets.from_array(np.random.rand(100, 2)), TrainConfig())
        >>> [len(part) for part in split]
        [80, 10, 10]
    """
    seed = train_config.seed
    if dataset.can_sample_fresh:
        return Split(
            dataset.sample(train_config.n_train, seed=seed),
            dataset.sample(train_config.n_val, seed=seed_for(seed, VAL_STREAM)),
            dataset.sample(train_config.n_test, seed=seed_for(seed, TEST_STREAM)),
        )
    # Shuffled row numbers, not a shuffled copy of the rows (the same order: numpy shuffles
    # both alike): a million-row table is then copied once, by the three parts.
    order = np.random.default_rng(seed).permutation(len(dataset.data))
    held_out = max(1, int(len(order) * HELD_OUT_FRACTION))
    n_test = min(train_config.n_test, held_out)
    n_val = min(train_config.n_val, held_out)
    return Split(
        dataset.data[order[n_test + n_val:][: train_config.n_train]],
        dataset.data[order[n_test: n_test + n_val]],
        dataset.data[order[:n_test]],
    )
