"""Shared dashboard pieces: the session's run, the experiment sidebar, controls and live panels.

Pages import this module and only lay things out. Math, training and figures live in flowcore.
"""

from __future__ import annotations

import dataclasses
import io
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st
import torch

import flowcore as fc
from flowcore import datasets, plots
from flowcore.presets import PRESETS

# Points per live scatter panel. The browser's redraw cost grows with the points drawn every
# second; with 1,000 each, training keeps about 80% of its headless speed while the page is open
# on the same 2 cores (0.77-0.87 measured by bench/dashboard.py).
PANEL_SAMPLES = 1000
CSV_SAMPLES = 5000
REFRESH_SECONDS = 1.0
HEATMAP_REFRESH_SECONDS = 3.0
MAX_SAVED_RUNS = 8
# A job with no reader for this long stops (the tab was closed). Every page's sidebar reads the
# job at least every HEARTBEAT_SECONDS while it runs, so only a closed tab goes quiet.
IDLE_TIMEOUT_SECONDS = float(os.environ.get("FLOWCORE_IDLE_TIMEOUT", "30"))
HEARTBEAT_SECONDS = 5.0
USER_DATA = "your data (upload)"
ARCH_LABELS = {
    "realnvp": "RealNVP (affine coupling)",
    "nsf": "Neural spline flow",
    "maf": "MAF (autoregressive)",
    "glow": "Glow (ActNorm + LU + coupling)",
}


# -- the experiment ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Experiment:
    """What the sidebar describes: enough to build a Trainer."""

    dataset_name: str
    dataset_params: tuple[tuple[str, Any], ...]
    flow: fc.FlowConfig
    train: fc.TrainConfig

    def needs_new_model(self, other: Experiment) -> bool:
        """Changes other than the learning rate need a Reset to take effect."""
        def without_lr(e: Experiment) -> tuple:
            return e.dataset_name, e.dataset_params, e.flow, {**e.train.to_dict(), "lr": None}

        return without_lr(self) != without_lr(other)


@dataclass
class SessionRun:
    """Everything one browser session trains: its job and the runs it kept for Compare."""

    job: fc.TrainingJob | None = None
    experiment: Experiment | None = None
    dataset: Any = None
    saved_runs: list[dict[str, Any]] = field(default_factory=list)

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()


@st.cache_resource(scope="session", on_release=SessionRun.stop, show_spinner=False)
def session_run() -> SessionRun:
    """This browser session's run; Streamlit stops its job when the session ends."""
    return SessionRun()


# The sidebar fields, named as in FlowConfig / TrainConfig; each is also its widget's key.
FIELDS = ("arch", "layers", "hidden", "bins", "shared_trunk", "optimizer", "lr", "batch_size",
          "steps", "schedule", "warmup", "clip_grad", "data_mode", "n_train", "seed")


def _set_fields(flow: fc.FlowConfig, train: fc.TrainConfig) -> None:
    values = {**flow.to_dict(), **train.to_dict()}
    for name in FIELDS:
        st.session_state[name] = values[name]


def apply_preset() -> None:
    """Fill every sidebar field from the chosen preset (a widget callback)."""
    preset = PRESETS.get(st.session_state.get("preset"))
    if preset is None:
        return
    _set_fields(preset.flow, preset.train)
    st.session_state["dataset"] = "moons"


def _parse(text: str, like: Any) -> Any:
    if isinstance(like, bool):
        if text.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() == "true"
    return type(like)(float(text)) if isinstance(like, int | float) else text


