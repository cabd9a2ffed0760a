"""The Train page beyond two dimensions (issue 14), under AppTest: a real dataset picked from the
sidebar's menu trains, and the page draws corner plots of the chosen columns, the latent corner
plot, the NLL curve against the two baselines, and a pair's marginal estimated from samples."""

import base64
import gc
import json

import numpy as np
import pytest
import streamlit as st
from app_helpers import chart_problems, chart_specs, new_app, step_of, stop_all_jobs, texts

import flowcore as fc
from dashboard import panels
from flowcore.baselines import fit_baselines
from flowcore.job import _all_jobs

pytestmark = pytest.mark.usefixtures("own_sessions", "float32")
TWO_D = ("density", "samples", "latent", "nll")
MANY_D = ("marginal", "corner", "latent-corner", "nll")


@pytest.fixture
def app():
    st.cache_resource.clear()
    at = new_app()
    yield at
    stop_all_jobs()
    st.cache_resource.clear()


def _pick(at, name: str, steps: int = 2):
    """Choose ``name`` in the sidebar's dataset menu and take ``steps`` × 10 training steps."""
    at.selectbox(key="dataset").select(name).run()
    at.selectbox(key="step-by").select(10).run()
    for _ in range(steps):
        at.button(key="step").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart(at, key: str) -> dict:
    specs = chart_specs(at)
    assert f"{key}-chart" in specs, f"no chart {key!r} in {sorted(specs)}"
    return json.loads(specs[f"{key}-chart"])


def keys_shown(at) -> set[str]:
    return {key for key in (*TWO_D, *MANY_D) if f"{key}-chart" in chart_specs(at)}


def axis_titles(fig: dict, axis: str = "x") -> list[str]:
    """The titled axes of a figure, in axis order (a corner plot's bottom row / first column)."""
    found = []
    for name, value in fig["layout"].items():
        if name.startswith(f"{axis}axis") and isinstance(value, dict) and "title" in value:
            number = int(name[len(axis) + 4:] or 1)
            found.append((number, value["title"]["text"]))
    return [text for _, text in sorted(found)]


def histograms(fig: dict) -> int:
    return sum(t.get("type") == "histogram" for t in fig["data"])


def the_job(at, dataset: str) -> fc.TrainingJob:
    """The job the page shows: on ``dataset``, at the page's step (earlier tests' jobs are gone
    once collected)."""
    gc.collect()
    jobs = [j for j in _all_jobs
            if j.trainer.dataset.name == dataset and j.trainer.step_count == step_of(at)]
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_the_menu_offers_the_real_datasets_and_2d_keeps_its_panels(app):
    menu = app.selectbox(key="dataset")
    for name in fc.datasets.real_names():
        dim = fc.datasets.get(name).dim
        assert f"{name} (real data, {dim}-D)" in menu.options
    assert set(fc.datasets.names()) <= set(menu.options)  # the toys keep their plain names
    assert keys_shown(app) == set(TWO_D)
    assert not app.multiselect, "the column picker is for d > 2 only"


def test_wine_draws_corner_plots_baselines_and_a_marginal(app):
    _pick(app, "wine")
    wine = fc.datasets.get("wine")
    assert keys_shown(app) == set(MANY_D)
    assert not chart_problems(app), chart_problems(app)

    corner = chart(app, "corner")
    assert axis_titles(corner) == list(wine.columns[:4])  # the first 4 columns by default
    assert histograms(corner) == 2 * 4
    assert {t["name"] for t in corner["data"]} == {"training data", "model"}
    latent = chart(app, "latent-corner")
    assert axis_titles(latent) == ["z1", "z2", "z3", "z4"]
    assert {t["name"] for t in latent["data"]} == {"z = f(x)", "N(0, I)"}

    # The baselines are the Gaussian's and the KDE's test NLL on this run's own split.
    trainer = the_job(app, "wine").trainer
    expected = fit_baselines(*(p.double().numpy() for p in
                               (trainer.train_data, trainer.val_data, trainer.test_data)))
    nll = chart(app, "nll")
    lines = [t for t in nll["data"] if str(t.get("name", "")).endswith(": test")]
    assert [t["name"].split(":")[0] for t in lines] == [b.label for b in expected]
    drawn = [float(np.frombuffer(base64.b64decode(t["y"]["bdata"]), dtype=t["y"]["dtype"])[0])
             for t in lines]
    assert drawn == pytest.approx([b.test_nll for b in expected], rel=1e-5)

    title = chart(app, "marginal")["layout"]["title"]["text"]
    assert "estimated from" in title and "samples" in title
    assert wine.columns[0] in title and wine.columns[1] in title
    assert "trains on the CPU" in texts(app) or "trains on the GPU" in texts(app)


