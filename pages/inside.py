"""Inside the flow: layer by layer, grid deformation, one point's change of variables, truth."""

import streamlit as st

from pages import insight, ui

experiment = ui.sidebar()
st.title("Inside the flow")
if experiment is None:
    st.info("Choose a dataset in the sidebar (or upload your own) to start.")
    st.stop()
model = insight.current_model(experiment)
insight.model_caption(model, "inside")
insight.layers_section(model)
insight.grid_section(model)
insight.point_section(model)
insight.truth_section(model)
