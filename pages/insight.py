"""Shared pieces of the "see inside the flow" pages: Inside the flow, Compare and Learn.

Like pages/ui.py, this module only lays things out: the numbers come from flowcore
(``plots`` and ``inspect``), and the page files call the sections defined here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

import flowcore as fc
from flowcore import inspect as flow_inspect
from flowcore import plots
from pages import ui

#: The point inspected on the Inside and Learn pages, shared between them (x₁, x₂).
POINT_KEY = "inspect-point"
INSPECT_RESOLUTION = 120
TRUTH_RESOLUTION = 120
COMPARE_RESOLUTION = 90
# Side-by-side runs outlive a glance at another page; the session's end still stops them.
SIDE_BY_SIDE_IDLE_SECONDS = 300.0
FINISHED_STATES = ("finished", "stopped", "diverged")


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
    store = st.session_state.setdefault("insight-cache", {})
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


def current_model(experiment: ui.Experiment) -> Model:
    """The session's run (made from the sidebar when there is none yet) at its latest weights."""
    run = ui.session_run()
    # Only the Train page applies the sidebar to a live job (ensure_job also sets its rate).
    job = run.job if run.job is not None else ui.ensure_job(run, experiment)
    if job is None:
        st.error(st.session_state.pop("build-error", "Could not set up a model for this data."))
        st.stop()
    snap = job.snapshot()
    data = job.trainer.test_data[: ui.PANEL_SAMPLES].numpy()
    return Model(snap, data, job.trainer.dataset, plots.bounds_for(data))


def model_caption(model: Model, page: str) -> None:
    """Which model the page shows, and a button to take the live run's newest weights."""
    config = model.flow.config
    left, right = st.columns([5, 1])
    left.caption(
        f"The current run's model: {ui.ARCH_LABELS.get(config.arch, config.arch)}, "
        f"{config.layers} layers of width {config.hidden}, on {model.dataset.name}, at step "
        f"{model.snap.step:,} of {model.snap.budget:,} ({model.snap.state}). The views show the "
        "weights of the moment the page was drawn."
    )
    right.button("Refresh", key=f"{page}-refresh", icon=":material/refresh:",
                 help="Redraw with the run's latest weights")
    if model.snap.step == 0:
        st.info("This model is untrained: after the standardisation every layer is the identity, "
                "so the views below are plain. Train it on the Train page (even a few hundred "
                "steps), then come back and press Refresh.", icon="ℹ️")


# -- the inspected point ----------------------------------------------------------------------
def _seed_point(model: Model) -> tuple[float, float]:
    point = st.session_state.get(POINT_KEY)
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
    st.session_state[POINT_KEY] = (float(x1), float(x2))
    point = model.anchor.copy()
    point[:2] = (x1, x2)
    return point


def _take_clicked_point(chart_key: str, prefix: str) -> None:
    """Copy a clicked (selected) point of the density chart into the point inputs."""
    event = st.session_state.get(chart_key)
    points = event.selection.points if event is not None else []
    if points:
        st.session_state[f"{prefix}-x1"] = round(float(points[0]["x"]), 3)
        st.session_state[f"{prefix}-x2"] = round(float(points[0]["y"]), 3)


# -- LaTeX with the user's numbers ------------------------------------------------------------
def _num(value: float, digits: int = 3) -> str:
    if not math.isfinite(value):
        return r"\text{" + str(value) + "}"
    return f"{value:.{digits}f}"


def _signed(value: float) -> str:
    """``+ 0.123`` or ``- 0.123``, to continue a sum."""
    return ("- " if value < 0 else "+ ") + _num(abs(value))


def vector_latex(values: Sequence[float], limit: int = 6) -> str:
    values = list(values)
    shown = ", ".join(_num(v) for v in values[:limit])
    if len(values) > limit:
        shown += r", \ldots"
    return rf"\left({shown}\right)"


