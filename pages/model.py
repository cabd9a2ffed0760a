"""The Model page: load a .safetensors model, inspect it, and continue training it."""

import streamlit as st

from dashboard import model, state
from dashboard.state import Key

st.title("Load a model")
if st.session_state.pop(Key.CONTINUE_READY, False):
    st.success("The model is now this session's run, with its settings in the sidebar.")
    st.page_link("pages/train.py", label="Go on training it on the Train page",
                 icon=":material/model_training:")
upload = st.file_uploader("A .safetensors file made by flowcore or this app",
                          type=["safetensors"], key="upload-model")
loaded = model.load_upload(upload)
if loaded is not None:
    st.button("Continue training this model", key="continue-training", type="primary",
              on_click=model.continue_training, args=(state.session_run(), loaded))
    model.summary(loaded)
