r"""KL to the truth: every flowcore architecture on every dataset whose entropy is known, fresh
and fixed, beside zuko's NSF.

Each cell trains one model on one dataset in one data mode for a fixed number of training
seconds:

- ``fresh``: new samples every step; the architecture at its good settings
  (:data:`bench.common.GOOD_FLOWS`) and the shared recipe.
- ``fixed``: a fixed sample of ``N_TRAIN`` (3000) points, as a user's file would be; the same
  architecture and recipe adapted to those points by the rule every CSV gets
  (:func:`flowcore.presets.fixed_data_preset`: layers, jitter, weight decay, schedule length),
  the time budget on top.
- ``zuko_nsf``: zuko's NSF at the parameter count of flowcore's NSF cell, trained by the same
  Trainer with the same recipe, data and budget (:func:`bench.peers.peer_trainer`).

At a few evaluations the Trainer scores its weights on a validation sample and keeps the best
(:meth:`flowcore.Trainer.record`); the cell reports the paired KL of the weights kept at the end on
the test sample, which chose nothing. Cells run in worker processes of one torch thread each,
as many at once as the profile says (one per core by default), so the table fits in the run's
budget; every cell gets the same conditions. The test set has 20,000 points per dataset (fewer
in the quick profile).
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import time
from typing import Any

import torch

import flowcore as fc
from bench import common
from bench.common import GOOD_FLOWS, N_TRAIN, Profile, count_parameters, log, markdown_table
from bench.peers import PeerFlow, match_hidden, peer_trainer
from flowcore.presets import Preset, fixed_data_preset

MODES = ("fresh", "fixed")
PEER = "zuko_nsf"  # the peer's column: zuko's NSF at flowcore NSF's parameter count
COLUMNS = (*GOOD_FLOWS, PEER)


def datasets_with_entropy() -> list[str]:
    return [name for name in fc.datasets.names() if fc.datasets.get(name).entropy() is not None]


def _worker_init() -> None:
    torch.set_num_threads(1)


def cell_setup(arch: str, mode: str, seconds: float,
               n_test: int) -> tuple[fc.FlowConfig, fc.TrainConfig]:
    """The flow and training config of a flowcore cell (a peer copies its NSF's)."""
    train = common.good_train_config(seconds, mode, n_test=n_test)
    if mode == "fresh":
        return GOOD_FLOWS[arch], train
    recipe = fixed_data_preset(N_TRAIN, Preset(arch, "", GOOD_FLOWS[arch], train))
    return recipe.flow, recipe.train


def _trainer(column: str, dataset, mode: str, seconds: float, n_test: int) -> fc.Trainer:
    if column != PEER:
        return fc.Trainer(*cell_setup(column, mode, seconds, n_test), dataset)
    flow, train = cell_setup("nsf", mode, seconds, n_test)
    hidden = match_hidden("zuko", "nsf", flow.layers, count_parameters(fc.build_flow(flow)))
    return peer_trainer("zuko", "nsf", flow.layers, hidden, train, dataset)


def train_cell(column: str, dataset_name: str, mode: str, seconds: float, n_evals: int,
               n_test: int) -> dict[str, Any]:
    """Train one cell; runs in a worker process."""
    started = time.perf_counter()
    dataset = fc.datasets.get(dataset_name)
    trainer = _trainer(column, dataset, mode, seconds, n_test)
    checkpoints = [seconds * (i + 1) / n_evals for i in range(n_evals)]
    evals = []
    for checkpoint in checkpoints:
        # A fixed sample's schedule can end before the time budget (its steps are a rule of
        # the sample's size): then the cell stops there.
        while trainer.train_seconds < checkpoint and not (trainer.stopped_reason
                                                          or trainer.budget_spent):
            trainer.step(10)
        record = trainer.record()  # validation chooses the kept weights; test only reports
        if record is None:
            break
        evals.append({"time": trainer.train_seconds, "step": trainer.step_count,
                      "kl": record["kl"], "kl_se": record["kl_se"],
                      "kept_step": trainer.best_step})
        if trainer.budget_spent:
            break
    kept = trainer.best_record or {}
    return {
        "arch": column, "mode": mode, "label": _label(trainer.flow),
        "params": count_parameters(trainer.flow),
        "dataset": dataset_name, "entropy": trainer.entropy,
        "entropy_se": dataset.entropy_se(),
        "best_kl": kept.get("kl"), "best_kl_se": kept.get("kl_se"),
        "best_step": trainer.best_step,
        "final_kl": evals[-1]["kl"] if evals else None,
        "steps": trainer.step_count, "train_seconds": trainer.train_seconds,
        "stopped_reason": trainer.stopped_reason, "evals": evals,
        "wall_seconds": time.perf_counter() - started,
    }


def _label(flow: torch.nn.Module) -> str:
    return flow.label if isinstance(flow, PeerFlow) else common.flow_label(flow.config)


def run(profile: Profile) -> dict[str, Any]:
    names = datasets_with_entropy()
    cells = [(column, name, mode) for mode in MODES for name in names for column in COLUMNS]
    workers = max(1, profile.table_workers)
    log(f"KL table: {len(cells)} cells × {profile.table_seconds:g} training s, "
        f"{workers} worker(s) of 1 thread")
    results = []
    context = multiprocessing.get_context("spawn")  # no forked torch thread pools
    with futures.ProcessPoolExecutor(workers, mp_context=context,
                                     initializer=_worker_init) as pool:
        jobs = [pool.submit(train_cell, column, name, mode, profile.table_seconds,
                            profile.table_evals, profile.table_n_test)
                for column, name, mode in cells]
        for job in futures.as_completed(jobs):
            results.append(job.result())
    results.sort(key=lambda r: (MODES.index(r["mode"]), names.index(r["dataset"]),
                                COLUMNS.index(r["arch"])))
    log("KL table: done")
    return {
        "what": "paired test KL (nats) of the weights kept on validation after a fixed "
                "training budget, fresh data and a fixed sample, beside zuko's NSF",
        "budget_s": profile.table_seconds, "workers": workers, "threads_per_worker": 1,
        "evals_per_cell": profile.table_evals, "n_test": profile.table_n_test,
        "n_fixed": N_TRAIN, "modes": list(MODES), "columns": list(COLUMNS),
        "datasets": names, "cells": results,
    }


# -- the report's section ----------------------------------------------------------------------
def _kl(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _mode_table(kl: dict[str, Any], mode: str) -> list[str]:
    cells = {(c["dataset"], c["arch"]): c for c in kl["cells"] if c.get("mode", "fresh") == mode}
    columns = [c for c in kl.get("columns", COLUMNS) if any(k[1] == c for k in cells)]
    labels = {c: next(v["label"] for k, v in cells.items() if k[1] == c) for c in columns}
    body = []
    for name in kl["datasets"]:
        values = {c: cells.get((name, c), {}).get("best_kl") for c in columns}
        finite = [v for v in values.values() if v is not None]
        best = min(finite) if finite else None
        ours = [values[c] for c in columns if c != PEER and values[c] is not None]
        first = cells.get((name, columns[0]), {}) if columns else {}
        entropy = "—" if not first else f"{first['entropy']:.4f}" + (
            f" ± {first['entropy_se']:.4f}" if first.get("entropy_se") else "")
        row = [name, entropy]
        for c in columns:
            text = _kl(values[c]) + (" (diverged)" if cells.get((name, c), {}).get(
                "stopped_reason") else "")
            row.append(f"**{text}**" if values[c] is not None and values[c] == best else text)
        peer = values.get(PEER)
        row.append("—" if peer is None or not ours else "yes" if min(ours) <= peer else "no")
        body.append(row)
    header = ["Dataset", "Entropy", *[f"{c}<br>{labels[c]}" for c in columns],
              "flowcore ≤ zuko"]
    steps = {c: sorted(v["steps"] / v["train_seconds"] for k, v in cells.items()
                       if k[1] == c and v["train_seconds"]) for c in columns}
    return [f"### {mode.capitalize()} data", "", *markdown_table(header, body),
            "Steps per training second (median over datasets): " + ", ".join(
                f"{c} {v[len(v) // 2]:.1f}" for c, v in steps.items() if v) + ".", ""]


def render(kl: dict[str, Any] | None) -> list[str]:
    """The report's section (see :mod:`bench.report`)."""
    lines = ["## 3. KL to the truth: every architecture on every dataset", ""]
    if not kl:
        return lines + ["Not run.", ""]
    lines += [
        f"Paired test KL (nats, lower is better; {kl['n_test']:,} test points) of the weights "
        f"kept on validation after {kl['budget_s']:g} training seconds "
        f"({kl['evals_per_cell']} evaluations). *Fresh*: new samples every step, each "
        "architecture at its good settings and the good recipe. *Fixed*: a fixed sample of "
        f"{kl.get('n_fixed', N_TRAIN):,} points, the same recipe adapted to it by the rule every "
        "CSV gets (layers, jitter, weight decay, schedule). zuko's NSF has the parameter count "
        "of flowcore's NSF cell and is trained by the same Trainer, recipe and budget. The "
        f"{len(kl['cells'])} cells ran in {kl['workers']} worker processes of "
        f"{kl['threads_per_worker']} torch thread each. **Bold** = the lowest KL in the row; "
        "*flowcore ≤ zuko* says whether flowcore's best architecture is at least as good as "
        "zuko's NSF. The entropy's ± is its standard error (none where it is exact); "
        "differences smaller than about 0.01 nats are within noise.", ""]
    for mode in kl.get("modes", ["fresh"]):
        lines += _mode_table(kl, mode)
    return lines
