"""The live view: the status line and the four panels (2-D, or corner plots beyond), drawn by
two fragments."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

import flowcore as fc
from dashboard import state
from dashboard.live_chart import live_chart
from dashboard.state import HEARTBEAT_SECONDS, PANEL_SAMPLES
from dashboard.views import cached
from flowcore import analysis, datasets, plots
from flowcore.baselines import Baseline, trainer_baselines

REFRESH_SECONDS = 1.0
NLL_SMOOTHING = 0.9  # the training loss's moving-average weight when "smooth" is on
HEATMAP_REFRESH_SECONDS = 3.0
# Beyond 2-D: the corner plots' height in pixels (about a half-width cell of the wide layout,
# so the cells stay near square), and how many columns they show until the user picks.
CORNER_HEIGHT = 560
CORNER_START = 4
COLUMNS_KEY = "corner-columns"


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
    """Where the run's points come from, how they are split (counts of points), and the device
    it trains on."""
    return f"{_split(job)} · trains on {device_label(job.trainer.device)}"


def device_label(device) -> str:
    """``the CPU`` or ``the GPU (cuda:0)``, for a :class:`torch.device`."""
    return "the CPU" if device.type == "cpu" else f"the GPU ({device})"


def _split(job: fc.TrainingJob) -> str:
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


def _status(job: fc.TrainingJob, snap: fc.Snapshot) -> None:
    """The status line, progress, the split and the run's notes."""
    with st.container(key="status"):
        st.markdown(status_line(snap))
    st.progress(min(1.0, snap.step / max(1, snap.budget)),
                text=f"{snap.step:,} / {snap.budget:,} steps")
    st.caption(split_line(job))
    with st.container(key="run-notes"):
        if snap.stopped_reason:
            st.warning(snap.stopped_reason, icon="⚠️")
        if snap.metrics.get("target_note"):
            st.success(snap.metrics["target_note"], icon="🎯")
        if job.note:
            st.info(job.note)


def _chart(name: str, fig) -> None:
    with st.container(key=name):
        live_chart(name, fig)


def draw(run: state.SessionRun) -> None:
    """Status and progress over four panels in a 2×2 grid, refreshed while the job runs: for 2-D
    data [density | samples] over [push-forward | NLL]; beyond 2-D (:func:`_draw_corners`) a
    column picker over [a pair's marginal | NLL] over [corner plot | latent corner plot].

    Few fragments, not one per panel: Streamlit runs a session's fragments one after another on
    one thread, and each run has a fixed cost, so five runs a second (one per panel) queued up
    behind each other and left the panels greyed out as stale. One fragment draws the light
    panels into the grid's cells (a fragment may write into containers made outside it); the
    heavy ones (the heatmap, or the marginal and corner plots) have their own, slower ones.
    """
    job = run.job
    running = job.state == "running"

    def every(seconds: float):
        return st.fragment(run_every=seconds if running else None)

    with st.popover("What do these numbers mean?", icon=":material/help:"):
        st.markdown(EXPLAINED)
    status_box = st.container()
    if job.trainer.flow_config.dim > 2:
        _draw_corners(job, status_box, every, running)
    else:
        _draw_plane(job, status_box, every, running)


def _draw_plane(job: fc.TrainingJob, status_box, every, running: bool) -> None:
    """The 2-D panels: [density | samples] over [push-forward | NLL]."""
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
        def scatter_panels() -> None:
            with top[1]:
                _chart("samples", plots.samples_figure(data.samples, data.data))
            with bottom[0]:
                _chart("latent", plots.latent_figure(data.z, data.data))

        _status_and_nll(job, snap, status_box, bottom[1], running, between=scatter_panels)

    with bottom[1]:  # above the chart the fragment draws into this cell
        _nll_toggles()
    with top[0]:
        density()
    live()


def _status_and_nll(job: fc.TrainingJob, snap: fc.Snapshot, status_box, nll_cell,
                    running: bool, baselines: Sequence = (), between=None) -> None:
    """The fast fragment's part for any dimension: the status line, ``between()`` (the other
    fast panels), the NLL chart; when training has ended, a full rerun redraws the controls and
    stops the refreshing. The status is written first: with it written after the scatter
    panels, a download clicked while training was "canceled" in 2 of 7 Chromium runs of
    tests/app/test_browser_newcomer.py (0 of 4 in this order), for reasons not found."""
    with status_box:
        _status(job, snap)
    if between is not None:
        between()
    with nll_cell:
        _nll_chart(job, snap, baselines)
    if running and snap.state != "running":
        st.rerun()


def _nll_toggles() -> None:
    toggles = st.columns(2)
    toggles[0].toggle("smooth the training loss", value=True, key="nll-smooth")
    toggles[1].toggle("log step axis", value=False, key="nll-log-steps")


def _nll_chart(job: fc.TrainingJob, snap: fc.Snapshot, baselines: Sequence = ()) -> None:
    _chart("nll", plots.nll_figure(
        snap.history, job.trainer.entropy, losses=snap.loss_history,
        smooth=NLL_SMOOTHING if st.session_state.get("nll-smooth") else 0.0,
        log_steps=bool(st.session_state.get("nll-log-steps")), baselines=baselines))


# -- beyond two dimensions ---------------------------------------------------------------------
def column_names(dataset) -> list[str]:
    """The data's column names (a table's header), else ``x1, x2, ...``."""
    if isinstance(dataset, datasets.PointCloud):
        return list(dataset.columns)
    return [f"x{j + 1}" for j in range(dataset.dim)]


