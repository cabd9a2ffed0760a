"""Issue 6, divergence and bounds, through the app's sidebar and through the API.

- A learning rate of 1 or 10 on every architecture: Train stops within a few steps, the status
  explains it and suggests a lower learning rate, no panel shows NaN, nothing raises, and lowering
  the rate in the sidebar (it applies live) lets Train go on from the last good weights.
- Every numeric sidebar input has exactly the range that flowcore validates, and values outside
  that range raise ValueError through the API.
"""

import dataclasses
import math
import re

import pytest
from app_helpers import (
    chart_problems,
    new_app,
    run_until,
    status,
    step_of,
    stop_all_jobs,
)

import flowcore as fc
from flowcore import datasets

pytestmark = pytest.mark.usefixtures("float32", "own_sessions")

# The divergence set-up of tests/test_train.py (every architecture diverges there in < 100 steps).
DIVERGE = {"layers": "4", "hidden": "32", "batch_size": "0", "n_train": "3000"}
NONFINITE = re.compile(r"\b(nan|inf|-inf|infinity)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def app():
    at = new_app(DIVERGE)
    yield at
    stop_all_jobs()


def _panel_texts(at) -> str:
    """The status line, the progress text and the sidebar's run line (not the explanation)."""
    return "\n".join([status(at), *(str(p.value) for p in at.get("progress")),
                      *(c.value for c in at.sidebar.caption if c.value.startswith("Run:"))])


def _warnings(at) -> list[str]:
    return [w.value for w in at.warning]


@pytest.mark.parametrize("lr", [1.0, 10.0])
@pytest.mark.parametrize("arch", fc.ARCHITECTURES)
def test_divergence_is_explained_and_training_goes_on_at_a_lower_rate(app, arch, lr):
    app.selectbox(key="arch").select(arch).run()
    app.number_input(key="lr").set_value(lr).run()
    app.button(key="reset").click().run()
    assert not app.exception and "idle" in status(app) and step_of(app) == 0

    app.button(key="train").click().run()
    assert run_until(app, lambda a: "diverged" in status(a), timeout=60), (
        f"{arch} at lr={lr} did not diverge: {status(app)}")
    stuck = step_of(app)
    assert stuck < 100, f"training went on for {stuck} steps before stopping"
    warnings = _warnings(app)
    assert any("diverged" in w and "lower learning rate" in w for w in warnings), warnings
    assert not chart_problems(app), chart_problems(app)
    assert not NONFINITE.search(_panel_texts(app)), _panel_texts(app)
    app.run()  # a later rerun (a click elsewhere) still explains it and raises nothing
    assert not app.exception and "diverged" in status(app)

    # Lowering the rate applies live and clears the stop; Train goes on from the restored weights.
    app.number_input(key="lr").set_value(1e-3).run()
    assert not app.exception
    assert "paused" in status(app), status(app)
    assert not any("diverged" in w for w in _warnings(app)), _warnings(app)
    app.button(key="train").click().run()
    assert run_until(app, lambda a: step_of(a) >= stuck + 20 or "diverged" in status(a),
                     timeout=60), status(app)
    assert "diverged" not in status(app), _warnings(app)
    assert not chart_problems(app), chart_problems(app)
    assert not NONFINITE.search(_panel_texts(app)), _panel_texts(app)
    app.button(key="pause").click().run()
    assert not app.exception


# -- bounds ---------------------------------------------------------------------------------------
def _ranged(cls):
    return [f.name for f in dataclasses.fields(cls) if "range" in f.metadata]


def _expected_range(key: str, dataset: str) -> tuple[float, float]:
    for cls in (fc.FlowConfig, fc.TrainConfig):
        if key in _ranged(cls):
            return cls.limits(key)
    prefix = f"{dataset}-"
    if key.startswith(prefix) and key[len(prefix):] in datasets.knobs(dataset):
        knob = datasets.knobs(dataset)[key[len(prefix):]]
        return knob.low, knob.high
    raise AssertionError(f"the numeric sidebar input {key!r} has no range in flowcore")


def _sidebar_numbers(at):
    return list(at.sidebar.number_input) + list(at.sidebar.slider)


@pytest.mark.parametrize("arch", fc.ARCHITECTURES)
def test_every_numeric_sidebar_input_has_the_api_range(app, arch):
    app.selectbox(key="arch").select(arch).run()
    assert not app.exception
    widgets = _sidebar_numbers(app)
    assert len(widgets) >= 9
    for widget in widgets:
        assert widget.key, f"numeric input {widget.label!r} has no key"
        lo, hi = _expected_range(widget.key, app.selectbox(key="dataset").value)
        assert widget.min is not None and widget.max is not None, f"{widget.key} is unbounded"
        assert (widget.min, widget.max) == (lo, hi), (
            f"{widget.key}: the UI allows [{widget.min}, {widget.max}], flowcore [{lo}, {hi}]")
    if arch == "nsf":
        assert "bins" in {w.key for w in widgets}


def test_every_dataset_knob_slider_has_the_api_range(app):
    for name in datasets.names():
        app.selectbox(key="dataset").select(name).run()
        assert not app.exception
        sliders = {w.key: w for w in app.sidebar.slider}
        for knob_name, knob in datasets.knobs(name).items():
            slider = sliders[f"{name}-{knob_name}"]
            assert (slider.min, slider.max) == (knob.low, knob.high), (name, knob_name)
    app.selectbox(key="dataset").select("moons").run()


RANGED = [(cls, name) for cls in (fc.FlowConfig, fc.TrainConfig) for name in _ranged(cls)]


@pytest.mark.parametrize("cls, name", RANGED, ids=[f"{c.__name__}.{n}" for c, n in RANGED])
def test_out_of_range_values_raise_a_value_error_naming_the_field(cls, name):
    lo, hi = cls.limits(name)
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    whole = field.type in ("int", int)
    below = lo - 1 if whole else math.nextafter(lo, -math.inf)
    above = hi + 1 if whole else math.nextafter(hi, math.inf)
    for bad in (below, above, math.nan, math.inf, -math.inf, True, "3", None, [1]):
        with pytest.raises(ValueError, match=name):
            cls(**{name: bad})
        with pytest.raises(ValueError, match=name):
            cls.from_dict({name: bad})
    if whole:
        with pytest.raises(ValueError, match=name):
            cls(**{name: lo + 0.5})
    assert getattr(cls(**{name: lo}), name) == lo and getattr(cls(**{name: hi}), name) == hi


@pytest.mark.parametrize("cls, name, bad", [
    (fc.FlowConfig, "arch", "magic"), (fc.TrainConfig, "optimizer", "sgd"),
    (fc.TrainConfig, "schedule", "linear"), (fc.TrainConfig, "data_mode", "stream"),
    (fc.FlowConfig, "shared_trunk", "yes"),
])
def test_bad_choices_raise_a_value_error(cls, name, bad):
    with pytest.raises(ValueError, match=name):
        cls(**{name: bad})


def test_live_learning_rate_changes_are_bounded():
    trainer = fc.Trainer(fc.FlowConfig(layers=1, hidden=4), fc.TrainConfig(n_test=100),
                         datasets.get("moons"))
    job = fc.TrainingJob(trainer)
    lo, hi = fc.TrainConfig.limits("lr")
    for bad in (0.0, lo / 2, hi * 2, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="lr"):
            trainer.set_learning_rate(bad)
        with pytest.raises(ValueError, match="lr"):
            job.set_learning_rate(bad)
    assert trainer.base_lr == fc.TrainConfig().lr
    job.stop()


def test_dataset_knobs_and_sampling_are_bounded():
    for name in datasets.names():
        for knob_name, knob in datasets.knobs(name).items():
            for bad in (knob.low - 1e-9, knob.high + 1e-9, math.nan, True):
                with pytest.raises(ValueError, match=knob_name):
                    datasets.get(name, **{knob_name: bad})
    ds = datasets.get("moons")
    for n in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n="):
            ds.sample(n)
    for seed in (-1, 2**32, 1.5):
        with pytest.raises(ValueError, match="seed"):
            ds.sample(5, seed=seed)


def test_nan_literals_are_found_but_base64_letters_are_not():
    from app_helpers import figure_problems

    found = figure_problems('{"data": [{"x": [1, NaN]}]}', "c")
    assert found == ["c: the figure JSON contains NaN"]
    # The letters inside a string (as in a base64 payload) are not a NaN.
    assert figure_problems('{"data": [{"name": "+NaN+Infinity", "x": [1, 2]}]}', "c") == []
