"""flowcore.curves: a run's curves in its model file, read defensively (the file is an upload)."""

import pytest

from flowcore import curves


def test_thinning_keeps_the_last_entry_and_at_most_the_limit():
    entries = [{"step": s} for s in range(1, 1001)]
    thinned = curves.thin(entries, 200)
    assert len(thinned) <= 200 and thinned[-1] == entries[-1]
    steps = [e["step"] for e in thinned]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert curves.thin(entries[:5], 200) == entries[:5]


def test_a_file_round_trip_resumes_at_the_saved_weights_step():
    history = [{"step": s, "time": s / 10, "val_nll": 2.0 - s / 1000} for s in range(25, 501, 25)]
    losses = [{"step": s, "time": s / 10, "train_nll": 2.0} for s in range(1, 501)]
    info = {"metrics": {"best_step": 300}, **curves.for_file(history, losses)}
    resumed = curves.read(info)
    assert resumed.step == 300 and resumed.seconds == pytest.approx(30.0)
    assert [r["step"] for r in resumed.history] == list(range(25, 300, 25))
    assert all(e["step"] <= 300 for e in resumed.loss_history)


@pytest.mark.parametrize("bad", [
    {"metrics": {"best_step": -3}, "history": []},
    {"metrics": {"best_step": True}},
    {"metrics": {"best_step": 50}, "history": [{"step": 10, "time": "x", "val_nll": 1.0}]},
    {"metrics": {"best_step": 50}, "history": [{"step": 20, "time": 1, "val_nll": 1.0},
                                               {"step": 10, "time": 2, "val_nll": 1.0}]},
    {"metrics": "no", "history": "no"},
])
def test_resume_ignores_curves_that_are_not_well_formed(bad):
    resumed = curves.read(bad)
    assert resumed.history == [] and resumed.loss_history == []
    assert resumed.step in (0, 50) and resumed.seconds == 0.0