def log_det_sum_latex(layer_log_dets: Sequence[tuple[str, float]], total: float,
                      per_line: int = 8) -> str:
    r"""``\underbrace{a}_{\text{std}} + \underbrace{b}_{1} + … = total``, wrapped in lines."""
    terms = []
    for i, (name, value) in enumerate(layer_log_dets):
        label = r"\text{std}" if i == 0 else name.split(":")[0]
        text = _num(value) if i == 0 else _signed(value)
        terms.append(rf"\underbrace{{{text}}}_{{{label}}}")
    lines = [" ".join(terms[i:i + per_line]) for i in range(0, len(terms), per_line)]
    return r" \\ &\quad ".join(lines) + rf" = {_num(total)}"


def change_of_variables_latex(info: dict[str, Any]) -> str:
    """The change-of-variables formula with one point's numbers (see plots.point_inspection)."""
    z = info["z"]
    return (
        r"\begin{aligned}"
        rf"x &= {vector_latex(info['x'])} \\"
        rf"z = f(x) &= {vector_latex(z)} \\"
        rf"\log p_z(z) &= -\tfrac{{1}}{{2}}\lVert z\rVert^2 - \tfrac{{{len(z)}}}{{2}}\log 2\pi"
        rf" = {_num(info['log_p_z'])} \\"
        rf"\log\lvert\det J_f(x)\rvert &= "
        + log_det_sum_latex(info["layer_log_dets"], info["log_det"]) + r" \\"
        rf"\log p_x(x) &= \log p_z(z) + \log\lvert\det J_f(x)\rvert = {_num(info['log_p_z'])} "
        rf"{_signed(info['log_det'])} = {_num(info['log_p_x'])}"
        rf"\quad\Rightarrow\quad p_x(x) = {math.exp(min(info['log_p_x'], 700.0)):.4g}"
        r"\end{aligned}"
    )


def log_det_table(info: dict[str, Any]) -> list[dict[str, Any]]:
    rows, running = [], 0.0
    for name, value in info["layer_log_dets"]:
        running += value
        rows.append({"step": name, "log|det J| (nats)": value, "running sum": running})
    return rows


# -- Inside the flow --------------------------------------------------------------------------
def _reset_layer_slider(last: int) -> None:
    """Start each direction where its animation starts: x (stage 0) or z (the last stage)."""
    st.session_state["layer"] = 0 if st.session_state["layers-direction"] == "forward" else last


def layers_section(model: Model) -> None:
    st.subheader("Layer by layer")
    flow = model.flow
    last = len(flow.layers)
    direction = st.radio(
        "direction", ["forward", "backward"], key="layers-direction", horizontal=True,
        format_func={"forward": "data pushed forward, x → z",
                     "backward": "model samples pulled back, z → x"}.get,
        on_change=_reset_layer_slider, args=(last,),
    )
    if direction == "forward":
        fig = cached("layers-forward", model.key, lambda: plots.layers_figure(flow, model.data))
        names = [frame.name for frame in fig.frames]
    else:
        fig = cached("layers-backward", model.key, lambda: flow_inspect.pull_back_figure(flow))
        names = [frame.name for frame in fig.frames][::-1]
    if st.session_state.get("layer", 0) > last:
        st.session_state["layer"] = last
    stage = st.slider("layer", 0, last, key="layer",
                      help="0 is the standardised data, the last stage is z = f(x). The chart's "
                           "▶ play button animates the layers from the stage shown.")
    shown = flow_inspect.show_frame(fig, names[stage])
    means = cached("layer-means", model.key,
                   lambda: flow_inspect.mean_layer_log_dets(flow, model.data))
    name, mean = means[stage]
    st.caption(f"**{shown.layout.title.text}**. Mean log|det J| of this step over the held-out "
               f"data: {mean:+.3f} nats ({'stretches' if mean > 0 else 'squeezes'} the data on "
               "average; positive log-dets raise the density). Points keep the colour of where "
               "they started.")
    chart("layers", shown)
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
    st.caption("A regular grid in data space (left) drawn through f into latent space (right). "
               "Cells are coloured by log|det J_f| at their centres: red cells are stretched "
               "(the model puts probability there), blue ones squeezed.")


