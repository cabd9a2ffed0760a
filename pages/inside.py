"""Inside the flow: layer by layer, grid deformation, one point's change of variables, truth."""

import streamlit as st

from dashboard import inside, views

st.title("Inside the flow")
model = views.current_model(pinned=True)
if model is None:
    st.info("Choose a dataset in the sidebar (or upload your own) to start.")
    st.stop()
views.model_caption(model, "inside")
inside.layers_section(model)
inside.grid_section(model)
inside.point_section(model)
inside.truth_section(model)
