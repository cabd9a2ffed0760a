"""The dashboard under Streamlit's AppTest: pages load, controls drive the session's job."""

import re
import time

import numpy as np
import pytest
import streamlit as st
from app_helpers import APP, chart_problems, chart_specs, run_until, status, step_of
from streamlit.testing.v1 import AppTest

import flowcore as fc
from flowcore.job import live_jobs

CHARTS = ("density", "samples", "latent", "nll")


@pytest.fixture
def app():
    # AppTest sessions share one session id, so session-scoped resources would carry over.
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    yield at
    for job in live_jobs():
        job.stop()
    st.cache_resource.clear()


def test_train_page_loads_with_the_seed_configuration(app):
    assert app.selectbox(key="preset").value == "seed"
    assert app.selectbox(key="dataset").value == "moons"
    assert app.selectbox(key="arch").value == "realnvp"
    assert app.number_input(key="lr").value == pytest.approx(1e-3)
    assert "idle" in status(app) and step_of(app) == 0
    assert {f"{k}-chart" for k in ("density", "samples", "latent", "nll")} <= set(chart_specs(app))
    assert not chart_problems(app), chart_problems(app)
    for key in ("train", "pause", "step", "reset"):
        assert app.button(key=key) is not None


def test_train_runs_pause_holds_and_reset_clears(app):
    app.button(key="train").click().run()
    deadline = time.monotonic() + 60
    while step_of(app) < 5 and time.monotonic() < deadline:
        time.sleep(0.5)
        app.run()
    assert step_of(app) >= 5 and "running" in status(app)

    app.button(key="pause").click().run()
    held = step_of(app)
    assert "paused" in status(app)
    time.sleep(1.0)
    app.run()
    assert step_of(app) == held

    app.button(key="step").click().run()
    assert step_of(app) == held + 1

    app.button(key="reset").click().run()
    assert step_of(app) == 0 and "idle" in status(app)


def test_preset_fills_every_field(app):
    app.selectbox(key="preset").select("best").run()
    best = fc.presets.PRESETS["best"]
    assert app.selectbox(key="arch").value == best.flow.arch
    assert app.number_input(key="lr").value == pytest.approx(best.train.lr)
    assert app.number_input(key="batch_size").value == best.train.batch_size
    # A run with no steps takes the new settings at once: nothing is lost by it.
    assert "/ 20,000 steps" in app.get("progress")[0].proto.text
    assert not any("Reset" in i.value for i in app.info)
    from flowcore.job import _all_jobs

    assert any(j.trainer.flow_config.arch == "nsf" and j.trainer.config.steps == 20_000
               for j in _all_jobs)


def test_a_started_run_waits_for_reset_and_the_preset_says_custom(app):
    app.button(key="step").click().run()
    app.number_input(key="layers").set_value(3).run()
    assert any("Reset" in i.value for i in app.info)
    assert app.selectbox(key="preset").value == "custom"
    app.button(key="reset").click().run()
    assert not any("Reset" in i.value for i in app.info) and step_of(app) == 0


def test_learning_rate_applies_live(app):
    app.number_input(key="lr").set_value(5e-4).run()
    from flowcore.job import _all_jobs

    rates = {job.trainer.base_lr for job in _all_jobs}
    assert 5e-4 in rates


def test_csv_upload_trains_and_a_bad_one_keeps_the_previous_data(app):
    app.selectbox(key="dataset").select("your data (upload)").run()
    good = "a,b,c\n" + "".join(f"{i % 7},{(i * 3) % 11},{i % 5 + 0.5}\n" for i in range(200))
    app.get("file_uploader")[0].upload("good.csv", good.encode(), "text/csv")
    app.run()
    assert not app.exception and not app.error
    assert app.number_input(key="layers") is not None
    assert "idle" in status(app)
    # The split is stated, and that only part of the asked N trains (200 rows, N = 3000).
    split = [c.value for c in app.caption if "validation" in c.value]
    assert split and "N = 3,000 was asked, but the data has 200 rows" in split[0], split

    bad = b"a,b\n1,2\n3,x\n" + b"4,5\n" * 20
    uploader = app.get("file_uploader")[0]
    uploader.set_value(("bad.csv", bad, "text/csv"))
    app.run()
    assert app.error, "a bad CSV must show an error"
    message = app.error[0].value
    assert "bad.csv" in message and "row 3" in message and "previous data" in message
    # The good dataset (3 columns) is still the one in use.
    app.button(key="reset").click().run()
    assert not app.exception


