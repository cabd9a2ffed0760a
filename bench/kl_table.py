r"""KL to the truth: every flowcore architecture on every dataset whose entropy is known.

Each cell trains the architecture at its good settings (:data:`bench.common.GOOD_FLOWS`, the
shared recipe, fresh samples every step) for a fixed number of training seconds. At a few
evaluations the Trainer scores its weights on a validation sample and keeps the best
(:meth:`flowcore.Trainer.record`); the cell reports the paired KL of the weights kept at the end on
the test sample, which chose nothing. Cells run in worker processes of one torch thread each,
as many at once as the profile says (one per core by default), so the table fits in the run's
budget; every cell gets the same conditions. The held-out set has 20,000 points per dataset
(fewer in the quick profile).
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import time
from typing import Any

import torch

import flowcore as fc
from bench import common
from bench.common import GOOD_FLOWS, Profile, log


def datasets_with_entropy() -> list[str]:
    return [name for name in fc.datasets.names() if fc.datasets.get(name).entropy() is not None]


def _worker_init() -> None:
    torch.set_num_threads(1)


def train_cell(arch: str, dataset_name: str, seconds: float, n_evals: int,
               n_test: int) -> dict[str, Any]:
    """Train one cell; runs in a worker process."""
    started = time.perf_counter()
    dataset = fc.datasets.get(dataset_name)
    cfg = GOOD_FLOWS[arch]
    trainer = fc.Trainer(cfg, common.good_train_config(seconds, "fresh", n_test=n_test), dataset)
    checkpoints = [seconds * (i + 1) / n_evals for i in range(n_evals)]
    evals = []
    for checkpoint in checkpoints:
        while trainer.train_seconds < checkpoint and not trainer.stopped_reason:
            trainer.step(10)
        record = trainer.record()  # validation chooses the kept weights; test only reports
        if record is None:
            break
        evals.append({"time": trainer.train_seconds, "step": trainer.step_count,
                      "kl": record["kl"], "kl_se": record["kl_se"],
                      "kept_step": trainer.best_step})
    kept = trainer.best_record or {}
    return {
        "arch": arch, "dataset": dataset_name, "entropy": trainer.entropy,
        "entropy_se": dataset.entropy_se(),
        "best_kl": kept.get("kl"), "best_kl_se": kept.get("kl_se"),
        "best_step": trainer.best_step,
        "final_kl": evals[-1]["kl"] if evals else None,
        "steps": trainer.step_count, "train_seconds": trainer.train_seconds,
        "stopped_reason": trainer.stopped_reason, "evals": evals,
        "wall_seconds": time.perf_counter() - started,
    }


def run(profile: Profile) -> dict[str, Any]:
    names = datasets_with_entropy()
    cells = [(arch, name) for name in names for arch in GOOD_FLOWS]
    workers = max(1, profile.table_workers)
    log(f"KL table: {len(cells)} cells × {profile.table_seconds:g} training s, "
        f"{workers} worker(s) of 1 thread")
    results = []
    context = multiprocessing.get_context("spawn")  # no forked torch thread pools
    with futures.ProcessPoolExecutor(workers, mp_context=context,
                                     initializer=_worker_init) as pool:
        jobs = [pool.submit(train_cell, arch, name, profile.table_seconds, profile.table_evals,
                            profile.table_n_test) for arch, name in cells]
        for job in futures.as_completed(jobs):
            results.append(job.result())
    results.sort(key=lambda r: (names.index(r["dataset"]), list(GOOD_FLOWS).index(r["arch"])))
    log("KL table: done")
    return {
        "what": "paired test KL (nats) of the weights kept on validation after a fixed "
                "training budget, fresh data",
        "budget_s": profile.table_seconds, "workers": workers, "threads_per_worker": 1,
        "evals_per_cell": profile.table_evals, "n_test": profile.table_n_test,
        "archs": {arch: common.flow_label(cfg) for arch, cfg in GOOD_FLOWS.items()},
        "datasets": names, "cells": results,
    }