def test_wine_columns_and_pair_follow_the_pickers(app):
    _pick(app, "wine", steps=1)
    wine = fc.datasets.get("wine")
    app.multiselect(key=panels.COLUMNS_KEY).set_value([0, 5, 12]).run()
    corner = chart(app, "corner")
    assert axis_titles(corner) == [wine.columns[j] for j in (0, 5, 12)]
    assert axis_titles(chart(app, "latent-corner")) == ["z1", "z6", "z13"]
    app.selectbox(key="marginal-x").select(2).run()
    app.selectbox(key="marginal-y").select(7).run()
    title = chart(app, "marginal")["layout"]["title"]["text"]
    assert f"({wine.columns[2]}, {wine.columns[7]})" in title
    app.selectbox(key="marginal-y").select(2).run()
    assert "two different columns" in texts(app)
    assert "marginal" not in keys_shown(app)
    app.multiselect(key=panels.COLUMNS_KEY).set_value([]).run()
    assert "Choose at least one column" in texts(app)
    assert not {"corner", "latent-corner"} & keys_shown(app)
    assert not app.exception


def test_digits_asks_which_columns_and_fits_the_baselines_once(app, monkeypatch):
    calls = []
    real = panels.trainer_baselines
    monkeypatch.setattr(panels, "trainer_baselines", lambda t: calls.append(t) or real(t))
    _pick(app, "digits")
    digits = fc.datasets.get("digits")
    note = texts(app)
    assert "This data has 64 columns" in note and "choose which to show" in note
    assert "Showing now: " + ", ".join(digits.columns[:4]) in note
    assert axis_titles(chart(app, "corner")) == list(digits.columns[:4])

    picked = [0, 9, 18, 27, 36, 45, 54, 63]
    app.multiselect(key=panels.COLUMNS_KEY).set_value(picked).run()
    corner = chart(app, "corner")
    assert axis_titles(corner) == [digits.columns[j] for j in picked]
    assert histograms(corner) == 2 * 8
    for _ in range(3):  # refreshes and new weights: the KDE's bandwidth search is not redone
        app.button(key="step").click().run()
    assert len(calls) == 1, len(calls)
    assert not chart_problems(app), chart_problems(app)


def test_a_real_dataset_from_a_shared_link(app):
    at = new_app({"dataset": "iris", "layers": "2", "hidden": "16"})
    assert at.selectbox(key="dataset").value == "iris"
    assert keys_shown(at) == set(MANY_D)
    assert at.query_params["dataset"] == ["iris"] or at.query_params["dataset"] == "iris"
    # iris has 4 columns: all are shown, and nothing asks to choose.
    assert axis_titles(chart(at, "corner")) == list(fc.datasets.get("iris").columns)
    assert "choose which to show" not in texts(at)


@pytest.mark.parametrize("page", ["pages/model.py", "pages/inside.py", "pages/compare.py",
                                  "pages/learn.py"])
def test_the_other_pages_take_a_wine_model(app, page):
    _pick(app, "wine", steps=1)
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not chart_problems(app), chart_problems(app)


def test_choices_kept_from_a_wider_dataset_fall_back_to_the_defaults(app):
    app.selectbox(key="dataset").select("digits").run()  # no steps yet: the run follows at once
    app.multiselect(key=panels.COLUMNS_KEY).set_value([40, 50]).run()
    app.selectbox(key="marginal-x").select(60).run()
    digits = fc.datasets.get("digits")
    assert axis_titles(chart(app, "corner")) == [digits.columns[40], digits.columns[50]]
    app.selectbox(key="dataset").select("wine").run()
    assert not app.exception, [e.value for e in app.exception]
    wine = fc.datasets.get("wine")
    assert app.multiselect(key=panels.COLUMNS_KEY).value == [0, 1, 2, 3]
    assert axis_titles(chart(app, "corner")) == list(wine.columns[:4])
    title = chart(app, "marginal")["layout"]["title"]["text"]
    assert f"({wine.columns[0]}, {wine.columns[1]})" in title


def test_a_model_with_non_finite_samples_gets_a_message_not_a_crash(app, monkeypatch):
    from flowcore import analysis

    real = analysis.panel_data

    def broken(flow, data, n, seed=0):
        panels_ = real(flow, data, n, seed)
        return panels_._replace(samples=np.full_like(panels_.samples, np.nan))

    monkeypatch.setattr(analysis, "panel_data", broken)
    _pick(app, "wine", steps=1)
    assert "The marginal cannot be drawn yet" in texts(app)
    assert "finite samples" in texts(app)
    assert {"corner", "latent-corner", "nll"} <= keys_shown(app)
    assert not chart_problems(app), chart_problems(app)
