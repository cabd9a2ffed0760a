"""Adding an architecture is one registry entry: the app offers it and draws it everywhere.

conftest's ``elementwise`` fixture registers a small extra architecture (tests/helpers.py) in
this process, where AppTest runs the app; nothing else in the app names it.
"""

import pytest
import streamlit as st
from app_helpers import new_app, status, step_of

from flowcore.job import live_jobs

pytestmark = pytest.mark.usefixtures("float32", "own_sessions")


@pytest.fixture
def app(elementwise):
    st.cache_resource.clear()
    at = new_app(None)
    yield at
    for job in live_jobs():
        job.stop()
    st.cache_resource.clear()


def test_a_registered_architecture_is_offered_trained_and_drawn_on_every_page(app):
    arch = app.selectbox(key="arch")
    assert "Elementwise affine" in arch.options
    arch.set_value("elementwise").run()
    app.number_input(key="layers").set_value(2).run()
    assert not app.exception and not app.error
    app.selectbox(key="step-by").select(10).run()
    app.button(key="step").click().run()
    assert step_of(app) == 10 and "paused" in status(app)
    assert not app.exception and not app.error
    for page in ("pages/inside.py", "pages/learn.py", "pages/model.py", "pages/compare.py"):
        app.switch_page(page).run()
        assert not app.exception, (page, [e.value for e in app.exception])
        assert not app.error, (page, [e.value for e in app.error])
        if page == "pages/inside.py":  # the flow's two layers, step by step, and their charts
            (frames,) = [s.options for s in app.get("select_slider") if s.key == "layer"]
            assert frames == ["standardised x", "layer 1", "layer 2 → z"]
            assert len(app.get("plotly_chart")) >= 2
        if page == "pages/learn.py":  # its layers, under the architecture's own label
            assert app.selectbox(key="learn-layer").options == [
                "layer 1: elementwise affine", "layer 2: elementwise affine"]
            assert any("Elementwise affine" in i.value for i in app.info)
    app.switch_page("pages/train.py").run()
    assert app.selectbox(key="arch").value == "elementwise" and step_of(app) == 10