def _apply_shared_link() -> None:
    """Fill the sidebar from a shared link's query (st.query_params), validated like the API."""
    query = st.query_params.to_dict()
    if not query:
        return
    preset = PRESETS["seed"]
    flow, train = preset.flow.to_dict(), preset.train.to_dict()
    try:
        for name in FIELDS:
            if name in query:
                target = flow if name in flow else train
                try:
                    target[name] = _parse(query[name], target[name])
                except ValueError:
                    raise ValueError(f"{name} = {query[name]!r} is not valid") from None
        flow_cfg, train_cfg = fc.FlowConfig.from_dict(flow), fc.TrainConfig.from_dict(train)
        name = query.get("dataset", "moons")
        knob_values = {k: float(query[k]) for k in datasets.knobs(name) if k in query}
        datasets.get(name, **knob_values)
    except (ValueError, KeyError) as err:
        st.session_state["link-error"] = (
            f"The link's settings could not be used ({err}); the seed configuration is shown."
        )
        return
    _set_fields(flow_cfg, train_cfg)
    st.session_state["dataset"] = name
    for knob, value in knob_values.items():
        st.session_state[f"{name}-{knob}"] = value


def _keep_sidebar_state() -> None:
    """Keep the sidebar's values across page switches.

    Each page draws its own sidebar widgets, and Streamlit forgets a widget's value when the
    widget is not drawn on a run; assigning the values back makes them the session's own.
    """
    knob_keys = {f"{name}-{knob}" for name in datasets.names() for knob in datasets.knobs(name)}
    for key in ("preset", "dataset", *FIELDS, *knob_keys):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _init_defaults() -> None:
    if "preset" not in st.session_state:
        st.session_state["preset"] = "seed"
        apply_preset()
        _apply_shared_link()


def _share_link(experiment: Experiment) -> None:
    """Keep the whole experiment in the URL, so a copied link reproduces the set-up."""
    if experiment.dataset_name == USER_DATA:
        return
    values = {**experiment.flow.to_dict(), **experiment.train.to_dict()}
    query = {"dataset": experiment.dataset_name, **dict(experiment.dataset_params)}
    query.update({name: str(values[name]).lower() if isinstance(values[name], bool)
                  else str(values[name]) for name in FIELDS})
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def _limits(config_cls, name: str) -> dict[str, Any]:
    lo, hi = config_cls.limits(name)
    return {"min_value": lo, "max_value": hi}


def _dataset_picker() -> tuple[str, dict[str, Any]]:
    options = [*datasets.names(), USER_DATA]
    name = st.selectbox("dataset", options, key="dataset")
    params: dict[str, Any] = {}
    if name == USER_DATA:
        source = st.radio("source", ["upload a file", "draw it"], key="user-data-source",
                          horizontal=True, label_visibility="collapsed")
        if source == "draw it":
            _drawing()
            return name, params
        upload = st.file_uploader(
            "CSV of numeric columns, or an image (PNG/JPEG) to use as a density",
            type=["csv", "txt", "png", "jpg", "jpeg"],
            key="upload-data",
        )
        rejected = st.session_state.get("user_data_rejected")
        if upload is not None and rejected and rejected[0] == upload.file_id:
            st.error(rejected[1])
        elif upload is not None and st.session_state.get("user_data_id") != upload.file_id:
            try:
                data = upload.getvalue()
                if upload.name.lower().endswith((".png", ".jpg", ".jpeg")):
                    user = datasets.from_image(data)
                else:
                    user = datasets.from_csv(io.BytesIO(data))
            except ValueError as err:
                message = f"{upload.name}: {err} The previous data is still in use."
                st.session_state["user_data_rejected"] = (upload.file_id, message)
                st.error(message)
            else:
                st.session_state["user_dataset"] = user
                st.session_state["user_data_id"] = upload.file_id
        user = st.session_state.get("user_dataset")
        if user is None:
            st.info("Upload a file to train on your own data.")
        elif getattr(user, "notice", None):
            st.caption(user.notice)
        return name, params
    st.caption(_cached_dataset(name, ()).description)
    for knob_name, knob in datasets.knobs(name).items():
        key = f"{name}-{knob_name}"
        st.session_state.setdefault(key, knob.default)
        params[knob_name] = st.slider(knob_name, knob.low, knob.high, key=key, help=knob.help,
                                      format="%.3f")
    return name, params


