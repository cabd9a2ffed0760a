"""flowcore.split: the three disjoint samples, and the one rule for their sizes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import flowcore as fc
from flowcore.datasets.base import MIN_ROWS
from flowcore.presets import fixed_data_recipe
from flowcore.split import part_sizes, split_dataset


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(MIN_ROWS, 5000), n_train=st.integers(10, 4000), n_val=st.integers(10, 600),
       n_test=st.integers(10, 600), seed=st.integers(0, 2**31 - 1))
def test_a_table_is_cut_into_disjoint_parts_of_the_stated_sizes(rows, n_train, n_val, n_test,
                                                                seed):
    table = fc.datasets.from_array(np.arange(rows * 2, dtype=np.float32).reshape(rows, 2))
    config = fc.TrainConfig(n_train=n_train, n_val=n_val, n_test=n_test, seed=seed)
    sizes = part_sizes(table, config)
    parts = split_dataset(table, config)
    assert tuple(len(p) for p in parts) == sizes
    rows_of = [set(p[:, 0].tolist()) for p in parts]
    assert sum(len(r) for r in rows_of) == len(set().union(*rows_of))  # disjoint
    held_out = max(1, int(rows * fc.split.HELD_OUT_FRACTION))
    assert sizes[1] == min(n_val, held_out) and sizes[2] == min(n_test, held_out)
    assert sizes[0] == min(n_train, rows - sizes[1] - sizes[2])


def test_a_sampler_draws_each_part_independently():
    moons = fc.datasets.get("moons")
    config = fc.TrainConfig(n_train=300, n_val=200, n_test=100, seed=3)
    parts = split_dataset(moons, config)
    assert tuple(len(p) for p in parts) == part_sizes(moons, config) == (300, 200, 100)
    assert not np.allclose(parts[0][:100], parts[2])


def test_the_fixed_data_recipe_is_sized_for_the_rows_that_really_train():
    """The recipe's step count is a number of passes over the rows the Trainer trains on."""
    table = fc.datasets.from_array(np.random.default_rng(0).normal(size=(730, 2)))
    recipe = fixed_data_recipe(table)
    trainer = fc.Trainer(recipe.flow, recipe.train, table)
    rows = trainer.split_sizes["train"]
    assert recipe.train.steps == fc.presets.fixed_data_steps(
        rows, recipe.train.batch_size, fc.presets.PRESETS["best"].train.steps)