def test_a_drawing_becomes_the_dataset(app):
    app.selectbox(key="dataset").select("your data (upload)").run()
    app.radio(key="user-data-source").set_value("draw it").run()
    assert not app.exception
    assert app.button(key="draw-use").disabled  # nothing drawn yet
    # A box selection on the canvas adds its cells (the chart's on_select does this in a browser).
    app.session_state["drawn-cells"] = {k for k in range(32 * 32) if 10 <= k % 32 <= 20}
    app.run()
    app.button(key="draw-use").click().run()
    assert not app.exception and not app.error
    assert any("Your drawing: 352 cells" in c.value for c in app.caption)
    app.button(key="reset").click().run()
    app.button(key="train").click().run()
    (job,) = live_jobs()
    job.pause()
    assert job.trainer.dataset.name == "drawing" and job.trainer.entropy is not None
    x = job.trainer.train_data.numpy()
    assert x[:, 0].min() >= -1.5 - 1e-6 and x[:, 0].max() <= 1.25 + 1e-6  # columns 10..20


def test_model_page_round_trips_an_uploaded_model(app, tmp_path):
    trainer = fc.Trainer(fc.FlowConfig(layers=2, hidden=16),
                         fc.TrainConfig(steps=60, eval_seconds=0, eval_every=20),
                         fc.datasets.get("moons"))
    trainer.step(60)
    data = fc.to_bytes(trainer.best_flow(), info=trainer.info())
    app.switch_page("pages/model.py").run()
    assert not app.exception
    app.get("file_uploader")[0].upload("m.safetensors", data)
    app.run()
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) >= 3  # density, samples, latent of the loaded model
    app.button(key="continue-training").click().run()
    assert not app.exception
    assert app.selectbox(key="arch").value == "realnvp"
    assert app.number_input(key="layers").value == 2
    # It goes on from the saved weights' step with their curve, under its own settings' label.
    assert app.selectbox(key="preset").value == "custom"
    app.switch_page("pages/train.py").run()
    assert f"step {trainer.best_step:,}" in status(app)
    app.button(key="train").click().run()
    (job,) = live_jobs()
    job.pause()
    saved = [r["step"] for r in trainer.history if r["step"] <= trainer.best_step]
    assert [r["step"] for r in job.trainer.history][: len(saved)] == saved
    assert job.trainer.step_count >= trainer.best_step > 0


def test_model_page_rejects_a_bad_file_and_keeps_working(app):
    app.switch_page("pages/model.py").run()
    app.get("file_uploader")[0].upload("evil.safetensors", b"\x80\x04\x95garbage")
    app.run()
    assert not app.exception
    assert app.error and "evil.safetensors" in app.error[0].value
    app.switch_page("pages/train.py").run()
    assert not app.exception and "step" in status(app)


def test_a_shared_link_reproduces_the_setup():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"dataset": "checkerboard", "arch": "nsf", "layers": "3",
                            "lr": "0.002", "batch_size": "256"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="dataset").value == "checkerboard"
    assert at.selectbox(key="arch").value == "nsf"
    assert at.number_input(key="layers").value == 3
    assert at.number_input(key="lr").value == pytest.approx(0.002)
    # ...and the page keeps the URL in step with the sidebar.
    assert at.query_params["arch"] in ("nsf", ["nsf"])
    assert "steps" not in at.query_params  # a default is left out of the link
    # The link round-trips: reading it back gives the same configs.
    query = {k: at.query_params[k] for k in at.query_params}
    assert fc.FlowConfig.from_strings(query).layers == 3
    assert fc.TrainConfig.from_strings(query).lr == pytest.approx(0.002)


def test_a_bad_shared_link_falls_back_with_a_warning():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"layers": "1000000"})
    at.run()
    assert not at.exception
    assert at.number_input(key="layers").value == 6
    assert any("link" in w.value and "layers" in w.value for w in at.warning)


def test_sidebar_values_survive_a_page_switch(app):
    app.number_input(key="lr").set_value(2e-3).run()
    app.selectbox(key="arch").select("maf").run()
    app.switch_page("pages/model.py").run()
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert app.number_input(key="lr").value == pytest.approx(2e-3)
    assert app.selectbox(key="arch").value == "maf"