DRAW_SIDE = 32  # cells per side of the drawing canvas


def _add_drawn_cells() -> None:
    """Add the canvas's current box or lasso selection to the drawing."""
    selection = st.session_state.get("draw-chart", {}).get("selection", {})
    picked = {p["point_index"] for p in selection.get("points", []) if p.get("curve_number") == 0}
    st.session_state.setdefault("drawn-cells", set()).update(picked)


def use_drawing() -> None:
    """Make the drawn cells the dataset (a density known exactly, so the KL is shown too)."""
    weights = plots.drawn_weights(DRAW_SIDE, st.session_state.get("drawn-cells", set()))
    try:
        drawing = datasets.from_grid(weights)
    except ValueError as err:
        st.session_state["draw-error"] = f"The drawing cannot be used: {err}."
        return
    st.session_state["user_dataset"] = drawing
    st.session_state["user_data_id"] = f"drawing-{len(st.session_state['drawn-cells'])}"


def _drawing() -> None:
    cells = st.session_state.setdefault("drawn-cells", set())
    st.caption("Select cells with the box or lasso; each selection adds to the drawing. Then "
               "press **Use the drawing** and **Reset** to train on it.")
    st.plotly_chart(plots.drawing_figure(DRAW_SIDE, cells), key="draw-chart",
                    selection_mode=("box", "lasso"), on_select=_add_drawn_cells,
                    config={"displaylogo": False})
    cols = st.columns(2)
    cols[0].button("Use the drawing", key="draw-use", on_click=use_drawing, disabled=not cells)
    cols[1].button("Clear", key="draw-clear", on_click=cells.clear, disabled=not cells)
    if message := st.session_state.pop("draw-error", None):
        st.error(message)
    user = st.session_state.get("user_dataset")
    if user is not None:
        st.caption(f"In use: {user.description}")


def current_dataset(name: str, params: dict[str, Any]):
    if name == USER_DATA:
        return st.session_state.get("user_dataset")
    return _cached_dataset(name, tuple(sorted(params.items())))


@st.cache_resource(show_spinner=False, max_entries=64)
def _cached_dataset(name: str, params: tuple[tuple[str, Any], ...]):
    return datasets.get(name, **dict(params))


