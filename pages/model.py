"""The Model page: load a .safetensors model, inspect it, and continue training it."""

import streamlit as st

from pages import ui

ui.sidebar()
st.title("Load a model")
if st.session_state.pop("continue-ready", False):
    st.success("The model is now this session's run, with its settings in the sidebar.")
    st.page_link("pages/train.py", label="Go on training it on the Train page", icon="▶️")
upload = st.file_uploader("A .safetensors file made by flowcore or this app",
                          type=["safetensors"], key="upload-model")
loaded = ui.load_uploaded_model(upload)
if loaded is not None:
    st.button("Continue training this model", key="continue-training", type="primary",
              on_click=ui.continue_training, args=(ui.session_run(), loaded))
    ui.model_summary(loaded)
