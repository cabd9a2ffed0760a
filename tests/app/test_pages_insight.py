"""The Inside, Compare and Learn pages under AppTest, on a small, briefly trained model."""

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import flowcore as fc
from flowcore.job import live_jobs
from flowcore.presets import PRESETS

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SMALL = {"layers": 2, "hidden": 16, "n_train": 500, "steps": 500}


def _fields() -> dict:
    seed = PRESETS["seed"]
    return {**seed.flow.to_dict(), **seed.train.to_dict(), **SMALL}


@pytest.fixture
def app():
    """The app on a 2-layer RealNVP for moons, trained for 30 steps on the Train page."""
    # Every AppTest shares one session id, so session-scoped resources (the session's run and
    # its kept runs) would leak between tests: start each test from a fresh session.
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["preset"] = "seed"
    at.session_state["dataset"] = "moons"
    for key, value in _fields().items():
        if key in ("arch", "layers", "hidden", "bins", "shared_trunk", "optimizer", "lr",
                   "batch_size", "steps", "schedule", "warmup", "clip_grad", "data_mode",
                   "n_train", "seed"):
            at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="step-by").select(10).run()
    for _ in range(3):
        at.button(key="step").click().run()
    assert not at.exception, at.exception
    yield at
    for job in live_jobs():
        job.stop()
    st.cache_resource.clear()


def chart(at, key: str) -> dict:
    """The Plotly figure (as JSON) of the chart with this key."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    ids = [element.proto.id.rsplit("-", 2)[-2:] for element in at.get("plotly_chart")]
    raise AssertionError(f"no chart {key!r}; charts: {ids}")


def xs(fig: dict) -> list:
    """The first trace's x values (Plotly may send them as base64 typed arrays)."""
    return json.dumps(fig["data"][0]["x"])


def test_inside_page_shows_layers_grid_point_and_truth(app):
    app.switch_page("pages/inside.py").run()
    assert not app.exception, app.exception
    layers = chart(app, "layers-chart")
    # The page's slider is the view's one control: the chart is a still, with no slider or play
    # button of its own to disagree with it.
    assert not layers.get("frames") and not layers["layout"].get("sliders")
    assert not layers["layout"].get("updatemenus")
    assert app.select_slider(key="layer").options == [
        "standardised x", "layer 1", "layer 2 → z"]
    grid = chart(app, "grid-chart")
    assert grid["layout"]["uirevision"] == "grid"
    inspect = chart(app, "inspect-chart")
    assert inspect["data"][-1]["name"] == "click targets"
    truth = chart(app, "truth-chart")
    assert len(truth["data"]) == 3
    assert truth["data"][0]["coloraxis"] == truth["data"][1]["coloraxis"]
    assert truth["layout"]["xaxis"]["scaleanchor"] == "y"
    assert any("KL" in m.label for m in app.metric)
    assert app.latex and r"\log p_x(x)" in app.latex[0].value
    assert app.get("download_button")  # the animation as HTML


def _title(fig: dict) -> tuple[str, str]:
    """A layer chart's title and the note under it (its step's log-det)."""
    title, _, note = fig["layout"]["title"]["text"].partition("<br>")
    return title, note


def test_layer_slider_is_the_one_control_and_frames_say_their_step(app):
    app.switch_page("pages/inside.py").run()
    first = chart(app, "layers-chart")
    assert _title(first)[0].startswith("standardised data")
    assert "standardisation's log|det J|" in _title(first)[1]
    app.select_slider(key="layer").set_value(SMALL["layers"]).run()
    assert not app.exception, app.exception
    last = chart(app, "layers-chart")
    title, note = _title(last)
    assert title.startswith(f"layer {SMALL['layers']}") and title.endswith("z")
    assert "mean log|det J| of this layer" in note
    assert xs(last) != xs(first)  # the points moved: the model has trained a little
    box = last["layout"]["xaxis"]["range"]
    assert box == first["layout"]["xaxis"]["range"]  # one box for every frame
    assert box[1] - box[0] < 12  # sized by the points, not a fixed ±6 or more

    app.radio(key="layers-direction").set_value("backward").run()
    assert not app.exception, app.exception
    layer = app.select_slider(key="layer")
    assert layer.value == 0  # pulling back starts at z, the first stop
    assert layer.options == ["z", "undo layer 2", "undo layer 1 → x"]
    title, note = _title(chart(app, "layers-chart"))
    assert title.startswith("z ~ N(0, I)")
    assert "no step" in note and "nats" not in note  # the start has no log-det
    assert "no step yet" in " ".join(c.value for c in app.caption)
    layer.set_value(1).run()
    title, note = _title(chart(app, "layers-chart"))
    assert title.startswith("undo layer 2") and "of undoing layer 2" in note