def sidebar() -> Experiment | None:
    """The experiment form. Returns None when there is no usable dataset yet."""
    _keep_sidebar_state()
    _init_defaults()
    with st.sidebar:
        st.selectbox(
            "preset", list(PRESETS), key="preset", format_func=lambda k: PRESETS[k].label,
            on_change=apply_preset, help="Picking a preset fills in every field below.",
        )
        st.caption(PRESETS[st.session_state["preset"]].description)
        st.subheader("Data")
        name, params = _dataset_picker()
        dataset = current_dataset(name, params)
        if dataset is not None:
            st.plotly_chart(plots.data_preview_figure(dataset.sample(500, seed=0)),
                            key="data-preview", config={"displayModeBar": False})
        fresh_ok = dataset is None or dataset.can_sample_fresh
        modes = ["fixed", "fresh"] if fresh_ok else ["fixed"]
        if st.session_state.get("data_mode") not in modes:
            st.session_state["data_mode"] = "fixed"
        st.radio("data mode", modes, key="data_mode", horizontal=True,
                 format_func={"fixed": "fixed N-point sample",
                              "fresh": "fresh samples every step"}.get)
        st.number_input("N (training points)", key="n_train", step=500,
                        **_limits(fc.TrainConfig, "n_train"))

        st.subheader("Model")
        arch = st.selectbox("architecture", fc.ARCHITECTURES, key="arch",
                            format_func=ARCH_LABELS.get)
        st.number_input("layers", key="layers", **_limits(fc.FlowConfig, "layers"))
        st.number_input("hidden width", key="hidden", step=16, **_limits(fc.FlowConfig, "hidden"))
        if arch == "nsf":
            st.number_input("spline bins", key="bins", **_limits(fc.FlowConfig, "bins"))
        if arch == "realnvp":
            st.checkbox("share one trunk for s and t (faster)", key="shared_trunk")

        st.subheader("Training")
        st.number_input("learning rate (applies live)", key="lr", format="%.5f", step=1e-4,
                        **_limits(fc.TrainConfig, "lr"))
        st.number_input("batch size (0 = full batch)", key="batch_size", step=64,
                        **_limits(fc.TrainConfig, "batch_size"))
        st.number_input("step budget", key="steps", step=1000, **_limits(fc.TrainConfig, "steps"))
        st.selectbox("optimizer", ["adam", "adamw"], key="optimizer")
        st.selectbox("schedule", ["constant", "cosine"], key="schedule")
        st.number_input("warm-up steps", key="warmup", step=50, **_limits(fc.TrainConfig, "warmup"))
        st.number_input("gradient clip (0 = off)", key="clip_grad", step=1.0,
                        **_limits(fc.TrainConfig, "clip_grad"))
        st.number_input("seed", key="seed", **_limits(fc.TrainConfig, "seed"))
        if message := st.session_state.pop("link-error", None):
            st.warning(message)
        _sidebar_heartbeat()
    if dataset is None:
        return None
    s = st.session_state
    flow = fc.FlowConfig(arch=arch, dim=dataset.dim, layers=int(s["layers"]),
                         hidden=int(s["hidden"]), bins=int(s["bins"]),
                         shared_trunk=bool(s["shared_trunk"]) and arch == "realnvp")
    train = fc.TrainConfig(
        optimizer=s["optimizer"], lr=float(s["lr"]), batch_size=int(s["batch_size"]),
        steps=int(s["steps"]), schedule=s["schedule"], warmup=int(s["warmup"]),
        clip_grad=float(s["clip_grad"]), data_mode=s["data_mode"], n_train=int(s["n_train"]),
        seed=int(s["seed"]),
    )
    experiment = Experiment(name, tuple(sorted(params.items())), flow, train)
    _share_link(experiment)
    return experiment


def _sidebar_heartbeat() -> None:
    """A one-line run status on every page; reading it keeps a running job alive."""
    run = session_run()
    if run.job is None:
        return
    running = run.job.state == "running"

    @st.fragment(run_every=HEARTBEAT_SECONDS if running else None)
    def heartbeat() -> None:
        snap = run.job.snapshot()
        st.caption(f"Run: {snap.state}, step {snap.step:,}")

    heartbeat()


# -- the job ----------------------------------------------------------------------------------
def build_job(run: SessionRun, experiment: Experiment, flow: fc.Flow | None = None) -> None:
    """(Re)build the session's job from the experiment, keeping the old run for Compare."""
    dataset = current_dataset(experiment.dataset_name, dict(experiment.dataset_params))
    try:
        trainer = fc.Trainer(experiment.flow, experiment.train, dataset, flow=flow)
    except ValueError as err:
        st.session_state["build-error"] = f"Could not set up training: {err}"
        return
    keep_run(run)
    if run.job is None:
        run.job = fc.TrainingJob(trainer, idle_timeout=IDLE_TIMEOUT_SECONDS)
    else:
        run.job.reset(trainer)
    run.experiment, run.dataset = experiment, dataset


def keep_run(run: SessionRun) -> None:
    """Keep a finished or paused run (with some steps) for the Compare page, bounded."""
    if run.job is None or run.job.trainer.step_count == 0:
        return
    snap = run.job.snapshot()
    t = run.job.trainer
    run.saved_runs.append({
        "name": f"{t.flow_config.arch} on {t.dataset.name} ({snap.step} steps)",
        "dataset": t.dataset.name,
        "entropy": t.entropy,
        "flow_config": t.flow_config.to_dict(),
        "train_config": t.config.to_dict(),
        "history": list(snap.history),
        "metrics": snap.metrics,
        "params": sum(p.numel() for p in snap.flow.parameters()),
        "flow": snap.flow,
        "data": t.test_data[:PANEL_SAMPLES].numpy(),
    })
    del run.saved_runs[:-MAX_SAVED_RUNS]


