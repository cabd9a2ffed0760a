"""Flow Playground: train normalizing flows live and watch them learn.

Run with ``make run`` (or ``streamlit run app.py``). This file draws what every page shares, once
per run: the experiment sidebar and the run's status line. Pages only lay out their own views.
"""

import streamlit as st

from dashboard import panels, sidebar, state, tab

st.set_page_config(page_title="Flow Playground", page_icon=":material/cyclone:", layout="wide")

page = st.navigation([
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", default=True),
    st.Page("pages/model.py", title="Model", icon=":material/upload_file:"),
    st.Page("pages/inside.py", title="Inside the flow", icon=":material/layers:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
])
with st.sidebar:
    tab.remember()
sidebar.draw()
with st.sidebar:
    panels.heartbeat(state.session_run())
    tab.mark_ready()
state.enter_page(page.url_path)
page.run()