def _kept(key: str, dim: int, default):
    """A picker's kept value where it fits ``dim`` columns, else ``default`` (written back: a
    value kept from a wider dataset would name columns this one lacks)."""
    value = st.session_state.get(key, default)
    flat = value if isinstance(value, list) else [value]
    if not all(isinstance(c, int) and 0 <= c < dim for c in flat):
        st.session_state[key] = value = default
    return value


def column_picker(dim: int, names: list[str]) -> list[int]:
    """The corner plots' columns, chosen in the main area; the first few until the user picks.
    Data wider than a corner plot can show says so and asks which columns to show."""
    most = plots.MAX_CORNER_COLUMNS
    chosen = st.multiselect(
        f"columns the corner plots show (up to {most})", list(range(dim)),
        default=_kept(COLUMNS_KEY, dim, list(range(min(dim, CORNER_START)))), key=COLUMNS_KEY,
        format_func=lambda j: f"{j + 1}: {names[j]}", max_selections=most)
    with st.container(key="corner-columns-note"):
        if dim > most:
            shown = ", ".join(names[j] for j in chosen) or "none"
            st.info(f"This data has {dim} columns, more than the {most} a corner plot can show: "
                    f"choose which to show (up to {most}) above. Showing now: {shown}.")
        if not chosen:
            st.warning("Choose at least one column above to draw the corner plots.")
    return chosen


def _pair_picker(dim: int, names: list[str]) -> tuple[tuple[int, int], bool]:
    """The marginal's two columns and whether to draw the data over it."""
    cells = st.columns(3)
    pair = tuple(
        cell.selectbox(label, list(range(dim)), index=_kept(key, dim, start), key=key,
                       format_func=lambda j: f"{j + 1}: {names[j]}")
        for cell, label, key, start in ((cells[0], "marginal of", "marginal-x", 0),
                                        (cells[1], "against", "marginal-y", 1)))
    overlay = cells[2].toggle("show data", value=False, key="overlay-data")
    return pair, overlay


def corner_data(job: fc.TrainingJob, snap: fc.Snapshot) -> analysis.PanelData:
    """Model samples, and training points with their push-forward, once per published weights.

    The training points, not the test split as in 2-D: real tables are small (wine's test split
    has 17 rows), too few to see a shape in a corner plot.
    """
    def compute() -> analysis.PanelData:
        return analysis.panel_data(snap.flow, job.trainer.train_data[:PANEL_SAMPLES].numpy(),
                                   PANEL_SAMPLES)

    return cached("corner-panels", (snap.flow, snap.weights_step), compute)


def baselines(job: fc.TrainingJob) -> list[Baseline]:
    """The Gaussian and KDE baselines on the run's own split, fitted once per run (the KDE's
    bandwidth search takes over a second on digits)."""
    return cached("baselines", (job.trainer,), lambda: trainer_baselines(job.trainer))


def _corner_views(job: fc.TrainingJob, snap: fc.Snapshot, columns: list[int],
                  names: list[str]) -> tuple:
    """The corner plot and the latent corner plot, built once per weights and columns."""
    def compute() -> tuple:
        data = corner_data(job, snap)
        return (plots.corner_figure(data.data, data.samples, columns, names, height=CORNER_HEIGHT,
                                    labels=("training data", "model")),
                plots.latent_corner_figure(data.z, columns, height=CORNER_HEIGHT))

    return cached("corners", (snap.flow, snap.weights_step, tuple(columns)), compute)


def _marginal(job: fc.TrainingJob, snap: fc.Snapshot, pair: tuple[int, int], overlay: bool,
              names: list[str]):
    def compute():
        data = corner_data(job, snap)
        return plots.marginal_density_figure(data.samples, pair, names,
                                             data=data.data if overlay else None)

    return cached("marginal", (snap.flow, snap.weights_step, pair, overlay), compute)


def _draw_corners(job: fc.TrainingJob, status_box, every, running: bool) -> None:
    """The panels for d > 2: [a pair's marginal | NLL with baselines] over [corner | latent
    corner]. The marginal and the corner plots cost the most, so they refresh on slower
    fragments, and each figure is built once per published weights and choice.

    The slow fragments draw into their own bodies (the marginal's pickers are widgets, which a
    fragment may not put into containers made outside it); only the fast one writes outside.
    """
    names = column_names(job.trainer.dataset)
    columns = column_picker(len(names), names)
    top = st.columns(2)

    @every(HEATMAP_REFRESH_SECONDS)
    def marginal() -> None:
        snap = job.snapshot()
        pair, overlay = _pair_picker(len(names), names)
        if pair[0] == pair[1]:
            st.info("Choose two different columns for the marginal density.")
            return
        try:
            _chart("marginal", _marginal(job, snap, pair, overlay, names))
        except ValueError as err:  # too few finite samples (a model far from trained)
            st.warning(f"The marginal cannot be drawn yet: {err}. Train on, or Reset.")

    @every(HEATMAP_REFRESH_SECONDS)
    def corners() -> None:
        corner, latent = _corner_views(job, job.snapshot(), columns, names)
        cells = st.columns(2)
        with cells[0]:
            _chart("corner", corner)
        with cells[1]:
            _chart("latent-corner", latent)

    @every(REFRESH_SECONDS)
    def live() -> None:
        snap = job.snapshot()
        _status_and_nll(job, snap, status_box, top[1], running, baselines(job))

    with top[1]:  # above the chart the fragment draws into this cell
        _nll_toggles()
    with top[0]:
        marginal()
    if columns:
        corners()
    live()