def ensure_job(run: SessionRun, experiment: Experiment) -> fc.TrainingJob | None:
    if run.job is None:
        build_job(run, experiment)
    elif run.experiment is not None and experiment.train.lr != run.job.trainer.base_lr:
        run.job.set_learning_rate(experiment.train.lr)  # learning-rate changes apply live
    return run.job


def model_bytes(job: fc.TrainingJob) -> bytes:
    """The best weights so far as a .safetensors file (safe to call mid-run)."""
    with job._lock:
        flow, info = job.trainer.best_flow(), job.trainer.info()
    return fc.to_bytes(flow, info=info)


def samples_csv(flow: fc.Flow, n: int = CSV_SAMPLES) -> bytes:
    x = flow.sample(n, generator=torch.Generator().manual_seed(0)).float().numpy()
    out = io.StringIO()
    header = ",".join(f"x{i + 1}" for i in range(x.shape[1]))
    np.savetxt(out, x, delimiter=",", header=header, comments="", fmt="%.6g")
    return out.getvalue().encode()


def _downloads(job: fc.TrainingJob) -> None:
    """Download model / samples, with the file's bytes in the page.

    Streamlit keeps a file made at click time (a callable ``data``) only until the next two script
    runs finish, and the live panels rerun every second, so such a download often vanished before
    the browser fetched it. Bytes made here stay served while the button shows them, and this
    fragment refreshes them every HEARTBEAT_SECONDS while the job trains.
    """
    @st.fragment(run_every=HEARTBEAT_SECONDS if job.state == "running" else None)
    def buttons() -> None:
        left, right = st.columns([1, 1.3])
        left.download_button(
            "Download model", model_bytes(job), file_name="flow.safetensors",
            mime="application/octet-stream", key="download-model", on_click="ignore",
            help="The best weights so far, as .safetensors (load them on the Model page)",
        )
        right.download_button(
            "Download samples (CSV)", samples_csv(job.snapshot().flow),
            file_name="samples.csv", mime="text/csv", key="download-samples", on_click="ignore",
        )

    buttons()


def controls(run: SessionRun, experiment: Experiment) -> None:
    """Train / Pause / Step / Reset, and the model downloads."""
    job = ensure_job(run, experiment)
    if message := st.session_state.pop("build-error", None):
        st.error(message)
    if job is None:
        st.stop()
    cols = st.columns([1, 1, 1, 1, 1, 2.6])
    # Callbacks run before the page is drawn, so the buttons show the state they caused.
    state = job.state
    cols[0].button("Train", key="train", type="primary", disabled=state == "running",
                   on_click=job.start, help="Start, or resume when paused")
    cols[1].button("Pause", key="pause", disabled=state != "running", on_click=job.pause)
    step_by = cols[2].selectbox("steps per Step", [1, 10], key="step-by",
                                label_visibility="collapsed")
    cols[3].button("Step", key="step", disabled=state == "running", on_click=job.step_once,
                   args=(step_by,), help="Run one step (or ten) while paused")
    cols[4].button("Reset", key="reset", on_click=build_job, args=(run, experiment),
                   help="Start over with the sidebar's settings")
    with cols[5]:
        _downloads(job)
    if run.experiment is not None and experiment.needs_new_model(run.experiment):
        st.info("You changed settings that need a new model (data, architecture, sizes or "
                "schedule). Press **Reset** to apply them; the current run goes on until then.")