def point_section(model: Model) -> None:
    st.subheader("One point: the change of variables")
    left, right = st.columns([1.1, 1])
    with right:
        st.markdown("Click anywhere on the density, or type a point:")
        point = point_inputs("inspect", model)
    fig = cached("inspect-density", (*model.key, tuple(point[:2])),
                 lambda: flow_inspect.clickable_density_figure(
                     model.flow, model.data, model.bounds, INSPECT_RESOLUTION, point))
    with left:
        chart("inspect", fig, selection_mode="points",
              on_select=functools.partial(_take_clicked_point, "inspect-chart", "inspect"))
    info = plots.point_inspection(model.flow, point)
    st.latex(change_of_variables_latex(info))
    with right:
        st.dataframe(log_det_table(info), key="inspect-log-dets", hide_index=True,
                     column_config={"log|det J| (nats)": st.column_config.NumberColumn(
                                        format="%.4f"),
                                    "running sum": st.column_config.NumberColumn(
                                        format="%.4f")})


def _knows_density(dataset: Any, data: np.ndarray) -> bool:
    return dataset is not None and dataset.log_density(data[:1]) is not None


def truth_section(model: Model) -> None:
    st.subheader("Truth vs model")
    if not _knows_density(model.dataset, model.data):
        st.info(f"The true density of {model.dataset.name} is not known, so there is nothing to "
                "compare the model with. The toy datasets and images have one.")
        return
    metrics = model.snap.metrics
    cols = st.columns(3)
    kl, best_kl = metrics.get("kl"), metrics.get("best_kl")
    cols[0].metric("KL(p* ‖ model), nats", "—" if kl is None else f"{kl:.4f}",
                   help="Test NLL minus the true entropy, at the last evaluation: the nats the "
                        "model still loses per point. 0 is a perfect model (up to sampling noise).")
    cols[1].metric("best KL so far, nats", "—" if best_kl is None else f"{best_kl:.4f}")
    entropy = model.dataset.entropy()
    cols[2].metric("true entropy H(p*), nats", "—" if entropy is None else f"{entropy:.4f}")
    if kl is None:
        st.caption("The KL appears after the first evaluation of the held-out data.")
    fig = cached("truth", model.key, lambda: plots.truth_figure(
        model.flow, model.dataset.log_density, model.bounds, TRUTH_RESOLUTION, model.anchor))
    chart("truth", fig)


# -- Compare ----------------------------------------------------------------------------------
@dataclass
class SideBySide:
    """Runs of the Compare page's recipe that train in the background, one job each."""

    jobs: list[fc.TrainingJob] = field(default_factory=list)

    def stop(self) -> None:
        for job in self.jobs:
            job.stop()


@st.cache_resource(scope="session", on_release=SideBySide.stop, show_spinner=False)
def side_by_side() -> SideBySide:
    return SideBySide()


