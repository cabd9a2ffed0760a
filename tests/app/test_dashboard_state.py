"""The tab registry that keeps a tab's run across reloads (dashboard/state.py), and the rules of
what a sidebar change does to a run (flowcore/experiment.py)."""

import dataclasses

import pytest

import flowcore as fc
from dashboard import state
from flowcore.experiment import Experiment, continued, matching_preset
from flowcore.presets import PRESETS


class _Job:
    """The part of a TrainingJob the registry uses."""

    def __init__(self):
        self.state, self.stopped = "running", False

    def stop(self):
        self.state, self.stopped = "stopped", True

    def start(self):
        self.state, self.stopped = "running", False


def _run() -> state.SessionRun:
    return state.SessionRun(job=_Job())


def test_a_token_brings_back_its_run_only_to_a_later_session(monkeypatch):
    registry = state._Registry()
    first, second, third = object(), object(), object()
    run = _run()
    assert registry.claim("a" * 32, first, run) is run
    # While the first session holds it, no other session gets it (a duplicated tab).
    assert registry.claim("a" * 32, second, _run()) is None
    registry.release(first)  # the tab reloads: its old session ends, the run stops computing
    assert run.job.state == "stopped"
    assert registry.claim("a" * 32, third, _run()) is run  # ...the new session finds the run
    assert run.job.state == "running"  # and what trained goes on training


def test_a_released_run_stops_after_the_grace_period(monkeypatch):
    registry = state._Registry()
    holder, run = object(), _run()
    registry.claim("b" * 32, holder, run)
    clock = [1000.0]
    monkeypatch.setattr(state.time, "monotonic", lambda: clock[0])
    registry.release(holder)  # released at t = 1000
    clock[0] += state.RELOAD_GRACE_SECONDS - 1
    registry.claim("c" * 32, object(), _run())  # any claim sweeps expired runs
    assert len(registry) == 2  # b still waits for its tab
    clock[0] += 2
    registry.claim("d" * 32, object(), _run())
    assert len(registry) == 2 and registry.claim("b" * 32, object(), _run()) is not run


def test_only_a_learning_rate_change_keeps_the_model():
    seed = Experiment.from_preset("seed")
    faster = dataclasses.replace(seed, train=dataclasses.replace(seed.train, lr=2e-3))
    assert not faster.needs_new_model(seed)
    for change in ({"steps": 500}, {"batch_size": 64}, {"seed": 1}):
        other = dataclasses.replace(seed, train=dataclasses.replace(seed.train, **change))
        assert other.needs_new_model(seed), change
    assert dataclasses.replace(seed, dataset_name="circles").needs_new_model(seed)


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_is_recognised_and_a_changed_field_is_custom(name):
    preset = PRESETS[name]
    assert matching_preset(preset.flow, preset.train) == name
    wider = dataclasses.replace(preset.flow, hidden=preset.flow.hidden + 1)
    assert matching_preset(wider, preset.train) is None
    assert matching_preset(dataclasses.replace(preset.flow, dim=5), preset.train) == name


def test_continuing_adds_to_the_budget_within_its_range():
    assert continued(fc.TrainConfig(steps=700)).steps == 700 + 10_000
    most = int(fc.TrainConfig.limits("steps")[1])
    assert continued(fc.TrainConfig(steps=most)).steps == most
