"""The Inside the flow page's sections: layer by layer, grid deformation, one point, truth."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import streamlit as st

from dashboard.formulas import change_of_variables_latex, log_det_table
from dashboard.views import Model, cached, chart, point_inputs, take_clicked_point
from flowcore import analysis, plots

INSPECT_RESOLUTION = 120
TRUTH_RESOLUTION = 120

# -- Inside the flow --------------------------------------------------------------------------
def _restart_layers() -> None:
    """Each direction starts at its own first frame: the data (forward) or z (backward)."""
    st.session_state["layer"] = 0


LAYERS_CAPTIONS = {
    "forward": "Held-out data pushed through f, one layer per stop of the slider. Under the "
               "title: the mean log|det J| of the step into this frame over the points shown. "
               "Positive: the step stretches space around them (in this direction every nat "
               "of stretch adds a nat to log p(x)); negative: it squeezes them together. Points "
               "keep the colour of where they started.",
    "backward": "Samples z ~ N(0, I) pulled back through f⁻¹, undoing one layer per stop of "
                "the slider; the last stop is the model's samples (in standardised units). "
                "Under the title: the mean log|det J| of that undoing over these samples, "
                "minus the layer's own (a layer that squeezes the data forward spreads the "
                "samples back out). The first stop, z, is where they start: no step yet. "
                "Points keep the colour of where they started in z.",
}


def layers_section(model: Model) -> None:
    st.subheader("Layer by layer")
    flow = model.flow
    direction = st.radio(
        "direction", ["forward", "backward"], key="layers-direction", horizontal=True,
        format_func={"forward": "data pushed forward, x → z",
                     "backward": "model samples pulled back, z → x"}.get,
        on_change=_restart_layers,
    )
    if direction == "forward":
        fig = cached("layers-forward", model.key, lambda: plots.layers_figure(flow, model.data))
    else:
        fig = cached("layers-backward", model.key, lambda: plots.pull_back_figure(flow))
    labels = plots.frame_labels(fig)
    if st.session_state.get("layer", 0) not in range(len(labels)):  # a flow with fewer layers
        st.session_state["layer"] = 0
    # The page's slider is the only control of this view: the chart is a still of its frame.
    position = st.select_slider(
        "layer", options=range(len(labels)), format_func=labels.__getitem__, key="layer",
        help="Step through the flow one layer at a time. The HTML download below animates "
             "the same frames with a play button.")
    chart("layers", plots.show_frame(fig, fig.frames[position].name))
    st.caption(LAYERS_CAPTIONS[direction])
    st.download_button(
        "Download the animation (HTML)",
        lambda: fig.to_html(auto_play=False, include_plotlyjs=True).encode(),
        file_name=f"flow-layers-{direction}.html", mime="text/html",
        key="download-layers-html", on_click="ignore", icon=":material/animation:",
        help="A standalone page with the play button and slider; it works offline.",
    )


def grid_section(model: Model) -> None:
    st.subheader("Grid deformation")
    lines = st.slider("grid lines", 5, 40, 15, key="grid-lines")
    fig = cached("grid", (*model.key, lines),
                 lambda: plots.grid_deformation_figure(model.flow, model.bounds, lines))
    chart("grid", fig)
    st.caption("A regular grid in data space (left), and the same grid lines drawn through f "
               "into latent space (right). The left cells are coloured by log|det J_f| at their "
               "centres (the colour bar beside them): red cells are stretched by f (the model "
               "puts probability there), blue ones squeezed. Dotted circles: 1σ, 2σ, 3σ of the "
               "latent N(0, I).")


def point_section(model: Model) -> None:
    st.subheader("One point: the change of variables")
    left, right = st.columns([1.1, 1])
    with right:
        st.markdown("Click anywhere on the density, or type a point:")
        point = point_inputs("inspect", model)
    fig = cached("inspect-density", (*model.key, tuple(point[:2])),
                 lambda: plots.clickable_density_figure(
                     model.flow, model.data, model.bounds, INSPECT_RESOLUTION, point))
    with left:
        chart("inspect", fig, selection_mode="points",
              on_select=functools.partial(take_clicked_point, "inspect-chart", "inspect"))
    info = analysis.point_inspection(model.flow, point)
    st.latex(change_of_variables_latex(info))
    with right:
        st.dataframe(log_det_table(info), key="inspect-log-dets", hide_index=True,
                     column_config={"log|det J| (nats)": st.column_config.NumberColumn(
                                        format="%.4f"),
                                    "running sum": st.column_config.NumberColumn(
                                        format="%.4f")})


def _knows_density(dataset: Any, data: np.ndarray) -> bool:
    return dataset is not None and dataset.log_density(data[:1]) is not None


def _with_error(value: float | None, error: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" + (f" ± {error:.4f}" if error is not None else "")


def truth_section(model: Model) -> None:
    st.subheader("Truth vs model")
    if not _knows_density(model.dataset, model.data):
        st.info(f"The true density of {model.dataset.name} is not known, so there is nothing to "
                "compare the model with. The toy datasets and images have one.")
        return
    metrics = model.snap.metrics
    cols = st.columns(3)
    kl, best_kl = metrics.get("kl"), metrics.get("best_kl")
    cols[0].metric("KL(p* ‖ model), nats", _with_error(kl, metrics.get("kl_se")),
                   help="The mean over the test points of log p*(x) − log q(x), at the last "
                        "evaluation, ± its standard error: the nats the model still loses per "
                        "point. 0 is a perfect model.")
    cols[1].metric("KL of the weights kept, nats", _with_error(best_kl, metrics.get("best_kl_se")),
                   help="The weights with the best validation NLL so far (what a download holds).")
    entropy = model.dataset.entropy()
    cols[2].metric("true entropy H(p*), nats", "—" if entropy is None else f"{entropy:.4f}")
    if kl is None:
        st.caption("The KL appears after the first evaluation of the held-out data.")
    fig = cached("truth", model.key, lambda: plots.truth_figure(
        model.flow, model.dataset.log_density, model.bounds, TRUTH_RESOLUTION, model.anchor))
    chart("truth", fig)


