"""The Train page: controls, status and the four live panels (and the canvas, when drawing)."""

import streamlit as st

from dashboard import controls, drawing, panels, state

st.title("Train a normalizing flow")
with st.container(key="drawing"):
    if drawing.wanted():
        drawing.canvas()
run = state.session_run()
if run.job is None:
    st.info("Choose a dataset in the sidebar (or upload your own) to start.")
    st.stop()
controls.draw(run)
panels.draw(run)