# -- live panels ------------------------------------------------------------------------------
def status_line(snap: fc.Snapshot) -> str:
    m = snap.metrics
    parts = [f"**{snap.state}**", f"step {snap.step:,}"]
    if m.get("steps_per_s"):
        parts.append(f"{m['steps_per_s']:.1f} steps/s")
    parts.append(f"{snap.elapsed:.1f} s")
    if m.get("train_nll") is not None:
        parts.append(f"train NLL {m['train_nll']:.3f}")
    if m.get("test_nll") is not None:
        parts.append(f"test NLL {m['test_nll']:.3f} nats")
    if m.get("kl") is not None:
        parts.append(f"KL to truth {m['kl']:.3f} nats")
    return " · ".join(parts)


def _panel_data(run: SessionRun, snap: fc.Snapshot) -> dict[str, Any]:
    """Samples, push-forward and data for the panels, computed once per published weights."""
    cache = st.session_state.setdefault("panel_cache", {})
    key = (id(snap.flow), snap.weights_step)
    if cache.get("key") != key:
        data = run.job.trainer.test_data[:PANEL_SAMPLES]
        flow = snap.flow
        with torch.no_grad():
            z, _ = flow(data.to(flow.loc.dtype))
            samples = flow.sample(PANEL_SAMPLES, generator=torch.Generator().manual_seed(0))
        cache.clear()
        cache.update(key=key, data=data.numpy(), z=z.float().numpy(),
                     samples=samples.float().numpy())
    return cache


def _chart(name: str, fig) -> None:
    with st.container(key=name):
        st.plotly_chart(fig, key=f"{name}-chart")


def live_panels(run: SessionRun) -> None:
    """Status, progress and the four panels in a 2×2 grid, refreshed while the job runs.

    Each panel is its own fragment, so the heavy heatmap can refresh less often than the rest.
    """
    running = run.job.state == "running"

    def every(seconds: float):
        return st.fragment(run_every=seconds if running else None)

    @every(REFRESH_SECONDS)
    def status() -> None:
        snap = run.job.snapshot()
        with st.container(key="status"):
            st.markdown(status_line(snap))
        st.progress(min(1.0, snap.step / max(1, snap.budget)),
                    text=f"{snap.step:,} / {snap.budget:,} steps")
        if snap.stopped_reason:
            st.warning(snap.stopped_reason, icon="⚠️")
        if run.job.note:
            st.info(run.job.note)
        if running and snap.state != "running":
            st.rerun()  # training ended: redraw the controls and stop refreshing

    @every(HEATMAP_REFRESH_SECONDS)
    def density() -> None:
        snap = run.job.snapshot()
        toggles = st.columns(2)
        log_scale = toggles[0].toggle("log density", value=True, key="log-density")
        overlay = toggles[1].toggle("show data", value=False, key="overlay-data")
        data = _panel_data(run, snap)["data"]
        fig = plots.density_figure(snap.flow, data=data if overlay else None,
                                   bounds=plots.bounds_for(data), log_scale=log_scale,
                                   resolution=plots.LIVE_DENSITY_RESOLUTION)
        _chart("density", fig)

    @every(REFRESH_SECONDS)
    def samples() -> None:
        data = _panel_data(run, run.job.snapshot())
        _chart("samples", plots.samples_figure(data["samples"], data["data"]))

    @every(REFRESH_SECONDS)
    def latent() -> None:
        data = _panel_data(run, run.job.snapshot())
        _chart("latent", plots.latent_figure(data["z"], data["data"]))

    @every(REFRESH_SECONDS)
    def nll() -> None:
        snap = run.job.snapshot()
        _chart("nll", plots.nll_figure(list(snap.history), run.job.trainer.entropy))

    status()
    for row in ((density, samples), (latent, nll)):
        for column, panel in zip(st.columns(2), row, strict=True):
            with column:
                panel()


