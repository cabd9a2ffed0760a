"""The browser tab's token: an unguessable id the tab keeps in its sessionStorage.

sessionStorage survives a reload of the tab but is never shared with other tabs or browsers, and
the token never appears in the URL, so a shared link cannot hand anyone else a run. A duplicated
tab copies its storage; the server then asks that tab for a new token (see state.session_run).
"""

from __future__ import annotations

import re

import streamlit as st

from dashboard.state import Key

_JS = """
export default function (component) {
  const { setStateValue, data } = component;
  const KEY = "flow-playground-tab";
  let token = window.sessionStorage.getItem(KEY);
  if (!token || (data && data.renew === token)) {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    window.sessionStorage.setItem(KEY, token);
  }
  // Sent once per page: every later rerun draws this component again, and a value sent again
  // would ask for yet another rerun.
  if (window.flowPlaygroundTab !== token) {
    window.flowPlaygroundTab = token;  // tests wait for it before they click
    setStateValue("token", token);
  }
}
"""
_TOKEN = re.compile(r"[0-9a-f]{32}")
_component = st.components.v2.component("flow_playground_tab_token", js=_JS)


def remember() -> None:
    """Ask the tab for its token. It arrives a run later (the browser answers) and is kept in
    ``session_state[Key.TAB_TOKEN]`` for :func:`dashboard.state.session_run`."""
    renew = st.session_state.get(Key.TOKEN_RENEW)
    result = _component(key="tab-token", data={"renew": renew}, on_token_change=lambda: None)
    token = getattr(result, "token", None)
    valid = isinstance(token, str) and _TOKEN.fullmatch(token) is not None and token != renew
    st.session_state[Key.TAB_TOKEN] = token if valid else None


def mark_ready() -> None:
    """Once the server knows the tab's token (its run is the tab's own), say so in the page: an
    empty element keyed ``tab-ready`` that browser tests wait for before they click. Drawn last
    in the sidebar, so it moves nothing when it appears."""
    if st.session_state.get(Key.TAB_TOKEN):
        with st.container(key="tab-ready", height=1, border=False):
            st.empty()
