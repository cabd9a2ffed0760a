"""Draw your own data: cells selected on a canvas become a density known exactly.

The canvas sits on the Train page (the sidebar is too narrow to draw on) whenever the sidebar's
dataset is "your data" and its source is "draw it".
"""

from __future__ import annotations

import streamlit as st

from dashboard import sidebar
from dashboard.state import Key
from flowcore import datasets, plots

DRAW_SIDE = 32  # cells per side of the drawing canvas


def wanted() -> bool:
    """True when the sidebar asks to draw the data."""
    from dashboard.sidebar import USER_DATA

    return (st.session_state.get("dataset") == USER_DATA
            and st.session_state.get("user-data-source") == "draw it")


def _add_drawn_cells() -> None:
    """Add the canvas's current box or lasso selection to the drawing."""
    selection = st.session_state.get("draw-chart", {}).get("selection", {})
    picked = {p["point_index"] for p in selection.get("points", []) if p.get("curve_number") == 0}
    st.session_state.setdefault(Key.DRAWN_CELLS, set()).update(picked)


def use_drawing() -> None:
    """Make the drawn cells the dataset (a density known exactly, so the KL is shown too)."""
    cells = st.session_state.get(Key.DRAWN_CELLS, set())
    try:
        drawing = datasets.from_grid(plots.drawn_weights(DRAW_SIDE, cells))
    except ValueError as err:
        st.session_state[Key.DRAW_ERROR] = f"The drawing cannot be used: {err}."
        return
    st.session_state[Key.USER_DATASET] = drawing
    st.session_state[Key.USER_DATA_ID] = f"drawing-{len(cells)}"
    sidebar.adapt_to(drawing)


def canvas() -> None:
    """The drawing canvas, with its buttons beside it."""
    cells = st.session_state.setdefault(Key.DRAWN_CELLS, set())
    st.subheader("Draw your data")
    left, right = st.columns([1.3, 1])
    with left:
        st.plotly_chart(plots.drawing_figure(DRAW_SIDE, cells), key="draw-chart",
                        selection_mode=("box", "lasso"), on_select=_add_drawn_cells,
                        config={"displaylogo": False})
    with right:
        st.markdown("Select cells with the **box** or **lasso** (in the chart's toolbar); each "
                    "selection adds to the drawing. Then press **Use the drawing**: a run that "
                    "has not started takes it at once, a started one after **Reset**.")
        cols = st.columns(2)
        cols[0].button("Use the drawing", key="draw-use", on_click=use_drawing,
                       disabled=not cells, type="primary")
        cols[1].button("Clear", key="draw-clear", on_click=cells.clear, disabled=not cells)
        if message := st.session_state.pop(Key.DRAW_ERROR, None):
            st.error(message)
        user = st.session_state.get(Key.USER_DATASET)
        if user is not None:
            st.caption(f"In use: {user.description}")
