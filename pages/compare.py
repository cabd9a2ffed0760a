"""Compare runs: train architectures side by side, overlay their NLL, and see their densities."""

import streamlit as st

from pages import insight, ui

ui.sidebar()
st.title("Compare runs")
run = ui.session_run()
insight.side_by_side_form(run)
insight.kept_runs_section(run)
