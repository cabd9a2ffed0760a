"""flowcore.presets: the fixed-data rule (issue 11), pinned in steps, not seconds."""

import dataclasses

import numpy as np
import pytest
import torch

import flowcore as fc
from bench.common import external_kl, task_points
from flowcore.presets import (
    DEFAULT_PRESET,
    FIXED_DATA_BINS,
    FIXED_DATA_EPOCHS,
    FIXED_DATA_WEIGHT_DECAY,
    MIN_FIXED_STEPS,
    PRESETS,
    SMALL_DATA_ROWS,
    fixed_data_jitter,
    fixed_data_preset,
    fixed_data_steps,
)

BEST = PRESETS[DEFAULT_PRESET]


def training_rows(dataset) -> int:
    """The rows the CLI's split leaves to train on (the split does not depend on the flow)."""
    flow = dataclasses.replace(BEST.flow, dim=dataset.dim, layers=1, hidden=2)
    train = dataclasses.replace(BEST.train, data_mode="fixed")
    return fc.Trainer(flow, train, dataset).split_sizes["train"]


def params(preset) -> int:
    return sum(p.numel() for p in fc.build_flow(preset.flow).parameters())


@pytest.mark.parametrize("n", [50, 400, 2400, 5000, 20_000, 1_000_000])
def test_schedule_spans_a_fixed_number_of_passes_over_the_rows(n):
    preset = fixed_data_preset(n)
    train = preset.train
    assert train.data_mode == "fixed" and train.schedule == "cosine"
    batch = min(train.batch_size or n, n)
    passes = train.steps * batch / n
    if MIN_FIXED_STEPS < train.steps < BEST.train.steps:
        assert passes == pytest.approx(FIXED_DATA_EPOCHS, rel=0.01)
    else:  # clipped: tiny samples get the shortest schedule, huge ones the default's
        assert train.steps in (MIN_FIXED_STEPS, BEST.train.steps)
    assert f"{train.steps:,} steps" in preset.description


def test_capacity_and_length_grow_with_the_data():
    sizes = [50, 400, 2400, SMALL_DATA_ROWS, SMALL_DATA_ROWS + 1, 100_000]
    presets = [fixed_data_preset(n) for n in sizes]
    counts = [params(p) for p in presets]
    steps = [p.train.steps for p in presets]
    assert counts == sorted(counts) and steps == sorted(steps)
    # small samples: less to memorise with; large ones the default's layers (with fewer bins)
    assert counts[0] < counts[-1] and presets[-1].flow.layers == BEST.flow.layers
    assert presets[2].flow.layers < BEST.flow.layers
    # the jitter falls as the data grows
    jitters = [p.train.jitter for p in presets]
    assert jitters == sorted(jitters, reverse=True) and jitters[-1] > 0 == BEST.train.jitter
    # only the size, the length, the decay and the jitter adapt: the rest is the default's
    for p in presets:
        assert p.train.weight_decay == FIXED_DATA_WEIGHT_DECAY > BEST.train.weight_decay
        assert dataclasses.replace(p.train, steps=BEST.train.steps, weight_decay=0.0, jitter=0.0,
                                   data_mode=BEST.train.data_mode) == BEST.train
        assert p.flow.bins == min(BEST.flow.bins, FIXED_DATA_BINS)
        assert dataclasses.replace(p.flow, layers=BEST.flow.layers, bins=BEST.flow.bins) \
            == BEST.flow


def test_jitter_rule_is_one_over_root_n_to_two_figures():
    for n in (1, 10, 400, 2400, 3000, 10**6):
        assert fixed_data_jitter(n) == pytest.approx(n ** -0.5, rel=0.05)


def test_jitter_noises_fixed_batches_only_and_leaves_the_held_out_points_alone():
    rows = np.random.default_rng(0).normal(size=(1000, 2)) * [1.0, 10.0]
    table = fc.datasets.from_array(rows)
    flow = dataclasses.replace(BEST.flow, layers=1, hidden=4)
    plain = dataclasses.replace(BEST.train, data_mode="fixed", batch_size=0, seed=3)
    noisy = fc.Trainer(flow, dataclasses.replace(plain, jitter=0.1), table)
    clean = fc.Trainer(flow, plain, table)
    assert torch.equal(noisy.val_data, clean.val_data)
    assert torch.equal(noisy.test_data, clean.test_data)
    assert torch.equal(clean._batch(), clean.train_data)
    offset = noisy._batch() - noisy.train_data  # the full batch, row for row
    # 0.1 of each column's standard deviation, independent draws every step
    scale = 0.1 * noisy.train_data.std(0)
    assert torch.allclose(offset.std(0) / scale, torch.ones(2), atol=0.1)
    assert not torch.equal(noisy._batch() - noisy.train_data, offset)


def test_steps_rule_handles_full_batch_and_small_samples():
    assert fixed_data_steps(2400, 0, 10**6) == FIXED_DATA_EPOCHS  # full batch: a step a pass
    assert fixed_data_steps(100, 512, 10**6) == max(MIN_FIXED_STEPS, FIXED_DATA_EPOCHS)
    assert fixed_data_steps(10**7, 512, 20_000) == 20_000


def train_fixed(rows: np.ndarray, max_seconds: float = 0.0) -> fc.Trainer:
    """What `flowcore train --data FILE` runs on these rows (step-based evaluations)."""
    dataset = fc.datasets.from_array(rows)
    preset = fixed_data_preset(training_rows(dataset))
    train = dataclasses.replace(preset.train, eval_seconds=0.0, max_seconds=max_seconds)
    trainer = fc.Trainer(dataclasses.replace(preset.flow, dim=rows.shape[1]), train, dataset)
    while not trainer.budget_spent and not trainer.stopped_reason:
        trainer.step(min(train.eval_every, train.steps - trainer.step_count))
    return trainer


@pytest.fixture(scope="module")
def moons_run() -> fc.Trainer:
    torch.set_num_threads(1)  # deterministic and the same speed under load
    return train_fixed(task_points())


def test_fixed_moons_fit_within_the_issue_goal(moons_run):
    # The seed task as a CSV: KL of the kept weights (chosen on the file's validation rows) on
    # the external test set make_moons(20000, noise=0.05, random_state=1).
    kl, se = external_kl(moons_run.best_flow())
    assert moons_run.step_count == fixed_data_preset(2400).train.steps
    # The issue's goal (0.03; bench.fixed_data measures it in seconds). 0.024 measured at seed 0.
    assert kl <= 0.03, f"KL {kl:.4f} ± {se:.4f} nats"
    assert moons_run.best_step >= moons_run.step_count // 2  # the annealed end is what is kept


def test_a_longer_time_budget_gives_the_same_model():
    # The run ends at the rule's steps however long the budget (the cosine follows the steps
    # while time is ample): 60 s can be no worse than 30 s.
    rows = task_points(500)
    plain, longer = train_fixed(rows), train_fixed(rows, max_seconds=86_400.0)
    assert longer.step_count == plain.step_count == fixed_data_preset(400).train.steps
    assert longer.best_step == plain.best_step
    for a, b in zip(longer.best_flow().state_dict().values(),
                    plain.best_flow().state_dict().values(), strict=True):
        assert torch.equal(a, b)