def side_by_side_configs(arch: str, steps: int, dim: int = 2
                         ) -> tuple[fc.FlowConfig, fc.TrainConfig]:
    """The Compare recipe: one size and one training for every architecture."""
    flow = fc.FlowConfig(arch=arch, dim=dim, layers=6, hidden=64)
    train = fc.TrainConfig(optimizer="adamw", lr=2e-3, batch_size=512, steps=steps,
                           schedule="cosine", warmup=min(100, steps // 10), clip_grad=10.0,
                           data_mode="fresh", n_test=5000, eval_every=max(5, steps // 80),
                           seed=0)
    return flow, train


def start_side_by_side() -> None:
    """Start one background run per chosen architecture (reads the form's widgets)."""
    state = st.session_state
    dataset_name, archs = state["compare-dataset"], state["compare-archs"]
    steps = int(state["compare-steps"])
    queue = side_by_side()
    queue.stop()
    queue.jobs.clear()
    dataset = ui.current_dataset(dataset_name, {})
    for arch in archs:
        flow, train = side_by_side_configs(arch, steps, dataset.dim)
        job = fc.TrainingJob(fc.Trainer(flow, train, dataset),
                             idle_timeout=SIDE_BY_SIDE_IDLE_SECONDS)
        queue.jobs.append(job)
        job.start()


def keep_side_by_side(run: ui.SessionRun) -> None:
    """Stop the side-by-side runs and keep each (with the steps it made) for the table."""
    queue = side_by_side()
    queue.stop()
    for job in queue.jobs:
        # keep_run appends to the list it is given, which is the session's own.
        ui.keep_run(ui.SessionRun(job=job, saved_runs=run.saved_runs))
    queue.jobs.clear()


def side_by_side_form(run: ui.SessionRun) -> None:
    queue = side_by_side()
    busy = any(job.state == "running" for job in queue.jobs)
    st.subheader("Train runs side by side")
    cols = st.columns([1.2, 2, 1, 1.2])
    names = list(fc.datasets.names())
    cols[0].selectbox("dataset", names, key="compare-dataset",
                      index=names.index("checkerboard") if "checkerboard" in names else 0)
    archs = cols[1].multiselect("architectures", fc.ARCHITECTURES, default=["realnvp", "nsf"],
                                key="compare-archs", format_func=ui.ARCH_LABELS.get)
    steps = cols[2].number_input("steps each", 20, 50_000, 2000, step=500, key="compare-steps")
    cols[3].button("Train side by side", key="compare-train", type="primary",
                   disabled=busy or not archs, on_click=start_side_by_side,
                   icon=":material/compare_arrows:",
                   help="Trains one run per architecture in the background; each is kept here "
                        "when it finishes.")
    flow, train = side_by_side_configs("realnvp", int(steps))
    st.caption(
        f"Every architecture gets the same recipe: {flow.layers} layers of width {flow.hidden}, "
        f"AdamW at {train.lr:g} with warm-up and a cosine schedule, batches of "
        f"{train.batch_size} fresh samples, gradient clip {train.clip_grad:g}, seed "
        f"{train.seed}. They share the machine's cores, so compare steps and time, and the "
        "parameter counts, in the table."
    )
    if queue.jobs:
        _side_by_side_progress(run, queue)


def _side_by_side_progress(run: ui.SessionRun, queue: SideBySide) -> None:
    running = any(job.state == "running" for job in queue.jobs)

    @st.fragment(run_every=1.0 if running else None)
    def progress() -> None:
        curves = {}
        for i, job in enumerate(queue.jobs, start=1):
            snap = job.snapshot()
            t = job.trainer
            label = f"{t.flow_config.arch} on {t.dataset.name}"
            st.progress(min(1.0, snap.step / max(1, snap.budget)),
                        text=f"{label}: {ui.status_line(snap)}")
            curves[f"{i}. {label}"] = list(snap.history)
        entropy = queue.jobs[0].trainer.entropy
        chart("compare-live", plots.compare_nll_figure(curves, entropy))
        if all(job.state in FINISHED_STATES for job in queue.jobs):
            keep_side_by_side(run)
            st.rerun()  # show them in the table and the maps

    progress()
    st.button("Stop them and keep them as they are", key="compare-stop",
              on_click=keep_side_by_side, args=(run,))


def remove_run(run: ui.SessionRun, kept: dict[str, Any]) -> None:
    run.saved_runs[:] = [r for r in run.saved_runs if r is not kept]


def _common_entropy(runs: Sequence[dict[str, Any]]) -> float | None:
    """The true entropy when every run is on one dataset that has it (test NLL − KL)."""
    values = set()
    for r in runs:
        m = r["metrics"]
        if m.get("kl") is None or m.get("test_nll") is None:
            return None
        values.add(round(m["test_nll"] - m["kl"], 6))
    return values.pop() if len(values) == 1 else None


def run_table(runs: Sequence[dict[str, Any]], labels: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for label, r in zip(labels, runs, strict=True):
        m = r["metrics"]
        last = r["history"][-1] if r["history"] else {}
        rows.append({
            "run": label,
            "architecture": ui.ARCH_LABELS.get(r["flow_config"]["arch"]),
            "steps": m.get("step"),
            "time (s)": last.get("time"),
            "test NLL (nats)": m.get("test_nll"),
            "best test NLL": m.get("best_test_nll"),
            "KL (nats)": m.get("kl"),
            "parameters": r["params"],
            "note": m.get("stopped_reason") or "",
        })
    return rows


def kept_runs_section(run: ui.SessionRun) -> None:
    st.subheader("Kept runs")
    has_steps = run.job is not None and run.job.trainer.step_count > 0
    st.button("Keep the current run", key="keep-current", on_click=ui.keep_run, args=(run,),
              disabled=not has_steps,
              help="Add the Train page's run, as it is now, to this comparison. Reset on the "
                   "Train page also keeps the run it replaces.")
    runs = list(run.saved_runs)
    if not runs:
        st.info("No runs kept yet. Train two side by side above, or keep the Train page's run "
                f"(Reset keeps it too). Up to {ui.MAX_SAVED_RUNS} runs are kept.")
        return
    labels = [f"{i}. {r['name']}" for i, r in enumerate(runs, start=1)]
    chart("compare", plots.compare_nll_figure(
        {label: r["history"] for label, r in zip(labels, runs, strict=True)},
        _common_entropy(runs)))
    number = st.column_config.NumberColumn
    st.dataframe(run_table(runs, labels), key="compare-table", hide_index=True,
                 column_config={"time (s)": number(format="%.1f"),
                                "test NLL (nats)": number(format="%.4f"),
                                "best test NLL": number(format="%.4f"),
                                "KL (nats)": number(format="%.4f")})
    per_row = min(3, max(2, len(runs)))
    for start in range(0, len(runs), per_row):
        for col, i in zip(st.columns(per_row), range(start, min(start + per_row, len(runs))),
                          strict=False):
            r = runs[i]
            with col:
                fig = cached(f"compare-density-{i}", (id(r), r["flow"]), lambda r=r, i=i:
                             plots.density_figure(r["flow"], bounds=plots.bounds_for(r["data"]),
                                                  resolution=COMPARE_RESOLUTION,
                                                  title=labels[i]))
                chart(f"compare-density-{i}", fig)
                st.button("Remove", key=f"remove-run-{i}", on_click=remove_run, args=(run, r),
                          icon=":material/delete:")


# -- Learn ------------------------------------------------------------------------------------
def mask_latex(mask: np.ndarray) -> str:
    entries = r" \\ ".join(str(int(v)) for v in mask)
    return rf"b = \begin{{pmatrix}} {entries} \end{{pmatrix}}"


def mask_words(mask: np.ndarray) -> str:
    passed = ", ".join(f"x{plots._sub(i + 1)}" for i in np.flatnonzero(mask > 0.5))
    changed = ", ".join(f"x{plots._sub(i + 1)}" for i in np.flatnonzero(mask <= 0.5))
    return f"passes {passed} through unchanged and transforms {changed}"


def affine_step_latex(step: dict[str, Any]) -> str:
    """The affine coupling forward pass of one layer with the point's numbers."""
    u, s, t, out = step["input"], step["scale"], step["shift"], step["output"]
    return (
        r"\begin{aligned}"
        rf"u &= {vector_latex(u)} \quad\text{{(what layer {step['layer']} receives)}} \\"
        rf"(1-b)\odot s(b\odot u) &= {vector_latex(s)} \\"
        rf"(1-b)\odot t(b\odot u) &= {vector_latex(t)} \\"
        rf"u \odot e^{{(1-b)\odot s}} + (1-b)\odot t &= {vector_latex(out)} \\"
        rf"\log\lvert\det J\rvert = \textstyle\sum_i (1-b_i)\, s_i &= {_num(step['log_det'])}"
        r"\end{aligned}"
    )


def layer_rows(flow: fc.Flow) -> list[dict[str, Any]]:
    masks = {m.layer: m.mask for m in flow_inspect.coupling_masks(flow)}
    rows = []
    for k, layer in enumerate(flow.layers, start=1):
        mask = masks.get(k)
        rows.append({
            "layer": k, "kind": layer.label,
            "mask b": "—" if mask is None else str([int(v) for v in mask]),
            "passes": "—" if mask is None else ", ".join(
                f"x{plots._sub(i + 1)}" for i in np.flatnonzero(mask > 0.5)),
            "transforms": "all (autoregressively)" if mask is None and "autoregressive" in
            layer.label else ("—" if mask is None else ", ".join(
                f"x{plots._sub(i + 1)}" for i in np.flatnonzero(mask <= 0.5))),
        })
    return rows