# -- the Model page ---------------------------------------------------------------------------
def load_uploaded_model(upload) -> dict[str, Any] | None:
    """Load an uploaded model file safely; show a clear error and return None when it is bad."""
    if upload is None:
        return st.session_state.get("loaded_model")
    cached = st.session_state.get("loaded_model")
    if cached is not None and cached["file_id"] == upload.file_id:
        return cached
    try:
        data = upload.getvalue()
        flow = fc.load(data)
        meta = fc.read_metadata(data)
    except ValueError as err:
        st.error(f"Could not load {upload.name}: {err}")
        return None
    loaded = {"file_id": upload.file_id, "name": upload.name, "flow": flow, "meta": meta}
    st.session_state["loaded_model"] = loaded
    return loaded


def _dataset_of(info: dict[str, Any]):
    spec = info.get("dataset") if isinstance(info, dict) else None
    if not isinstance(spec, dict) or spec.get("name") not in datasets.names():
        return None, None
    params = spec.get("params")
    try:
        return spec["name"], _cached_dataset(
            spec["name"], tuple(sorted(params.items())) if isinstance(params, dict) else ())
    except (ValueError, TypeError):
        return None, None


def model_summary(loaded: dict[str, Any]) -> None:
    """The loaded model's config, metrics and panels."""
    if message := st.session_state.pop("continue-error", None):
        st.error(message)
    flow, meta = loaded["flow"], loaded["meta"]
    info = meta.get("info") if isinstance(meta.get("info"), dict) else {}
    left, right = st.columns(2)
    with left:
        st.subheader("Config")
        st.json(meta["config"], expanded=True)
    with right:
        st.subheader("Metrics")
        st.caption(f"made with flowcore {meta.get('flowcore_version')}")
        st.json(info.get("metrics") or {"note": "no training metrics recorded"}, expanded=True)
    name, dataset = _dataset_of(info)
    if dataset is None or dataset.dim != flow.config.dim:
        samples = flow.sample(PANEL_SAMPLES, generator=torch.Generator().manual_seed(0))
        st.plotly_chart(plots.samples_figure(samples.float().numpy(), None), key="model-samples")
        return
    data = dataset.sample(PANEL_SAMPLES, seed=1)
    with torch.no_grad():
        z, _ = flow(torch.from_numpy(data).to(flow.loc.dtype))
        samples = flow.sample(PANEL_SAMPLES, generator=torch.Generator().manual_seed(0))
    cols = st.columns(3)
    with cols[0]:
        st.plotly_chart(plots.density_figure(flow, bounds=plots.bounds_for(data)),
                        key="model-density")
    with cols[1]:
        st.plotly_chart(plots.samples_figure(samples.float().numpy(), data), key="model-samples")
    with cols[2]:
        st.plotly_chart(plots.latent_figure(z.float().numpy(), data), key="model-latent")


def continue_training(run: SessionRun, loaded: dict[str, Any]) -> None:
    """Make the loaded model this session's run, with its dataset and training config."""
    flow, info = loaded["flow"], loaded["flow"].info
    name, dataset = _dataset_of(info)
    if dataset is None:
        name = st.session_state.get("dataset")
        dataset = current_dataset(name, {})
    if dataset is None or dataset.dim != flow.config.dim:
        st.session_state["continue-error"] = (
            "This model's dataset is unknown here: pick or upload a dataset with "
            f"{flow.config.dim} columns in the sidebar first, then press Continue again."
        )
        return
    try:
        train = fc.TrainConfig.from_dict(info.get("train_config") or {})
    except (ValueError, TypeError):
        train = fc.TrainConfig()
    most = int(fc.TrainConfig.limits("steps")[1])
    train = dataclasses.replace(train, steps=min(most, train.steps + 10_000))
    experiment = Experiment(name, tuple(sorted(dataset.params.items())), flow.config, train)
    build_job(run, experiment, flow=flow)
    _set_fields(flow.config, train)
    st.session_state["dataset"] = name
    st.session_state["continue-ready"] = True
