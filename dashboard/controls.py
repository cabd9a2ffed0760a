"""The run's buttons (Train, Pause, Step, Reset) and its downloads."""

from __future__ import annotations

import time

import streamlit as st

import flowcore as fc
from dashboard import shortcuts, state
from dashboard.sidebar import dataset_of
from dashboard.state import HEARTBEAT_SECONDS, Key
from dashboard.views import cached
from flowcore import export

SAMPLES_REFRESH_SECONDS = 30.0
# How long a replaced download stays served. Two refreshes (10 s) were not always enough: a
# click was still "canceled" once in a CI run of the Chromium download test.
KEEP_REPLACED_SECONDS = 30.0


def reset(run: state.SessionRun) -> None:
    """Start over with the sidebar's settings; the replaced run is kept for Compare."""
    experiment = state.experiment()
    if experiment is not None:
        state.build_job(run, experiment, dataset_of(experiment))


def _files(job: fc.TrainingJob) -> tuple[bytes, bytes]:
    """The model file and samples of the best weights.

    The model file follows every new best (its bytes are cheap). The samples (5,000 points
    through the inverse flow) were a tenth of the server's work beside a training seed model,
    so while the job trains they follow at most every SAMPLES_REFRESH_SECONDS. Same bytes keep
    the same address, and the browser fetches a download's file only when its bytes change.
    """
    trainer = job.trainer
    model_key = (id(trainer), trainer.best_step)
    samples_key = (id(trainer), trainer.best_step if job.state != "running"
                   else int(trainer.train_seconds // SAMPLES_REFRESH_SECONDS))

    def model() -> bytes:
        return export.model_bytes(*job.best())

    def samples() -> bytes:
        return export.samples_csv(job.best()[0])

    return cached("download-model", model_key, model), cached("download-samples", samples_key,
                                                              samples)


def _downloads(job: fc.TrainingJob) -> None:
    """Download model / samples, with the file's bytes in the page.

    Streamlit keeps a file made at click time (a callable ``data``) only until the next two script
    runs finish, and the live panels rerun every second, so such a download often vanished before
    the browser fetched it. Bytes made here stay served while the button shows them; the fragment
    looks for new best weights every HEARTBEAT_SECONDS while the job trains.
    """
    @st.fragment(run_every=HEARTBEAT_SECONDS if job.state == "running" else None)
    def buttons() -> None:
        files = _files(job)
        # The files these buttons showed in the last KEEP_REPLACED_SECONDS stay served (in
        # hidden buttons), so a click that raced a refresh still finds its file: Streamlit
        # deletes a file two script runs after no element shows it, and the live panels rerun
        # every second. They are drawn before the buttons take the new files, so no moment of
        # the run leaves a file the browser may still show unreferenced.
        with st.container(key="download-previous"):
            for age, previous in enumerate(_replaced_files(files)):
                for name, data in zip(("model", "samples"), previous, strict=True):
                    st.download_button(name, data, key=f"download-previous-{age}-{name}",
                                       on_click="ignore")
        row = st.container(horizontal=True, gap="small")
        row.download_button(
            "Download model", files[0], file_name="flow.safetensors",
            mime="application/octet-stream", key="download-model", on_click="ignore",
            help="The best weights so far, as .safetensors (load them on the Model page)",
        )
        row.download_button(
            "Download samples (CSV)", files[1], file_name="samples.csv", mime="text/csv",
            key="download-samples", on_click="ignore",
            help="Samples of the best weights so far",
        )

    buttons()


def _replaced_files(files: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    """The files shown before ``files`` and replaced less than KEEP_REPLACED_SECONDS ago."""
    cache = st.session_state.setdefault(Key.VIEW_CACHE, {})
    shown = cache.setdefault("downloads-shown", [(files, None)])  # (files, when replaced)
    now = time.monotonic()
    if shown[-1][0] != files:
        shown[-1] = (shown[-1][0], now)
        shown.append((files, None))
    shown[:] = [(f, at) for f, at in shown if at is None or now - at < KEEP_REPLACED_SECONDS]
    return [f for f, at in shown if at is not None]


def draw(run: state.SessionRun) -> None:
    """Train / Pause / Step / Reset, the downloads, and what the sidebar's changes mean."""
    job = run.job
    # One row that wraps: on a phone the buttons stay a compact block instead of six rows.
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    # Callbacks run before the page is drawn, so the buttons show the state they caused.
    running = job.state == "running"
    row.button("Train", key="train", type="primary", disabled=running,
               on_click=job.start, help=f"Start, or resume when paused. {shortcuts.HELP}")
    row.button("Pause", key="pause", disabled=not running, on_click=job.pause,
               help=shortcuts.HELP)
    step_by = row.selectbox("steps per Step", [1, 10], key="step-by", width=80,
                            label_visibility="collapsed")
    row.button("Step", key="step", disabled=running, on_click=job.step_once,
               args=(step_by,), help=f"Run one step (or ten) while paused. {shortcuts.HELP}")
    row.button("Reset", key="reset", on_click=reset, args=(run,),
               disabled=state.experiment() is None,
               help=f"Start over with the sidebar's settings. {shortcuts.HELP}")
    with row:
        _downloads(job)
        shortcuts.enable()
    st.html("<style>.st-key-download-previous { display: none; }</style>")
    # Always one container here, so the live panels below keep their place in the page.
    with st.container(key="notices"):
        if message := st.session_state.pop(Key.BUILD_ERROR, None):
            st.error(message)
        if state.pending_changes(run):
            st.info("You changed settings that need a new model (data, architecture, sizes or "
                    "schedule). Press **Reset** to apply them; the current run goes on until "
                    "then.")
