"""The live view: the status line and the four panels, each its own fragment."""

from __future__ import annotations

import streamlit as st

import flowcore as fc
from dashboard import state
from dashboard.state import HEARTBEAT_SECONDS, PANEL_SAMPLES
from dashboard.views import cached
from flowcore import analysis, plots

REFRESH_SECONDS = 1.0
NLL_SMOOTHING = 0.9  # the training loss's moving-average weight when "smooth" is on
HEATMAP_REFRESH_SECONDS = 3.0


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
        error = f" ± {m['kl_se']:.3f}" if m.get("kl_se") is not None else ""
        parts.append(f"KL to truth {m['kl']:.3f}{error} nats")
    return " · ".join(parts)


def split_line(job: fc.TrainingJob) -> str:
    """Where the run's points come from and how they are split (counts of points)."""
    t = job.trainer
    sizes = t.split_sizes
    line = (f"{sizes['train']:,} training · {sizes['validation']:,} validation (chooses the "
            f"weights kept) · {sizes['test']:,} test points (only reported)")
    if t.config.data_mode == "fresh":
        return f"Fresh samples every step; held out: {line.split(' · ', 1)[1]}"
    asked = t.config.n_train
    if not t.dataset.can_sample_fresh and sizes["train"] < asked:
        line += (f". N = {asked:,} was asked, but the data has {len(t.dataset.data):,} rows, "
                 "of which these are left for training")
    return line


EXPLAINED = """
- **NLL** (negative log-likelihood): how surprised the model is by the data, averaged over
  points, in **nats** (natural-log units; 1 nat ≈ 1.44 bits). Lower is better.
- **train** NLL is measured on the batches it learns from; **test** NLL on points it never
  saw, and never used to choose anything. The weights kept (and downloaded) are the ones with
  the best **validation** NLL.
- **KL to truth**: where the true density is known, the nats per point the model still loses
  against it, KL(p* ‖ model) = mean of log p*(x) − log q(x) over the test points, with its
  standard error. 0 is a perfect model.
"""


def heartbeat(run: state.SessionRun) -> None:
    """A one-line run status on every page; reading it keeps a running job alive."""
    if run.job is None:
        return
    job = run.job

    @st.fragment(run_every=HEARTBEAT_SECONDS if job.state == "running" else None)
    def beat() -> None:
        snap = job.snapshot()
        st.caption(f"Run: {snap.state}, step {snap.step:,}")

    beat()


def panel_data(job: fc.TrainingJob, snap: fc.Snapshot) -> analysis.PanelData:
    """Samples, push-forward and data for the panels, computed once per published weights."""
    def compute() -> analysis.PanelData:
        return analysis.panel_data(snap.flow, job.trainer.test_data[:PANEL_SAMPLES].numpy(),
                                   PANEL_SAMPLES)

    return cached("panels", (id(snap.flow), snap.weights_step), compute)


def _chart(name: str, fig) -> None:
    with st.container(key=name):
        st.plotly_chart(fig, key=f"{name}-chart")


def draw(run: state.SessionRun) -> None:
    """Status and progress over the four panels in a 2×2 grid: [density | samples] over
    [push-forward | NLL], refreshed while the job runs.

    Two fragments, not one per panel: Streamlit runs a session's fragments one after another on
    one thread, and each run has a fixed cost, so five runs a second (one per panel) queued up
    behind each other and left the panels greyed out as stale. One fragment draws everything but
    the heatmap, into the grid's cells (a fragment may write into containers made outside it);
    the heavy heatmap has its own, slower fragment.
    """
    job = run.job
    running = job.state == "running"

    def every(seconds: float):
        return st.fragment(run_every=seconds if running else None)

    with st.popover("What do these numbers mean?", icon=":material/help:"):
        st.markdown(EXPLAINED)
    status_box = st.container()
    top, bottom = st.columns(2), st.columns(2)

    @every(HEATMAP_REFRESH_SECONDS)
    def density() -> None:
        snap = job.snapshot()
        toggles = st.columns(2)
        log_scale = toggles[0].toggle("log density", value=True, key="log-density")
        overlay = toggles[1].toggle("show data", value=False, key="overlay-data")
        data = panel_data(job, snap).data
        fig = plots.density_figure(snap.flow, data=data if overlay else None,
                                   bounds=plots.bounds_for(data), log_scale=log_scale,
                                   resolution=plots.LIVE_DENSITY_RESOLUTION)
        _chart("density", fig)

    @every(REFRESH_SECONDS)
    def live() -> None:
        snap = job.snapshot()
        data = panel_data(job, snap)
        with status_box:
            with st.container(key="status"):
                st.markdown(status_line(snap))
            st.progress(min(1.0, snap.step / max(1, snap.budget)),
                        text=f"{snap.step:,} / {snap.budget:,} steps")
            st.caption(split_line(job))
            with st.container(key="run-notes"):
                if snap.stopped_reason:
                    st.warning(snap.stopped_reason, icon="⚠️")
                if job.note:
                    st.info(job.note)
        with top[1]:
            _chart("samples", plots.samples_figure(data.samples, data.data))
        with bottom[0]:
            _chart("latent", plots.latent_figure(data.z, data.data))
        with bottom[1]:
            _chart("nll", plots.nll_figure(
                snap.history, job.trainer.entropy, losses=snap.loss_history,
                smooth=NLL_SMOOTHING if st.session_state.get("nll-smooth") else 0.0,
                log_steps=bool(st.session_state.get("nll-log-steps"))))
        if running and snap.state != "running":
            st.rerun()  # training ended: redraw the controls and stop refreshing

    with bottom[1]:  # above the chart the fragment draws into this cell
        toggles = st.columns(2)
        toggles[0].toggle("smooth the training loss", value=True, key="nll-smooth")
        toggles[1].toggle("log step axis", value=False, key="nll-log-steps")
    with top[0]:
        density()
    live()
