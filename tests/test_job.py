"""TrainingJob: the background thread, its controls, and snapshots."""

import dataclasses
import threading
import time

import pytest
import torch

import flowcore as fc


@pytest.fixture(autouse=True)
def _float32():
    torch.set_default_dtype(torch.float32)


def make_job(steps=100_000, **kw) -> fc.TrainingJob:
    trainer = fc.Trainer(fc.FlowConfig(layers=2, hidden=16),
                         fc.TrainConfig(steps=steps, eval_every=10, batch_size=256,
                                        n_test=1000, lr=3e-3),
                         fc.datasets.get("moons"))
    return fc.TrainingJob(trainer, **kw)


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_training_makes_nll_fall_and_finishes_its_budget():
    job = make_job(steps=300)
    start = job.trainer.test_nll()
    job.start()
    assert wait_for(lambda: job.snapshot().state == "finished")
    snap = job.snapshot()
    assert snap.step == 300 and snap.history[-1]["test_nll"] < start - 0.3
    job.stop()


def test_pause_halts_the_step_count_and_resume_continues():
    job = make_job()
    job.start()
    assert wait_for(lambda: job.snapshot().step > 20)
    job.pause()
    held = job.snapshot().step
    time.sleep(0.5)
    assert job.snapshot().step == held and job.state == "paused"
    job.resume()
    assert wait_for(lambda: job.snapshot().step > held)
    job.stop()


def test_step_once_runs_exactly_k_steps_when_not_running():
    job = make_job()
    job.step_once()
    job.step_once(10)
    snap = job.snapshot()
    assert snap.step == 11 and snap.state == "paused"
    job.stop()


def test_stop_joins_the_thread():
    job = make_job()
    assert job.thread_id is None
    job.start()
    assert wait_for(lambda: job.snapshot().step > 0)
    # The id a profiler finds the training thread by (bench/live_view.py reads its schedstat).
    assert job.thread_id in {t.native_id for t in threading.enumerate()}
    assert job.thread_id != threading.get_native_id()
    job.stop()
    assert not job.alive and job.state == "stopped" and job.thread_id is None


def test_fifty_start_stop_cycles_leak_no_threads():
    before = threading.active_count()
    job = make_job()
    for _ in range(50):
        job.start()
        job.stop()
    assert threading.active_count() == before


def test_snapshots_read_while_training_are_consistent():
    job = make_job()
    job.start()
    deadline = time.monotonic() + 2.0
    seen = 0
    while time.monotonic() < deadline:
        snap = job.snapshot()
        if snap.history:
            assert snap.history[-1]["step"] <= snap.step == snap.weights_step
        assert snap.flow is not job.trainer.flow  # a private copy, never the live weights
        x = torch.zeros(4, 2)
        assert torch.isfinite(snap.flow.log_prob(x)).all()
        seen += 1
    job.stop()
    assert seen > 10


def test_stops_itself_when_nobody_reads():
    job = make_job(idle_timeout=0.5)
    job.start()
    assert wait_for(lambda: not job.alive, timeout=10)
    assert job.state == "stopped" and "nobody watched" in job.note


def test_learning_rate_changes_live():
    job = make_job()
    job.set_learning_rate(1e-4)
    job.step_once(10)
    assert job.snapshot().history[-1]["lr"] == pytest.approx(1e-4)


def test_divergence_sets_state_and_reason():
    trainer = fc.Trainer(fc.FlowConfig(layers=2, hidden=16), fc.TrainConfig(lr=10.0),
                         fc.datasets.get("moons"))
    job = fc.TrainingJob(trainer)
    job.start()
    assert wait_for(lambda: job.snapshot().state == "diverged")
    assert "learning rate" in job.snapshot().stopped_reason
    job.stop()


def test_training_goes_on_after_divergence_when_the_rate_is_lowered():
    trainer = fc.Trainer(fc.FlowConfig(layers=2, hidden=16),
                         fc.TrainConfig(lr=10.0, eval_every=5, n_test=1000),
                         fc.datasets.get("moons"))
    job = fc.TrainingJob(trainer)
    job.start()
    assert wait_for(lambda: job.snapshot().state == "diverged")
    stuck = job.snapshot().step
    job.set_learning_rate(10.0)  # the same rate does not clear the stop
    assert job.state == "diverged"
    job.set_learning_rate(1e-3)
    assert job.state == "paused" and job.snapshot().stopped_reason is None
    job.start()
    assert wait_for(lambda: job.snapshot().step > stuck + 20)
    job.stop()
    assert job.snapshot().stopped_reason is None


def test_more_jobs_than_slots_all_make_progress():
    from flowcore.job import MAX_TRAINING_JOBS

    jobs = [make_job() for _ in range(MAX_TRAINING_JOBS + 1)]
    for job in jobs:
        job.start()
    try:
        assert wait_for(lambda: all(job.snapshot().step >= 10 for job in jobs), timeout=60)
    finally:
        for job in jobs:
            job.stop()


def test_a_job_finishes_at_its_target_and_goes_on_when_the_target_is_lowered():
    job = make_job()
    job.set_target("nll", 100.0)  # met at the first evaluation
    job.start()
    assert wait_for(lambda: job.snapshot().state == "finished")
    snap = job.snapshot()
    first = snap.history[0]["step"]  # the first evaluation meets it
    assert snap.step == first and f"Reached the target at step {first:,}" in (
        snap.metrics["target_note"])
    job.set_target("nll", -100.0)  # out of reach: the run may go on
    assert job.snapshot().state == "paused"
    job.start()
    assert wait_for(lambda: job.snapshot().step >= first + 20)
    job.stop()
    assert job.snapshot().metrics["target_note"] is None


def test_the_learning_rate_and_the_stop_target_change_without_a_new_model():
    from flowcore.experiment import Experiment

    base = Experiment.from_preset("seed")
    live = dataclasses.replace(base.train, lr=3e-3, stop_at="kl", stop_below=0.05)
    assert not dataclasses.replace(base, train=live).needs_new_model(base)
    assert dataclasses.replace(base, train=dataclasses.replace(base.train, steps=5)
                               ).needs_new_model(base)
