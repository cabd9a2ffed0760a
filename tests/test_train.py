"""The Trainer: learning happens, determinism, best weights, divergence handling."""

import math

import numpy as np
import pytest
import torch

import flowcore as fc


@pytest.fixture(autouse=True)
def _float32():
    # Training runs in float32, like the app.
    torch.set_default_dtype(torch.float32)


def small(arch="realnvp", **train):
    cfg = fc.FlowConfig(arch=arch, layers=4, hidden=32)
    tcfg = fc.TrainConfig(**{"steps": 400, "eval_every": 50, "n_test": 2000, **train})
    return cfg, tcfg


def test_quality_within_a_small_budget_on_8gaussians():
    # Measured: KL about 0.3 nats after 400 steps at lr 5e-3 (batch 256); the bound has margin.
    ds = fc.datasets.get("8gaussians")
    trainer = fc.Trainer(*small("nsf", lr=5e-3, batch_size=256), ds)
    start = trainer.test_nll()
    metrics = trainer.step(400)
    assert metrics["step"] == 400 and trainer.stopped_reason is None
    assert metrics["test_nll"] < start - 1.0
    assert metrics["best_kl"] < 0.6, metrics


def test_same_seed_same_history_and_weights():
    ds = fc.datasets.get("moons")
    runs = []
    for _ in range(2):
        trainer = fc.Trainer(*small(batch_size=128, data_mode="fresh", steps=60,
                                    eval_every=20), ds)
        trainer.step(60)
        runs.append(trainer)
    keys = ("step", "train_nll", "test_nll", "grad_norm")
    history = [[{k: r[k] for k in keys} for r in t.history] for t in runs]
    assert history[0] == history[1] and len(history[0]) == 3
    for a, b in zip(runs[0].flow.state_dict().values(), runs[1].flow.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def test_history_records_every_eval_interval_with_kl():
    ds = fc.datasets.get("moons")
    trainer = fc.Trainer(*small(eval_every=10, steps=30), ds)
    trainer.step(30)
    assert [r["step"] for r in trainer.history] == [10, 20, 30]
    for r in trainer.history:
        assert r["kl"] == pytest.approx(r["test_nll"] - ds.entropy())
        assert r["steps_per_s"] > 0 and r["grad_norm"] >= 0


def test_keeps_the_best_weights():
    ds = fc.datasets.get("moons")
    trainer = fc.Trainer(*small(eval_every=10, steps=100, lr=3e-3), ds)
    trainer.step(100)
    best = min(r["test_nll"] for r in trainer.history)
    assert trainer.best_test_nll == best
    assert trainer.test_nll(trainer.best_flow()) == pytest.approx(best, abs=1e-6)


@pytest.mark.parametrize("arch", fc.ARCHITECTURES)
@pytest.mark.parametrize("lr", [1.0, 10.0])
def test_divergence_stops_restores_and_never_raises(arch, lr):
    ds = fc.datasets.get("moons")
    trainer = fc.Trainer(*small(arch, lr=lr, eval_every=5), ds)
    before = {k: v.clone() for k, v in trainer.flow.state_dict().items()}
    metrics = trainer.step(300)
    assert trainer.stopped_reason is not None, f"lr={lr} did not diverge in 300 steps"
    assert metrics["step"] < 100
    assert "lower learning rate" in trainer.stopped_reason
    state = trainer.flow.state_dict()
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    assert math.isfinite(trainer.test_nll())
    if metrics["step"] < 5:  # nothing was recorded yet: the initial weights came back
        assert all(torch.equal(before[k], state[k]) for k in state)
    assert trainer.step(10)["step"] == metrics["step"]  # stopped trainers do nothing


def test_schedule_warmup_then_cosine():
    ds = fc.datasets.get("moons")
    trainer = fc.Trainer(*small(schedule="cosine", warmup=10, steps=110, lr=1e-2), ds)
    assert trainer.learning_rate(0) == pytest.approx(1e-3)
    assert trainer.learning_rate(9) == pytest.approx(1e-2)
    assert trainer.learning_rate(60) == pytest.approx(5e-3)
    assert trainer.learning_rate(110) == pytest.approx(0.0, abs=1e-12)
    trainer.set_learning_rate(2e-2)
    assert trainer.learning_rate(60) == pytest.approx(1e-2)
    with pytest.raises(ValueError, match="lr"):
        trainer.set_learning_rate(-1)


def test_user_data_is_split_into_disjoint_train_and_test():
    x = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    ds = fc.datasets.from_array(x)
    trainer = fc.Trainer(fc.FlowConfig(dim=3, layers=2, hidden=8), fc.TrainConfig(), ds)
    train = {tuple(r) for r in trainer.train_data.numpy()}
    test = {tuple(r) for r in trainer.test_data.numpy()}
    assert len(train) + len(test) == 500 and not train & test
    with pytest.raises(ValueError, match="fresh"):
        fc.Trainer(fc.FlowConfig(dim=3), fc.TrainConfig(data_mode="fresh"), ds)


def test_dimension_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="dim"):
        fc.Trainer(fc.FlowConfig(dim=3), fc.TrainConfig(), fc.datasets.get("moons"))


def test_continue_training_a_loaded_flow():
    ds = fc.datasets.get("moons")
    first = fc.Trainer(*small(steps=50), ds)
    first.step(50)
    loaded = fc.load(fc.to_bytes(first.flow))
    second = fc.Trainer(loaded.config, first.config, ds, flow=loaded)
    assert second.test_nll() == pytest.approx(first.test_nll(), abs=1e-5)
    second.step(20)
    assert second.step_count == 20
