"""The experiment sidebar, drawn once per script run by app.py for every page.

Because it is drawn on every run whatever the page, Streamlit keeps its widgets' values across
page switches. Each field's widget is keyed by its FlowConfig / TrainConfig field name. Fields
without a widget (say the seed's mask order) come from the *base* config: the preset, shared link
or loaded model the sidebar was last filled from.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
import streamlit as st

import flowcore as fc
from dashboard import state
from dashboard.state import Key
from flowcore import datasets, flows, plots
from flowcore.experiment import Experiment, matching_preset
from flowcore.presets import PRESETS, fixed_data_recipe

USER_DATA = "your data (upload)"
CUSTOM = "custom"
FLOW_FIELDS = ("arch", "layers", "hidden", "bins", "shared_trunk", "init")
INIT_LABELS = {"identity": "identity (a fresh flow does nothing)",
               "torch": "PyTorch default (the tutorial's)"}
TRAIN_FIELDS = ("optimizer", "lr", "batch_size", "steps", "stop_at", "stop_below", "schedule",
                "warmup", "clip_grad", "data_mode", "n_train", "seed")
STOP_LABELS = {"none": "no target", "kl": "KL to truth ≤", "nll": "NLL ≤"}
FIELDS = FLOW_FIELDS + TRAIN_FIELDS


# -- filling the fields ------------------------------------------------------------------------
def fill(flow: fc.FlowConfig, train: fc.TrainConfig, dataset: str | None = None) -> None:
    """Make ``flow`` and ``train`` the sidebar's fields (call before the widgets are drawn)."""
    st.session_state[Key.BASE] = (flow, train)
    values = {**flow.to_dict(), **train.to_dict()}
    for name in FIELDS:
        st.session_state[name] = values[name]
    if dataset is not None:
        st.session_state["dataset"] = dataset


def adapt_to(dataset) -> None:
    """Fill the fields with the default recipe adapted to ``dataset`` as fixed data (a user's
    table, image or drawing, or a bundled real table), as the CLI does; the sidebar says so
    once. Without it a small table trained with the seed's settings and overfit (iris reached
    a test NLL of 16-50 nats against 2.5 for a Gaussian)."""
    recipe = fixed_data_recipe(dataset)
    fill(recipe.flow, recipe.train)
    st.session_state[Key.RECIPE_NOTE] = (
        f"Settings adapted to this data ({recipe.label.split(', adapted to ')[-1]}): "
        f"{recipe.flow.layers} layers, a {recipe.train.steps:,}-step {recipe.train.schedule} "
        f"schedule, weight decay {recipe.train.weight_decay:g} and batches jittered by "
        f"{recipe.train.jitter:g} of each column's standard deviation; the kept weights are "
        "chosen on the validation rows.")


def _dataset_chosen() -> None:
    """The dataset menu's callback: a real table gets the fixed-data recipe."""
    name = st.session_state.get("dataset")
    if name in datasets.real_names():
        adapt_to(cached_dataset(name, ()))


def apply_preset() -> None:
    """The preset menu's callback: fill every field from the chosen preset."""
    preset = PRESETS.get(st.session_state.get("preset"))
    if preset is not None:
        fill(preset.flow, preset.train, dataset="moons")


def _from_link(query: dict[str, str]) -> None:
    """Fill the sidebar from a shared link's query (config fields as text, see _share_link)."""
    try:
        flow, train = fc.FlowConfig.from_strings(query), fc.TrainConfig.from_strings(query)
        name = query.get("dataset", "moons")
        try:
            knobs = {k: float(query[k]) for k in _knobs(name) if k in query}
        except ValueError:
            raise ValueError(f"a {name} setting is not a number") from None
        cached_dataset(name, tuple(sorted(knobs.items())))
    except (ValueError, KeyError) as err:
        st.session_state[Key.LINK_ERROR] = (
            f"The link's settings could not be used ({err}); the seed configuration is shown.")
        return
    fill(flow, train, dataset=name)
    for knob, value in knobs.items():
        st.session_state[f"{name}-{knob}"] = value


