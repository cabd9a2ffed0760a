r"""TrainingJob: one background thread that runs a :class:`Trainer`, for live dashboards.

The job never calls Streamlit. Readers call :meth:`TrainingJob.snapshot`, which returns an
immutable view: the history, the metrics and a copy of the weights at most
``publish_every`` seconds old. A job stops itself when nobody has read a snapshot for
``idle_timeout`` seconds (the browser tab was closed), and a process-wide cap keeps at most
``MAX_TRAINING_JOBS`` jobs computing at once; the others wait their turn, they do not fail.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
import threading
import time
import weakref
from typing import Any

import torch

from flowcore.flows import Flow
from flowcore.train import Trainer

STATES = ("idle", "running", "paused", "finished", "stopped", "diverged")

# Threads are set on purpose. A server trains several jobs at once next to Streamlit and the
# browser: there, one intra-op thread per job and one job per core is fastest, because torch's
# spinning worker threads collapse (to ~0.1x, measured) when another process wants the core.
# The CLI, alone on the machine, asks for up to two threads instead.
JOB_THREADS = 1
MAX_TRAINING_JOBS = max(1, os.cpu_count() or 1)
# A training thread releases the GIL around every torch op and must win it back after each one.
# While another thread runs Python (a dashboard building a figure), CPython hands the GIL over
# only every sys.getswitchinterval() seconds, 5 ms by default, so a step of a few hundred ops
# crawls. A shorter interval lets training keep its pace beside the page (bench/dashboard.py).
GIL_SWITCH_INTERVAL = 5e-4


class _FairSlots:
    """At most ``n`` jobs compute at once, and waiting jobs get a slot first come, first served
    (a plain semaphore lets the job that just released a slot take it straight back)."""

    def __init__(self, n: int):
        self._free, self._queue, self._cond = n, [], threading.Condition()

    def acquire(self, ticket: object, timeout: float) -> bool:
        with self._cond:
            if ticket not in self._queue:
                self._queue.append(ticket)
            ok = self._cond.wait_for(lambda: self._queue.index(ticket) < self._free, timeout)
            if ok:
                self._queue.remove(ticket)
                self._free -= 1
            return ok

    def leave(self, ticket: object) -> None:
        """Give up a place in the queue (the job stopped waiting)."""
        with self._cond:
            if ticket in self._queue:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()


_training_slots = _FairSlots(MAX_TRAINING_JOBS)
_all_jobs: weakref.WeakSet[TrainingJob] = weakref.WeakSet()


def configure_threads(threads: int = JOB_THREADS) -> None:
    """Set torch's intra-op thread count and the GIL switch interval for this process."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))


