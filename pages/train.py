"""The Train page: controls, status and the four live panels."""

import streamlit as st

from pages import ui

st.title("Train a normalizing flow")
experiment = ui.sidebar()
if experiment is None:
    st.info("Choose a dataset in the sidebar (or upload your own) to start.")
    st.stop()
run = ui.session_run()
ui.controls(run, experiment)
ui.live_panels(run)
