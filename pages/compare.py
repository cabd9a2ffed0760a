"""Compare runs: train architectures side by side, overlay their NLL, and see their densities."""

import streamlit as st

from dashboard import compare, state

st.title("Compare runs")
run = state.session_run()
compare.side_by_side_form(run)
compare.kept_runs_section(run)