def _first_run(run: state.SessionRun) -> None:
    """Fill the fields on a session's first run: the tab's own run after a reload, else the
    shared link, else the seed configuration."""
    if st.session_state.pop(Key.RESTORED, False) and run.sidebar:
        for key, value in run.sidebar.items():
            st.session_state[key] = value
        return
    if "arch" in st.session_state:
        st.session_state.setdefault(Key.BASE, (PRESETS["seed"].flow, PRESETS["seed"].train))
        return
    query = st.query_params.to_dict()
    if query.get("dataset") in datasets.real_names():
        # Loaded before any field is written: a first load (it imports scikit-learn, seconds)
        # can be cut short by the tab's token arriving, and a run cut short once the seed's
        # fields were written left them, not the link's (seen in Chromium).
        cached_dataset(query["dataset"], ())
    st.session_state["preset"] = "seed"
    apply_preset()
    if query:
        _from_link(query)


def _share_link(experiment: Experiment) -> None:
    """Keep the experiment in the URL, so a copied link reproduces the set-up (never the run).

    The query holds the dataset, its knobs, and every config field that differs from its default
    (the data's dimension comes from the dataset).
    """
    if experiment.dataset_name not in _builtin_names():
        return
    query = {"dataset": experiment.dataset_name,
             **{k: str(v) for k, v in experiment.dataset_params}}
    for config in (experiment.flow, experiment.train):
        defaults = type(config)().to_strings()
        query.update({k: v for k, v in config.to_strings().items()
                      if k != "dim" and v != defaults[k]})
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


# -- the dataset -------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False, max_entries=64)
def cached_dataset(name: str, params: tuple[tuple[str, Any], ...]):
    return datasets.get(name, **dict(params))


def _builtin_names() -> tuple[str, ...]:
    """The datasets the menu offers by name: the toy recipes, then the bundled real tables."""
    return datasets.names() + datasets.real_names()


def _knobs(name: str) -> dict[str, datasets.Knob]:
    """A dataset's settings: a toy recipe's knobs; a real table has none."""
    return {} if name in datasets.real_names() else datasets.knobs(name)


def _dataset_label(name: str) -> str:
    """The menu's label: a real table says so, and its number of columns."""
    if name in datasets.real_names():
        return f"{name} (real data, {cached_dataset(name, ()).dim}-D)"
    return name


def dataset_of(experiment: Experiment):
    if experiment.dataset_name not in _builtin_names():
        return st.session_state.get(Key.USER_DATASET)
    return cached_dataset(experiment.dataset_name, experiment.dataset_params)


def _read_upload(upload) -> None:
    rejected = st.session_state.get(Key.USER_DATA_REJECTED)
    if rejected and rejected[0] == upload.file_id:
        st.error(rejected[1])
        return
    if st.session_state.get(Key.USER_DATA_ID) == upload.file_id:
        return
    try:
        data = upload.getvalue()
        if upload.name.lower().endswith((".png", ".jpg", ".jpeg")):
            user = datasets.from_image(data)
        else:
            user = datasets.from_csv(io.BytesIO(data))
    except ValueError as err:
        message = f"{upload.name}: {err} The previous data is still in use."
        st.session_state[Key.USER_DATA_REJECTED] = (upload.file_id, message)
        st.error(message)
        return
    st.session_state[Key.USER_DATASET] = user
    st.session_state[Key.USER_DATA_ID] = upload.file_id
    adapt_to(user)
    st.rerun()  # the preset menu, drawn above, then names the new settings too


def _user_data() -> None:
    sources = ["upload a file", "draw it"]
    source = st.radio("source", sources, key="user-data-source",
                      index=_index(sources, "user-data-source"),
                      horizontal=True, label_visibility="collapsed")
    if source == "draw it":
        st.caption("Draw your data on the **Train** page, then press **Use the drawing**.")
        user = st.session_state.get(Key.USER_DATASET)
        if user is not None:
            st.caption(f"In use: {user.description}")
        return
    upload = st.file_uploader(
        "CSV of numeric columns, or an image (PNG/JPEG) to use as a density",
        type=["csv", "txt", "png", "jpg", "jpeg"], key="upload-data",
    )
    if upload is not None:
        _read_upload(upload)
    user = st.session_state.get(Key.USER_DATASET)
    if user is None:
        st.info("Upload a file to train on your own data. Until then the run keeps its data.")
    elif getattr(user, "notice", None):
        st.caption(user.notice)


