"""Flow Playground: the Streamlit dashboard (placeholder until the dashboard lands)."""

import streamlit as st

import flowcore as fc

st.set_page_config(page_title="Flow Playground", layout="wide")
st.title("Flow Playground")
st.write(f"flowcore {fc.__version__}: architectures {', '.join(fc.ARCHITECTURES)}.")