def live_jobs() -> list[TrainingJob]:
    """Every job in this process whose thread is alive (for tests and server health checks)."""
    return [job for job in list(_all_jobs) if job.alive]


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A consistent view of a job: never torn, safe to read while training goes on."""

    state: str
    step: int
    budget: int
    history: tuple[dict[str, Any], ...]
    metrics: dict[str, Any]
    flow: Flow  # a private copy: do not train it
    stopped_reason: str | None
    elapsed: float  # seconds spent training
    weights_step: int  # the step the copied weights come from
    loss_history: tuple[dict[str, Any], ...] = ()  # the training loss of every step (Trainer's)


class TrainingJob:
    r"""Runs ``trainer.step`` in a background thread with start / pause / resume / stop.

    Arguments:
        trainer: the :class:`Trainer` to drive.
        idle_timeout: stop after this many seconds without a :meth:`snapshot` read.
        publish_every: the weights copy in a snapshot is at most this many seconds old.
        chunk_seconds: how long the thread computes between checks of its controls.

    Example:
        >>> import flowcore as fc
        >>> t = fc.Trainer(fc.FlowConfig(layers=2, hidden=16), fc.TrainConfig(steps=100_000),
        ...                fc.datasets.get("moons"))
        >>> job = fc.TrainingJob(t); job.start(); job.stop(); job.state
        'stopped'
    """

    def __init__(
        self,
        trainer: Trainer,
        idle_timeout: float = 30.0,
        publish_every: float = 0.25,
        chunk_seconds: float = 0.05,
    ):
        configure_threads()
        self.idle_timeout, self.publish_every = idle_timeout, publish_every
        self.chunk_seconds = chunk_seconds
        self._lock = threading.Lock()  # guards the trainer and the published snapshot
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stop_requested = False
        self._install(trainer)
        _all_jobs.add(self)

    def _install(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.state = "idle"
        self.note: str | None = None
        self._last_read = time.monotonic()
        self._published = self._make_snapshot()
        self._published_at = time.monotonic()

    # -- controls ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start training (or resume it when paused)."""
        with self._lock:
            if self.state == "paused" and self.alive:
                self.state = "running"
                self._wake.notify_all()
                return
            if self.state not in ("idle", "paused", "finished", "stopped"):
                return
            if self.trainer.budget_spent:
                self.state = "finished"
                return
            self.state = "running"
            self._last_read = time.monotonic()
            self._stop_requested = False
            self._thread = threading.Thread(target=self._run, name="flowcore-train", daemon=True)
            self._thread.start()

    resume = start

    def pause(self) -> None:
        with self._lock:
            if self.state == "running":
                self.state = "paused"
                self._publish()

    def step_once(self, k: int = 1) -> None:
        """Run ``k`` steps now, in the caller's thread, when the job is not running."""
        with self._lock:
            if self.state == "running" or self.trainer.stopped_reason:
                return
            self.trainer.step(k)
            last = self.trainer.history[-1]["step"] if self.trainer.history else 0
            if not self.trainer.stopped_reason and last != self.trainer.step_count:
                self.trainer.record()  # a manual step shows its held-out numbers at once
            self._settle_after_steps(default="paused")
            self._publish()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop training and join the thread. The trainer and its weights stay readable."""
        with self._lock:
            self._stop_requested = True
            if self.state in ("running", "paused", "idle"):
                self.state = "stopped" if self._thread is not None else self.state
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._lock:
            self._thread = None
            self._publish()

    def reset(self, trainer: Trainer) -> None:
        """Stop, then start over with a new trainer (state ``idle``)."""
        self.stop()
        with self._lock:
            self._install(trainer)

    def set_learning_rate(self, lr: float) -> None:
        with self._lock:
            self.trainer.set_learning_rate(lr)
            if self.state == "diverged" and not self.trainer.stopped_reason:
                self.state = "paused"  # recovered: Train resumes from the restored weights
                self._publish()

    def set_target(self, stop_at: str, stop_below: float) -> None:
        """Change the stop target live (:meth:`Trainer.set_target`); a run that finished at the
        old target and has not met the new one can be started again."""
        with self._lock:
            self.trainer.set_target(stop_at, stop_below)
            if self.state == "finished" and not self.trainer.budget_spent:
                self.state = "paused" if self.trainer.step_count else "idle"
            self._publish()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread_id(self) -> int | None:
        """The operating system's id of the training thread while it lives (for profilers)."""
        thread = self._thread
        return thread.native_id if thread is not None and thread.is_alive() else None

    # -- reading -----------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The latest published view. Reading it also tells the job someone is watching."""
        self._last_read = time.monotonic()
        if self.state == "running":
            # The thread swaps in whole new snapshots, so reading the reference needs no lock:
            # readers never wait for a chunk of training steps to finish.
            return self._published
        with self._lock:
            self._publish()  # cheap when nothing changed
            return self._published

    def best(self) -> tuple[Flow, dict[str, Any]]:
        """A copy of the best weights so far and what a model file records about the run
        (for :func:`flowcore.save`); safe to call while the job trains."""
        with self._lock:
            return self.trainer.best_flow(), self.trainer.info()

    def _make_snapshot(self) -> Snapshot:
        t = self.trainer
        return Snapshot(
            state=self.state,
            step=t.step_count,
            budget=t.config.steps,
            history=tuple(t.history),
            metrics=t.metrics(),
            flow=copy.deepcopy(t.flow).cpu().eval(),  # the views read it on the CPU
            stopped_reason=t.stopped_reason,
            elapsed=t.train_seconds,
            weights_step=t.step_count,
            loss_history=tuple(t.loss_history),
        )

    def _publish(self) -> None:
        """Replace the published snapshot (call with the lock held)."""
        old = self._published
        if old.weights_step == self.trainer.step_count and old.state == self.state:
            return
        self._published = self._make_snapshot()
        self._published_at = time.monotonic()

    # -- the thread --------------------------------------------------------------------------
    def _settle_after_steps(self, default: str) -> None:
        t = self.trainer
        if t.stopped_reason:
            self.state = "diverged"
        elif t.budget_spent:
            self.state = "finished"
        else:
            self.state = default

    def _run(self) -> None:
        while True:
            self._train_while_running()
            _training_slots.leave(self)
            with self._lock:
                # start() may have made the job run again while this thread was finishing (it
                # saw the thread alive): then this thread goes on. Otherwise it is no longer the
                # job's thread, so a later start() starts a new one.
                if self.state != "running" or self._stop_requested:
                    if self._thread is threading.current_thread():
                        self._thread = None
                    self._publish()
                    return

    def _train_while_running(self) -> None:
        steps_per_chunk = 1
        while True:
            with self._lock:
                if self.state != "running":
                    _training_slots.leave(self)  # a paused job must not hold others' places
                while self.state == "paused" and not self._stop_requested:
                    if time.monotonic() - self._last_read > self.idle_timeout:
                        break
                    self._wake.wait(0.2)
                if self._stop_requested or self.state != "running" and self.state != "paused":
                    break
                if time.monotonic() - self._last_read > self.idle_timeout:
                    self.state = "stopped"
                    self.note = f"Stopped: nobody watched this run for {self.idle_timeout:g} s."
                    self._publish()
                    break
            if not _training_slots.acquire(self, timeout=0.2):
                continue  # other jobs hold the slots: keep our place in the queue
            try:
                with self._lock:
                    if self.state != "running" or self._stop_requested:
                        continue
                    remaining = self.trainer.config.steps - self.trainer.step_count
                    started = time.perf_counter()
                    self.trainer.step(max(1, min(steps_per_chunk, remaining)))
                    took = time.perf_counter() - started
                    self._settle_after_steps(default="running")
                    if time.monotonic() - self._published_at >= self.publish_every or (
                        self.state != "running"
                    ):
                        self._publish()
                    done = self.state != "running"
            finally:
                _training_slots.release()
            if done:
                break
            # Size the chunks so the controls stay responsive at any model size.
            rate = steps_per_chunk / max(took, 1e-6)
            steps_per_chunk = max(1, min(1000, int(rate * self.chunk_seconds)))