def _dataset_section() -> tuple[str, tuple[tuple[str, Any], ...], Any]:
    st.subheader("Data")
    names = [*_builtin_names(), USER_DATA]
    name = st.selectbox("dataset", names, key="dataset", index=_index(names, "dataset"),
                        format_func=_dataset_label, on_change=_dataset_chosen)
    if note := st.session_state.pop(Key.RECIPE_NOTE, None):
        st.info(note, icon=":material/tune:")
    if name == USER_DATA:
        _user_data()
        user = st.session_state.get(Key.USER_DATASET)
        return (user.name if user is not None else USER_DATA), (), user
    st.caption(cached_dataset(name, ()).description)
    params = {}
    for knob_name, knob in _knobs(name).items():
        key = f"{name}-{knob_name}"
        # The value is passed as well as kept under the key: a slider made from a key alone is
        # drawn at its minimum in the browser, which then sends that back as the user's choice.
        params[knob_name] = st.slider(knob_name, knob.low, knob.high, key=key, help=knob.help,
                                      value=st.session_state.get(key, knob.default),
                                      format="%.3f")
    chosen = tuple(sorted(params.items()))
    return name, chosen, cached_dataset(name, chosen)


# -- the form ------------------------------------------------------------------------------------
# Every widget is given its current value as well as its key. A widget made from a key alone is
# drawn in the browser at its own default (the first option, the minimum), and the browser sends
# that back on the next interaction as if the user had chosen it: a "Custom" preset menu came back
# as the seed preset and refilled the sidebar, a dataset's noise came back as its minimum.
def _index(options: list, key: str) -> int:
    value = st.session_state.get(key)
    return options.index(value) if value in options else 0


def _number(label: str, key: str, config_cls, **kwargs: Any) -> None:
    """A number input for a config field, within the field's declared range."""
    lo, hi = config_cls.limits(key)
    value = st.session_state.get(key)
    if value is None:  # a field this session never filled: the base config's
        flow, train = st.session_state[Key.BASE]
        value = getattr(flow if config_cls is fc.FlowConfig else train, key)
    st.number_input(label, key=key, value=value, min_value=lo, max_value=hi, **kwargs)


def arch_label(name: str) -> str:
    """What the UI calls an architecture (from the flows registry)."""
    return flows.architecture(name).label


def _model_section() -> None:
    st.subheader("Model")
    arch = st.selectbox("architecture", flows.names(), key="arch", format_func=arch_label,
                        index=_index(flows.names(), "arch"))
    options = flows.architecture(arch).options
    _number("layers", "layers", fc.FlowConfig)
    _number("hidden width", "hidden", fc.FlowConfig, step=16)
    # Drawn for every architecture (disabled where they do not apply), so their values and the
    # sidebar's layout stay put when the architecture changes.
    _number("spline bins (NSF)", "bins", fc.FlowConfig, disabled="bins" not in options)
    st.checkbox("share one trunk for s and t (RealNVP, faster)", key="shared_trunk",
                value=bool(st.session_state.get("shared_trunk", False)),
                disabled="shared_trunk" not in options)
    st.selectbox("start from", list(INIT_LABELS), key="init", format_func=INIT_LABELS.get,
                 index=_index(list(INIT_LABELS), "init"),
                 help="How each conditioner's last layer starts. Identity: at zero, so a fresh "
                      "flow is exactly the identity. PyTorch default: small random weights, as "
                      "in the seed tutorial; on the seed task this learns about twice as fast "
                      "with Adam at a constant 1e-3 (see docs/benchmarks.md).")


def _training_section(dataset) -> None:
    st.subheader("Training")
    fresh_ok = dataset is None or dataset.can_sample_fresh
    modes = ["fixed", "fresh"] if fresh_ok else ["fixed"]
    if st.session_state.get("data_mode") not in modes:
        st.session_state["data_mode"] = "fixed"
    st.radio("data mode", modes, key="data_mode", horizontal=True,
             index=_index(modes, "data_mode"),
             format_func={"fixed": "fixed N-point sample",
                          "fresh": "fresh samples every step"}.get)
    _number("N (training points)", "n_train", fc.TrainConfig, step=500)
    _number("learning rate (applies live)", "lr", fc.TrainConfig, format="%.5f", step=1e-4)
    _number("batch size (0 = full batch)", "batch_size", fc.TrainConfig, step=64)
    _number("step budget", "steps", fc.TrainConfig, step=1000)
    _stop_target(dataset)
    st.selectbox("optimizer", ["adam", "adamw"], key="optimizer",
                 index=_index(["adam", "adamw"], "optimizer"))
    st.selectbox("schedule", ["constant", "cosine"], key="schedule",
                 index=_index(["constant", "cosine"], "schedule"))
    _number("warm-up steps", "warmup", fc.TrainConfig, step=50)
    _number("gradient clip (0 = off)", "clip_grad", fc.TrainConfig, step=1.0)
    _number("seed", "seed", fc.TrainConfig)