def test_typing_a_point_updates_the_change_of_variables(app):
    app.switch_page("pages/inside.py").run()
    before = app.latex[0].value
    app.number_input(key="inspect-x1").set_value(1.5).run()
    app.number_input(key="inspect-x2").set_value(-0.25).run()
    assert not app.exception, app.exception
    after = app.latex[0].value
    assert after != before and "1.500, -0.250" in after
    # The Learn page picks up the same point.
    app.switch_page("pages/learn.py").run()
    assert not app.exception, app.exception
    assert app.number_input(key="learn-x1").value == pytest.approx(1.5)


def test_learn_page_ties_each_formula_to_the_live_model(app):
    app.switch_page("pages/learn.py").run()
    assert not app.exception, app.exception
    text = "\n".join(latex.value for latex in app.latex)
    assert r"\exp\big(-(1-b)" in text  # the inverse, with its minus sign
    # The seed's layer 1 passes x₂ through and transforms x₁, as in the tutorial.
    assert r"b = \begin{pmatrix} 0 \\ 1 \end{pmatrix}" in text
    assert r"(1-b)\odot s(b\odot u)" in text  # s and t at the point
    app.selectbox(key="learn-layer").select(2).run()
    assert not app.exception, app.exception
    text = "\n".join(latex.value for latex in app.latex)
    assert r"b = \begin{pmatrix} 1 \\ 0 \end{pmatrix}" in text
    assert app.dataframe  # the table of masks


def _wait_for_kept_runs(at, count: int, timeout: float = 50.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if any(e.proto.id.endswith("-compare-chart") for e in at.get("plotly_chart")):
            fig = chart(at, "compare-chart")
            if sum(trace.get("mode") == "lines" and trace["name"][0].isdigit()
                   for trace in fig["data"]) >= count:
                return
        time.sleep(0.5)
    raise AssertionError("the side-by-side runs were not kept in time")


def test_compare_trains_two_runs_side_by_side_and_removes_one(app):
    app.switch_page("pages/compare.py").run()
    assert not app.exception, app.exception
    assert any("No runs kept" in i.value for i in app.info)
    assert app.selectbox(key="compare-dataset").value == "checkerboard"
    assert app.multiselect(key="compare-archs").value == ["realnvp", "nsf"]
    app.number_input(key="compare-steps").set_value(20)
    app.button(key="compare-train").click().run()  # the second click of "RealNVP vs NSF"
    assert not app.exception, app.exception
    _wait_for_kept_runs(app, 2)

    fig = chart(app, "compare-chart")
    names = [t["name"] for t in fig["data"]]
    assert names[:2] == ["1. realnvp on checkerboard (20 steps)",
                         "2. nsf on checkerboard (20 steps)"]
    assert "true entropy (KL = gap)" in names  # both runs share checkerboard's entropy
    table = app.dataframe[0].value
    assert list(table["steps"]) == [20, 20]
    assert table["parameters"].min() > 0
    assert chart(app, "compare-density-0-chart") and chart(app, "compare-density-1-chart")

    app.button(key="remove-run-0").click().run()
    assert not app.exception, app.exception
    names = [t["name"] for t in chart(app, "compare-chart")["data"]]
    assert names[0] == "1. nsf on checkerboard (20 steps)" and len(app.dataframe[0].value) == 1


def test_compare_keeps_the_current_run(app):
    app.switch_page("pages/compare.py").run()
    app.button(key="keep-current").click().run()
    assert not app.exception, app.exception
    fig = chart(app, "compare-chart")
    assert fig["data"][0]["name"].startswith("1. realnvp on moons (30 steps)")
    app.button(key="remove-run-0").click().run()
    assert any("No runs kept" in i.value for i in app.info)


def test_new_pages_are_in_the_navigation():
    source = Path(APP).read_text()
    for page in ("pages/inside.py", "pages/compare.py", "pages/learn.py"):
        assert page in source
    assert source.index("pages/train.py") < source.index("pages/inside.py")
    assert fc.ARCHITECTURES  # flowcore imports cleanly alongside the app


def test_a_click_on_the_density_becomes_the_inspected_point(monkeypatch):
    """AppTest cannot click a Plotly chart: call the chart's selection callback directly."""
    from types import SimpleNamespace

    from dashboard import views

    event = SimpleNamespace(selection=SimpleNamespace(points=[{"x": 1.23456, "y": -0.5,
                                                                "curve_number": 3}]))
    state = {"inspect-chart": event, "inspect-x1": 0.0, "inspect-x2": 0.0}
    monkeypatch.setattr(views.st, "session_state", state)
    views.take_clicked_point("inspect-chart", "inspect")
    assert (state["inspect-x1"], state["inspect-x2"]) == (1.235, -0.5)
    state["inspect-chart"] = SimpleNamespace(selection=SimpleNamespace(points=[]))
    views.take_clicked_point("inspect-chart", "inspect")  # a cleared selection: no change
    assert state["inspect-x1"] == 1.235