def test_a_stop_target_ends_the_run_and_says_so(app):
    assert app.selectbox(key="stop_at").options == ["no target", "KL to truth ≤", "NLL ≤"]
    app.selectbox(key="stop_at").set_value("nll").run()
    app.number_input(key="stop_below").set_value(50.0).run()  # met at the first evaluation
    assert not app.exception and not app.error
    app.button(key="train").click().run()
    assert run_until(app, lambda at: "finished" in status(at))
    (note,) = [s.value for s in app.success if "Reached the target" in s.value]
    assert f"step {step_of(app):,}" in note and "validation NLL" in note
    # A target out of reach, set live, lets the same run go on.
    app.number_input(key="stop_below").set_value(-50.0).run()
    app.button(key="train").click().run()
    assert run_until(app, lambda at: "running" in status(at))
    assert not any("Reached the target" in s.value for s in app.success)


def test_inside_keeps_the_weights_it_opened_with_until_refresh(app):
    """While the run trains, Inside answers its widgets for the weights it shows (not the newest
    ones, which would recompute every view for each press) and says so; Refresh takes the
    newest."""
    def shown_step(at) -> int:
        (caption,) = [c.value for c in at.caption if "The current run's model" in c.value]
        return int(re.search(r"at step ([\d,]+)", caption).group(1).replace(",", ""))

    app.button(key="train").click().run()
    assert run_until(app, lambda at: step_of(at) >= 3)
    app.switch_page("pages/inside.py").run()
    first = shown_step(app)
    # Wait for a newer *published* snapshot (what Refresh takes), not the trainer's own count,
    # which runs ahead of it by up to publish_every seconds.
    assert run_until(app, lambda at: live_jobs()[0].snapshot().weights_step > first + 5)
    app.slider(key="grid-lines").set_value(20).run()
    assert shown_step(app) == first and not app.exception
    app.button(key="inside-refresh").click().run()
    assert shown_step(app) > first + 5


def test_fixed_data_gets_the_recipe_adapted_to_its_rows(app):
    """An uploaded table and a bundled real table train with the default recipe adapted to the
    rows that train (as the CLI does), and the sidebar says so."""
    from app_helpers import upload

    from flowcore import datasets
    from flowcore.presets import fixed_data_recipe

    rows = np.random.default_rng(0).normal(size=(500, 2))
    app.selectbox(key="dataset").set_value("your data (upload)").run()
    upload(app, "upload-data", "points.csv", b"x,y\n" + "\n".join(
        f"{a:.5f},{b:.5f}" for a, b in rows).encode(), "text/csv")
    recipe = fixed_data_recipe(datasets.from_array(rows))
    assert recipe.train.steps == 320 and recipe.flow.layers == 3  # 400 rows train
    assert app.number_input(key="steps").value == recipe.train.steps
    assert app.number_input(key="layers").value == recipe.flow.layers
    assert any("Settings adapted to this data (400 fixed points)" in i.value for i in app.info)
    assert app.selectbox(key="preset").value == "custom"
    app.button(key="reset").click().run()
    app.button(key="step").click().run()
    assert not app.exception and "step 1" in status(app)

    app.selectbox(key="dataset").set_value("iris").run()
    iris = fixed_data_recipe(datasets.get("iris"))
    assert app.number_input(key="steps").value == iris.train.steps
    assert any("Settings adapted to this data" in i.value for i in app.info)


def test_a_model_of_a_real_table_loads_with_its_data_and_continues_without_pending_changes(app):
    wine = fc.datasets.get("wine")
    trainer = fc.Trainer(fc.FlowConfig(dim=wine.dim, layers=2, hidden=16),
                         fc.TrainConfig(steps=20, eval_seconds=0, eval_every=10), wine)
    trainer.step(20)
    app.switch_page("pages/model.py").run()
    app.get("file_uploader")[0].upload("wine.safetensors",
                                       fc.to_bytes(trainer.best_flow(), trainer.info()))
    app.run()
    assert not app.exception and not app.error
    app.button(key="continue-training").click().run()
    app.switch_page("pages/train.py").run()
    assert not app.exception and app.selectbox(key="dataset").value == "wine"
    assert f"step {trainer.best_step:,}" in status(app)
    assert not any("You changed settings" in w.value for w in app.warning)
