"""What the Inside and Learn pages look at: the run's model at one snapshot, the inspected point,
and charts with PNG export and a per-view cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

import flowcore as fc
from dashboard import state
from dashboard.sidebar import arch_label
from dashboard.state import PANEL_SAMPLES, Key
from flowcore import plots


# -- charts and caching -----------------------------------------------------------------------
def png_config(name: str) -> dict[str, Any]:
    """Plotly's toolbar camera button downloads the chart as a 2× PNG named after it."""
    return {"toImageButtonOptions": {"format": "png", "filename": f"flow-{name}", "scale": 2},
            "displaylogo": False}


def chart(name: str, fig, **kwargs: Any):
    """A chart keyed ``name-chart`` in a container keyed ``name-view``, with PNG export.

    (The containers are not keyed ``name`` as on the Train page: the sidebar's ``layers`` input
    already has that key.)
    """
    with st.container(key=f"{name}-view"):
        return st.plotly_chart(fig, key=f"{name}-chart", config=png_config(name), **kwargs)


def cached(name: str, key: tuple, compute: Callable[[], Any]) -> Any:
    """The last value computed for ``name`` while ``key`` holds, else ``compute()``.

    Keys hold the flow object itself (compared by identity), so the cache never outlives it.
    """
    store = st.session_state.setdefault(Key.VIEW_CACHE, {})
    hit = store.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = compute()
    store[name] = (key, value)
    return value


# -- the model the pages look at --------------------------------------------------------------
@dataclass(frozen=True)
class Model:
    """The session run's current model, frozen at one snapshot, with its data."""

    snap: fc.Snapshot
    data: np.ndarray  # held-out points, (n, dim) float32
    dataset: Any
    bounds: tuple[float, float, float, float]

    @property
    def flow(self) -> fc.Flow:
        return self.snap.flow

    @property
    def key(self) -> tuple:
        return (self.snap.flow, self.snap.weights_step)

    @property
    def anchor(self) -> np.ndarray:
        """Where the 2-D views sit in the other coordinates: the data mean."""
        return self.data.astype(np.float64).mean(axis=0)


def current_model(pinned: bool = False) -> Model | None:
    """The session's run at its latest weights (None before there is a run).

    ``pinned``: the weights of the moment the page was entered, until its Refresh button (see
    :func:`model_caption`). While a run trains its weights change every second, and a page that
    took the newest ones on every rerun recomputed every view for each widget it answered (15
    presses on Inside's grid slider took 86 s while training, against 15 s paused)."""
    job = state.session_run().job
    if job is None:
        return None
    snap = job.snapshot()
    if pinned:
        kept = st.session_state.get(Key.PINNED)
        if kept is not None and kept[0] is job:
            snap = kept[1]
        st.session_state[Key.PINNED] = (job, snap)
    data = job.trainer.test_data[:PANEL_SAMPLES].numpy()
    return Model(snap, data, job.trainer.dataset, plots.bounds_for(data))


def model_caption(model: Model, page: str) -> None:
    """Which model the page shows, and a button to take the live run's newest weights."""
    config = model.flow.config
    left, right = st.columns([5, 1])
    left.caption(
        f"The current run's model: {arch_label(config.arch)}, "
        f"{config.layers} layers of width {config.hidden}, on {model.dataset.name}, at step "
        f"{model.snap.step:,} of {model.snap.budget:,} ({model.snap.state}). The views keep "
        "these weights while the run trains: press Refresh for its newest."
    )
    right.button("Refresh", key=f"{page}-refresh", icon=":material/refresh:",
                 help="Redraw with the run's latest weights",
                 on_click=lambda: st.session_state.pop(Key.PINNED, None))
    if model.snap.step == 0:
        st.info("This model is untrained, so the views below show its starting point. Train it "
                "on the Train page (even a few hundred steps), then come back and press "
                "Refresh.", icon="ℹ️")


# -- the inspected point ----------------------------------------------------------------------
def _seed_point(model: Model) -> tuple[float, float]:
    point = st.session_state.get(Key.INSPECT_POINT)
    if point is None:
        point = tuple(round(float(v), 2) for v in model.data[0, :2])
    return float(point[0]), float(point[1])


def point_inputs(prefix: str, model: Model) -> np.ndarray:
    """Number inputs ``{prefix}-x1``, ``{prefix}-x2`` for the inspected point; its full ``x``.

    The point is shared between pages; for ``dim > 2`` the other coordinates are the data mean.
    """
    keys = (f"{prefix}-x1", f"{prefix}-x2")
    for key, value in zip(keys, _seed_point(model), strict=True):
        if key not in st.session_state:
            st.session_state[key] = value
    cols = st.columns(2)
    x1 = cols[0].number_input("x₁", key=keys[0], format="%.3f", step=0.1)
    x2 = cols[1].number_input("x₂", key=keys[1], format="%.3f", step=0.1)
    st.session_state[Key.INSPECT_POINT] = (float(x1), float(x2))
    point = model.anchor.copy()
    point[:2] = (x1, x2)
    return point


def take_clicked_point(chart_key: str, prefix: str) -> None:
    """Copy a clicked (selected) point of the density chart into the point inputs."""
    event = st.session_state.get(chart_key)
    points = event.selection.points if event is not None else []
    if points:
        st.session_state[f"{prefix}-x1"] = round(float(points[0]["x"]), 3)
        st.session_state[f"{prefix}-x2"] = round(float(points[0]["y"]), 3)


