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
  const RESEND_MS = 3000;
  let token = window.sessionStorage.getItem(KEY);
  if (!token || (data && data.renew === token)) {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    window.sessionStorage.setItem(KEY, token);
  }
  // The server echoes the token it holds as data.known. Until it holds this one, ask again every
  // few seconds: the rerun that carries it can be lost while several pages load at once. Once it
  // is known nothing more is sent. The timer lives on the window because Streamlit runs this
  // function again when the data changes without calling the cleanup of the run before.
  window.clearInterval(window.flowPlaygroundTabTimer);
  if (data && data.known === token) {
    return undefined;
  }
  const send = () => {
    window.flowPlaygroundTabSends = (window.flowPlaygroundTabSends || 0) + 1;  // tests count
    setStateValue("token", token);
  };
  if (window.flowPlaygroundTab !== token) {
    window.flowPlaygroundTab = token;
    send();
  }
  window.flowPlaygroundTabTimer = window.setInterval(send, RESEND_MS);
  return () => window.clearInterval(window.flowPlaygroundTabTimer);
}
"""
_KEY = "tab-token"
_TOKEN = re.compile(r"[0-9a-f]{32}")
_component = st.components.v2.component("flow_playground_tab_token", js=_JS)


def remember() -> None:
    """Ask the tab for its token. It arrives a run later (the browser answers) and is kept in
    ``session_state[Key.TAB_TOKEN]`` for :func:`dashboard.state.session_run`."""
    renew = st.session_state.get(Key.TOKEN_RENEW)
    # What the tab sent, read before the component is drawn, so that the run its answer causes
    # already tells the tab "known" and it stops asking.
    sent = st.session_state.get(_KEY)
    known = _valid(sent.get("token") if isinstance(sent, dict) else None, renew)
    result = _component(key=_KEY, data={"renew": renew, "known": known},
                        on_token_change=lambda: None)
    st.session_state[Key.TAB_TOKEN] = _valid(getattr(result, "token", None), renew)


def _valid(token: object, renew: str | None) -> str | None:
    ok = isinstance(token, str) and _TOKEN.fullmatch(token) is not None and token != renew
    return token if ok else None


def mark_ready() -> None:
    """Once the server knows the tab's token (its run is the tab's own), say so in the page: an
    empty element keyed ``tab-ready`` that browser tests wait for before they click. Drawn last
    in the sidebar, so it moves nothing when it appears."""
    if st.session_state.get(Key.TAB_TOKEN):
        with st.container(key="tab-ready", height=1, border=False):
            st.empty()
