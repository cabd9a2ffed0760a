"""The Model page's logic: load an uploaded model file safely, show it, and continue training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

import flowcore as fc
from dashboard import sidebar, state
from dashboard.state import PANEL_SAMPLES, Key
from flowcore import analysis, datasets, plots
from flowcore.experiment import Experiment, continued


@dataclass(frozen=True)
class LoadedModel:
    file_id: str
    name: str
    flow: fc.Flow
    info: dict[str, Any]  # what the file records about its run (dataset, metrics, ...)
    version: str | None  # the flowcore version that made the file


def load_upload(upload) -> LoadedModel | None:
    """The uploaded model (parsed once per file); a clear error and None when it is bad."""
    loaded = st.session_state.get(Key.LOADED_MODEL)
    if upload is None or (loaded is not None and loaded.file_id == upload.file_id):
        return loaded
    try:
        data = upload.getvalue()
        flow, info = fc.load_with_info(data)
        version = fc.read_metadata(data).get("flowcore_version")
    except ValueError as err:
        st.error(f"Could not load {upload.name}: {err}")
        return None
    loaded = LoadedModel(upload.file_id, upload.name, flow, info, version)
    st.session_state[Key.LOADED_MODEL] = loaded
    return loaded


def _dataset_of(info: dict[str, Any]) -> tuple[str | None, Any]:
    spec = info.get("dataset")
    name = spec.get("name") if isinstance(spec, dict) else None
    if name in datasets.real_names():  # a bundled table: its name is all it takes
        return name, sidebar.cached_dataset(name, ())
    if name not in datasets.names():
        return None, None
    params = spec.get("params")
    try:
        return name, sidebar.cached_dataset(
            name, tuple(sorted(params.items())) if isinstance(params, dict) else ())
    except (ValueError, TypeError):
        return None, None


# What a model file's metrics are called on the page, in this order; other keys follow as they are.
METRIC_LABELS = {
    "step": "steps trained",
    "best_step": "step of the weights in this file (the best held-out NLL)",
    "test_nll": "test NLL at the last step (nats)",
    "best_test_nll": "test NLL of the weights in this file (nats)",
    "val_nll": "validation NLL at the last step (nats)",
    "best_val_nll": "best validation NLL (nats)",
    "kl": "KL to the true density at the last step (nats)",
    "best_kl": "KL of the weights in this file (nats)",
    "train_nll": "training NLL at the last step (nats)",
    "steps_per_s": "steps per second",
    "time": "training time (s)",
}


def _format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def metric_rows(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """A file's metrics as labelled, rounded rows (errors are shown beside their value)."""
    shown = [k for k in METRIC_LABELS if k in metrics]
    shown += sorted(k for k in metrics if k not in METRIC_LABELS and not k.endswith("_se"))
    rows = []
    for key in shown:
        text = _format(metrics[key])
        if isinstance(metrics.get(f"{key}_se"), float):
            text += f" ± {metrics[f'{key}_se']:.2g}"
        rows.append({"metric": METRIC_LABELS.get(key, key), "value": text})
    return rows


def summary(loaded: LoadedModel) -> None:
    """The loaded model's config, metrics and panels."""
    if message := st.session_state.pop(Key.CONTINUE_ERROR, None):
        st.error(message)
    flow = loaded.flow
    metrics = loaded.info.get("metrics")
    left, right = st.columns(2)
    with left:
        st.subheader("Metrics")
        if isinstance(metrics, dict) and metrics:
            st.dataframe(metric_rows(metrics), key="model-metrics", hide_index=True)
            if metrics.get("best_step") not in (None, metrics.get("step")):
                st.caption(f"The file holds the weights of step {metrics['best_step']:,}, the "
                           "best on held-out data, not the last of the "
                           f"{metrics.get('step', 0):,} steps trained.")
        else:
            st.info("This file records no training metrics.")
    with right:
        st.subheader("Config")
        st.caption(f"{sidebar.arch_label(flow.config.arch)}; made with flowcore "
                   f"{loaded.version}")
        st.dataframe([{"field": k, "value": _format(v)} for k, v in flow.config.to_dict().items()],
                     key="model-config", hide_index=True)
    _, dataset = _dataset_of(loaded.info)
    data = None
    if dataset is not None and dataset.dim == flow.config.dim:
        data = dataset.sample(PANEL_SAMPLES, seed=1)
    panels = analysis.panel_data(flow, data, PANEL_SAMPLES)
    if data is None:
        st.plotly_chart(plots.samples_figure(panels.samples, None), key="model-samples")
        return
    figures = {"density": plots.density_figure(flow, bounds=plots.bounds_for(data)),
               "samples": plots.samples_figure(panels.samples, data),
               "latent": plots.latent_figure(panels.z, data)}
    for row in (("density", "samples"), ("latent",)):
        for column, name in zip(st.columns(2), row, strict=False):
            column.plotly_chart(figures[name], key=f"model-{name}")


def continue_training(run: state.SessionRun, loaded: LoadedModel) -> None:
    """Make the loaded model this tab's run, with its dataset and training config."""
    flow, info = loaded.flow, loaded.info
    name, dataset = _dataset_of(info)
    if dataset is None:
        current = state.experiment()
        if current is not None:
            name, dataset = current.dataset_name, sidebar.dataset_of(current)
    if dataset is None or dataset.dim != flow.config.dim:
        st.session_state[Key.CONTINUE_ERROR] = (
            "This model's dataset is unknown here: pick or upload a dataset with "
            f"{flow.config.dim} columns in the sidebar first, then press Continue again."
        )
        return
    try:
        train = fc.TrainConfig.from_dict(info.get("train_config") or {})
    except (ValueError, TypeError):
        train = fc.TrainConfig()
    train = continued(train)
    toy, real = name in datasets.names(), name in datasets.real_names()
    params = tuple(sorted(dataset.params.items())) if not real else ()  # as the sidebar has it
    experiment = Experiment(name, params, flow.config, train)
    if state.build_job(run, experiment, dataset, flow=flow, resume=info):
        run.loaded_from = loaded.name
        sidebar.fill(flow.config, train, dataset=name if toy or real else None)
        for knob, value in dataset.params.items() if toy else ():
            st.session_state[f"{name}-{knob}"] = value
        st.session_state[Key.CONTINUE_READY] = True
