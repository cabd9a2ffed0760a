"""flowcore.target: the stop target, judged on validation figures."""

import math

import pytest

import flowcore as fc
from flowcore.target import StopTarget


def test_a_kl_target_reads_the_validation_nll_as_a_kl():
    target = StopTarget.of(fc.TrainConfig(stop_at="kl", stop_below=0.05), -1.25, "moons")
    assert target.value(1.30) == pytest.approx(0.05)  # NLL - entropy: 1.30 - 1.25
    assert target.met(1.29) and target.met(1.2999) and not target.met(1.3001)
    assert "validation KL 0.0400 ≤ 0.05 nats" in target.note(1200, 1.29)
    assert "step 1,200" in target.note(1200, 1.29)


def test_an_nll_target_and_no_target():
    nll = StopTarget.of(fc.TrainConfig(stop_at="nll", stop_below=1.0), None, "my.csv")
    assert nll.met(0.99) and not nll.met(1.01) and "validation NLL" in nll.note(5, 0.99)
    none = StopTarget.of(fc.TrainConfig(), None, "my.csv")
    assert not none.met(-1e9)


def test_a_non_finite_figure_never_meets_a_target():
    target = StopTarget.of(fc.TrainConfig(stop_at="nll", stop_below=1.0), None, "x")
    assert not target.met(math.nan) and not target.met(-math.inf)


def test_a_kl_target_needs_a_known_density():
    with pytest.raises(ValueError, match="'my.csv' has none: use stop_at='nll'"):
        StopTarget.of(fc.TrainConfig(stop_at="kl", stop_below=0.1), None, "my.csv")
