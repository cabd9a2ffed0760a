"""The session's run, and every session-state key the dashboard uses.

One :class:`SessionRun` per browser tab owns all a user would hate to lose: the training job, the
runs kept for Compare and the side-by-side runs. It lives in a process-wide registry under the
tab's token (see :mod:`dashboard.tab`), so a reload of the same tab finds it again. A shared link
never carries the token, so a second browser opening the same URL gets a fresh run of its own.
A session without a token (AppTest, a browser without JavaScript) keeps its run to itself, and
the run stops when the session ends.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

import flowcore as fc
from flowcore.experiment import LIVE_FIELDS, Experiment

# A job with no reader for this long stops (the tab was closed). Every page reads the job at
# least every HEARTBEAT_SECONDS while it runs, so only a closed tab goes quiet.
IDLE_TIMEOUT_SECONDS = float(os.environ.get("FLOWCORE_IDLE_TIMEOUT", "30"))
HEARTBEAT_SECONDS = 5.0
# How long a run outlives the last session that showed it, waiting for a reload of its tab.
RELOAD_GRACE_SECONDS = float(os.environ.get("FLOWCORE_RELOAD_GRACE", "300"))
MAX_KEPT_RUNS = 8
PANEL_SAMPLES = 1000


class Key:
    """Session-state keys that are not widget keys (widgets are keyed by their field names)."""

    EXPERIMENT = "experiment"  # the sidebar's Experiment (None without usable data)
    BASE = "base-config"  # (FlowConfig, TrainConfig) the sidebar's fields start from
    USER_DATASET = "user-dataset"
    USER_DATA_ID = "user-data-id"
    USER_DATA_REJECTED = "user-data-rejected"
    DRAWN_CELLS = "drawn-cells"
    DRAW_ERROR = "draw-error"
    LINK_ERROR = "link-error"
    BUILD_ERROR = "build-error"
    LOADED_MODEL = "loaded-model"
    CONTINUE_ERROR = "continue-error"
    CONTINUE_READY = "continue-ready"
    VIEW_CACHE = "view-cache"
    INSPECT_POINT = "inspect-point"
    TAB_TOKEN = "tab-token-value"
    TOKEN_RENEW = "tab-token-renew"
    RESTORED = "restored"
    PAGE = "page"  # the page the last script run drew
    RECIPE_NOTE = "recipe-note"  # the sidebar's settings were adapted to new data (say so once)
    PINNED = "pinned-snapshot"  # (job, snapshot) the Inside page shows while the run trains


@dataclass(frozen=True)
class KeptRun:
    """A finished or paused run kept for the Compare page."""

    name: str
    dataset_name: str
    entropy: float | None
    flow_config: fc.FlowConfig
    train_config: fc.TrainConfig
    history: tuple[dict[str, Any], ...]
    metrics: dict[str, Any]
    parameters: int
    flow: fc.Flow
    data: Any  # held-out points for the density's bounds, (n, dim) float32

    @classmethod
    def of(cls, job: fc.TrainingJob) -> KeptRun:
        snap, t = job.snapshot(), job.trainer
        return cls(
            name=f"{t.flow_config.arch} on {t.dataset.name} ({snap.step} steps)",
            dataset_name=t.dataset.name, entropy=t.entropy, flow_config=t.flow_config,
            train_config=t.config, history=snap.history, metrics=snap.metrics,
            parameters=sum(p.numel() for p in snap.flow.parameters()), flow=snap.flow,
            data=t.test_data[:PANEL_SAMPLES].numpy(),
        )


@dataclass
class SessionRun:
    """Everything one browser tab trains and keeps."""

    job: fc.TrainingJob | None = None
    experiment: Experiment | None = None
    kept: list[KeptRun] = field(default_factory=list)
    side_by_side: list[fc.TrainingJob] = field(default_factory=list)
    # The sidebar's widget values, so a reload of the tab shows them again.
    sidebar: dict[str, Any] = field(default_factory=dict)
    loaded_from: str | None = None  # the model file the job continues, if any
    suspended: list[fc.TrainingJob] = field(default_factory=list)  # to resume on the tab's return

    @property
    def steps(self) -> int:
        return 0 if self.job is None else self.job.trainer.step_count

    def keep(self, job: fc.TrainingJob | None = None) -> None:
        """Keep ``job`` (default: the run's own) for Compare, if it made any steps."""
        job = job or self.job
        if job is None or job.trainer.step_count == 0:
            return
        self.kept.append(KeptRun.of(job))
        del self.kept[:-MAX_KEPT_RUNS]

    def stop_side_by_side(self) -> None:
        for job in self.side_by_side:
            job.stop()

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()
        self.stop_side_by_side()

    def suspend(self) -> None:
        """Stop the jobs that train (their weights and history stay), to resume on return."""
        jobs = [self.job, *self.side_by_side]
        self.suspended = [job for job in jobs if job is not None and job.state == "running"]
        for job in self.suspended:
            job.stop()

    def resume(self) -> None:
        """Start again the jobs :meth:`suspend` stopped."""
        for job in self.suspended:
            job.start()
        self.suspended = []


# -- the registry of tabs' runs -------------------------------------------------------------
@dataclass
class _Entry:
    run: SessionRun
    holder: object | None  # the session showing the run now
    released_at: float = 0.0


class _Registry:
    """Runs by tab token. When a tab's session ends (a reload or a closed tab) its run stops
    computing at once and waits RELOAD_GRACE_SECONDS for the tab; a reload resumes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def claim(self, token: str, holder: object, run: SessionRun) -> SessionRun | None:
        """The tab's run for ``holder``: the registered one if free, else ``run`` registered.

        Returns None when another live session holds the token (a duplicated tab).
        """
        self._expire()
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                self._entries[token] = _Entry(run, holder)
                return run
            if entry.holder is not None and entry.holder is not holder:
                return None
            returning = entry.holder is None
            entry.holder = holder
        if returning:
            entry.run.resume()  # the tab is back (a reload): what trained goes on training
        return entry.run

    def release(self, holder: object) -> None:
        """The holder's session ended: its run stops computing and waits for the tab."""
        with self._lock:
            released = [e for e in self._entries.values() if e.holder is holder]
            for entry in released:
                entry.holder, entry.released_at = None, time.monotonic()
        for entry in released:
            entry.run.suspend()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            gone = [t for t, e in self._entries.items()
                    if e.holder is None and now - e.released_at > RELOAD_GRACE_SECONDS]
            runs = [self._entries.pop(t).run for t in gone]
        for run in runs:
            run.stop()

    def __len__(self) -> int:
        return len(self._entries)


REGISTRY = _Registry()


@dataclass
class _Session:
    """One Streamlit session's hold on a run (ends with the session)."""

    run: SessionRun = field(default_factory=SessionRun)
    token: str | None = None

    def end(self) -> None:
        if self.token is None:
            self.run.stop()
        else:
            REGISTRY.release(self)


@st.cache_resource(scope="session", on_release=_Session.end, show_spinner=False)
def _session() -> _Session:
    return _Session()


def session_run() -> SessionRun:
    """This tab's run, found again after a reload once the tab's token is known."""
    session = _session()
    token = st.session_state.get(Key.TAB_TOKEN)
    if token and session.token != token:
        run = REGISTRY.claim(token, session, session.run)
        if run is None:
            st.session_state[Key.TOKEN_RENEW] = token  # a duplicated tab: it makes a new token
        else:
            if run is not session.run:
                session.run.stop()
                session.run = run
                st.session_state[Key.RESTORED] = True
            session.token = token
    return session.run


def enter_page(name: str) -> None:
    """Note the page this script run draws: a page entered anew shows the run's newest weights
    (see :func:`dashboard.views.current_model`)."""
    if st.session_state.get(Key.PAGE) != name:
        st.session_state.pop(Key.PINNED, None)
    st.session_state[Key.PAGE] = name


def experiment() -> Experiment | None:
    """The sidebar's experiment on this script run (None without usable data)."""
    return st.session_state.get(Key.EXPERIMENT)


# -- applying the sidebar to the run ---------------------------------------------------------
def build_job(run: SessionRun, experiment: Experiment, dataset: Any,
              flow: fc.Flow | None = None, keep: bool = True,
              resume: dict[str, Any] | None = None) -> bool:
    """(Re)build the run's job from the experiment; the replaced run is kept for Compare. With a
    saved model's ``flow`` and its file's ``info`` as ``resume``, the run goes on from it."""
    try:
        trainer = fc.Trainer(experiment.flow, experiment.train, dataset, flow=flow)
        if resume is not None:
            trainer.resume(resume)
    except ValueError as err:
        st.session_state[Key.BUILD_ERROR] = f"Could not set up training: {err}"
        return False
    if keep:
        run.keep()
    run.loaded_from = None
    if run.job is None:
        run.job = fc.TrainingJob(trainer, idle_timeout=IDLE_TIMEOUT_SECONDS)
    else:
        run.job.reset(trainer)
    run.experiment = experiment
    return True


def apply(run: SessionRun, experiment: Experiment | None, dataset: Any) -> None:
    """Make the run follow the sidebar where nothing is lost by it.

    A run never started takes every change at once; a started run takes the learning rate live,
    and anything else waits for Reset (the page says so).
    """
    if experiment is None:
        return
    fresh = run.job is not None and run.job.state == "idle" and run.loaded_from is None
    if run.job is None or (fresh and (run.experiment is None
                                      or experiment.needs_new_model(run.experiment))):
        build_job(run, experiment, dataset, keep=False)
    else:
        _apply_live(run, experiment.train)


def _apply_live(run: SessionRun, wanted: fc.TrainConfig) -> None:
    """Give a started run the sidebar's learning rate and stop target (LIVE_FIELDS)."""
    trainer = run.job.trainer
    if wanted.lr != trainer.base_lr:
        run.job.set_learning_rate(wanted.lr)
    target = (wanted.stop_at, wanted.stop_below)
    if target != (trainer.config.stop_at, trainer.config.stop_below):
        try:
            run.job.set_target(*target)
        except ValueError as err:  # a KL target on data without a known density
            st.session_state[Key.BUILD_ERROR] = str(err)
            return
    if run.experiment is not None:
        live = {name: getattr(wanted, name) for name in LIVE_FIELDS}
        train = dataclasses.replace(run.experiment.train, **live)
        run.experiment = dataclasses.replace(run.experiment, train=train)


def pending_changes(run: SessionRun) -> bool:
    """True when the sidebar asks for a different model than the run's."""
    current = experiment()
    return (current is not None and run.experiment is not None
            and current.needs_new_model(run.experiment))