def _stop_target(dataset) -> None:
    """Beside the step budget: a quality target that ends training early (applies live)."""
    s = st.session_state
    known = dataset is None or dataset.log_density(np.zeros((1, dataset.dim))) is not None
    options = ["none", "kl", "nll"] if known else ["none", "nll"]
    if s.get("stop_at") not in options:
        s["stop_at"] = "none"
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        st.selectbox("stop early at (applies live)", options, key="stop_at",
                     index=_index(options, "stop_at"), format_func=STOP_LABELS.get,
                     help="Training finishes at the first evaluation whose validation KL (or "
                          "NLL) is at or below the target, in nats. It is judged on the "
                          "validation points, so the test figures stay honest.")
    with right:
        _number("target (nats)", "stop_below", fc.TrainConfig, format="%.3f", step=0.01,
                disabled=s["stop_at"] == "none", label_visibility="collapsed")


def _configs(dim: int) -> tuple[fc.FlowConfig, fc.TrainConfig]:
    """The fields' values over the base config."""
    s = st.session_state
    base_flow, base_train = s[Key.BASE]
    base = {**base_flow.to_dict(), **base_train.to_dict()}
    values = {name: s.get(name, base[name]) for name in FIELDS}
    options = flows.architecture(values["arch"]).options
    values["shared_trunk"] = bool(values["shared_trunk"]) and "shared_trunk" in options
    for name in ("layers", "hidden", "bins", "batch_size", "steps", "warmup", "n_train", "seed"):
        values[name] = int(values[name])
    for name in ("lr", "clip_grad", "stop_below"):
        values[name] = float(values[name])
    flow = dataclasses.replace(base_flow, dim=dim,
                               **{k: values[k] for k in FLOW_FIELDS})
    train = dataclasses.replace(base_train, **{k: values[k] for k in TRAIN_FIELDS})
    return flow, train


def _preset_menu() -> None:
    """The preset menu shows the preset the fields match, or "custom"."""
    s = st.session_state
    flow, train = _configs(s[Key.BASE][0].dim)
    shown = matching_preset(flow, train) or CUSTOM
    if s.get("preset") != shown:
        s["preset"] = shown
    labels = {**{k: p.label for k, p in PRESETS.items()}, CUSTOM: "Custom"}
    st.selectbox("preset", list(labels), key="preset", format_func=labels.get,
                 index=_index(list(labels), "preset"),
                 on_change=apply_preset, help="Picking a preset fills in every field below.")
    chosen = PRESETS.get(s["preset"])
    st.caption(chosen.description if chosen else "Your own settings (no preset matches them).")


def draw() -> Experiment | None:
    """Draw the sidebar; return its Experiment (None until there is usable data).

    Also makes the session's run follow the sidebar where that loses nothing (state.apply).
    """
    run = state.session_run()
    _first_run(run)
    with st.sidebar:
        # Each section is one container, so the sidebar's top level has the same elements on
        # every run: a fragment below (the heartbeat) never changes its place in the page.
        with st.container(key="sidebar-preset"):
            _preset_menu()
        with st.container(key="sidebar-data"):
            name, params, dataset = _dataset_section()
            if dataset is not None:
                st.plotly_chart(plots.data_preview_figure(dataset.sample(500, seed=0)),
                                key="data-preview", config={"displayModeBar": False})
        with st.container(key="sidebar-model"):
            _model_section()
        with st.container(key="sidebar-training"):
            _training_section(dataset)
            if message := st.session_state.pop(Key.LINK_ERROR, None):
                st.warning(message)
    experiment = None
    if dataset is not None:
        flow, train = _configs(dataset.dim)
        experiment = Experiment(name, params, flow, train)
        _share_link(experiment)
    st.session_state[Key.EXPERIMENT] = experiment
    run.sidebar = {key: st.session_state[key] for key in ("preset", "dataset", *FIELDS)}
    state.apply(run, experiment, dataset)
    return experiment
