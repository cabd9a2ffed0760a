"""The tab registry that keeps a tab's run across reloads (dashboard/state.py)."""

from dashboard import state


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
