"""Keyboard shortcuts for the run: space trains or pauses, s steps, r resets.

A small script in the page presses the same buttons a mouse would, so a shortcut does exactly what
its button does (and nothing while the button is disabled). Keys typed into a field, or pressed on
a focused button (where space already clicks it), are left alone.
"""

from __future__ import annotations

import streamlit as st

HELP = "Keyboard: space trains or pauses, s steps, r resets."

_JS = """
export default function () {
  if (window.flowPlaygroundShortcuts) return;
  window.flowPlaygroundShortcuts = true;
  const press = (key) => {
    const button = document.querySelector(`.st-key-${key} button`);
    if (!button || button.disabled) return false;
    button.click();
    return true;
  };
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    const tag = target && target.tagName;
    if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT", "BUTTON"]
        .includes(tag))) return;
    const done = event.key === " " ? press("train") || press("pause")
      : event.key === "s" ? press("step")
      : event.key === "r" ? press("reset") : false;
    if (done) event.preventDefault();
  });
}
"""
_component = st.components.v2.component("flow_playground_shortcuts", js=_JS)


def enable() -> None:
    """Listen for the shortcuts on this page (once per browser tab)."""
    _component(key="shortcuts")
