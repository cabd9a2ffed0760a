r"""Time to quality on the seed's task: seconds until the held-out KL reaches 0.10 / 0.06 / 0.03.

Every row is a :class:`flowcore.Trainer` (peers through :mod:`bench.peers`) on the same moons: the
same fixed 3000 training points (or fresh batches, where the row says so), the same 20,000
held-out points and the same standardisation. The rows train in a round robin, a slice of training
time each, so that any load on the machine is spread over all of them.

The clock is the Trainer's: training seconds, with held-out evaluations left out, for every row
alike. Each row is evaluated when its clock passes the times of :func:`bench.common.eval_times`
(evenly spaced at first, then geometric), so a time-to-threshold is the first evaluation at or
below it, and is accurate to the spacing of that grid.

Every evaluation scores the *kept* weights: those the Trainer chose on its validation sample so
far (:meth:`flowcore.Trainer.record`), never a minimum over test evaluations. The KL is paired:
the mean of ``log p - log q`` over the 20,000 test points, with its standard error. "Kept KL" is
the KL of the weights kept at the end of the budget; "KL at end" that of the last weights.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch

import flowcore as fc
from bench import common
from bench.common import GOOD_FLOWS, N_TEST, THRESHOLDS, Profile, count_parameters, log
from bench.peers import match_hidden, peer_trainer
from flowcore.presets import DEFAULT_PRESET, PRESETS


def test_kl(trainer: fc.Trainer, flow: torch.nn.Module) -> tuple[float, float]:
    """Paired KL of ``flow`` on the trainer's own test sample (a recipe's true density)."""
    return trainer.paired_kl(flow)


@dataclasses.dataclass
class Row:
    key: str
    label: str
    library: str
    settings: str
    make: Callable[[float], fc.Trainer]  # budget (training seconds) -> a fresh Trainer
    # (trainer, flow) -> (KL, standard error) on data that chose nothing
    score: Callable[[fc.Trainer, torch.nn.Module], tuple[float, float]] = test_kl


def _preset_row(key: str, preset: str, label: str, settings: str) -> Row:
    def make(budget: float) -> fc.Trainer:
        p = PRESETS[preset]
        # The preset exactly as `flowcore train --preset P` runs it (its own step budget and
        # schedule); the benchmark stops it at the time budget. Only the test set is enlarged.
        train = dataclasses.replace(p.train, n_test=N_TEST, eval_every=common.NO_EVAL,
                                    eval_seconds=0.0, seed=common.SEED)
        return fc.Trainer(p.flow, train, _task())

    return Row(key, label, "flowcore", settings, make)


def _task():
    return fc.datasets.get(common.TASK_DATASET, noise=common.TASK_NOISE)


def rows() -> list[Row]:
    seed, best = PRESETS["seed"], PRESETS[DEFAULT_PRESET]
    out = [
        _preset_row("seed", "seed", f"seed config ({common.flow_label(seed.flow)})",
                    "Adam 1e-3, full batch, fixed 3000 points, constant lr"),
        _preset_row("defaults", DEFAULT_PRESET,
                    f"CLI defaults, `flowcore train` ({common.flow_label(best.flow)})",
                    f"preset {DEFAULT_PRESET!r} as shipped: {best.train.optimizer} "
                    f"{best.train.lr:g}, batch {best.train.batch_size}, {best.train.data_mode} "
                    f"data, {best.train.schedule} over {best.train.steps} steps"),
    ]
    for arch, cfg in GOOD_FLOWS.items():
        def make(budget: float, cfg: fc.FlowConfig = cfg) -> fc.Trainer:
            return fc.Trainer(cfg, common.good_train_config(budget, "fixed"), _task())

        out.append(Row(f"flowcore_{arch}", f"flowcore {common.flow_label(cfg)}", "flowcore",
                       "good recipe, fixed 3000 points", make))

    def peer_row(key: str, library: str, arch: str, like: str,
                 train: Callable[[float], fc.TrainConfig], settings: str) -> Row | None:
        cfg = GOOD_FLOWS[arch]
        try:
            hidden = match_hidden(library, arch, cfg.layers,
                                  count_parameters(fc.build_flow(cfg)))
        except ImportError as err:
            log(f"time to quality: skipping {library} ({err})")
            return None

        def make(budget: float) -> fc.Trainer:
            return peer_trainer(library, arch, cfg.layers, hidden, train(budget), _task())

        return Row(key, f"{library} {arch} {cfg.layers}×{hidden} ({like})", library, settings,
                   make)

    def defaults_recipe(budget: float) -> fc.TrainConfig:
        return dataclasses.replace(best.train, n_test=N_TEST, eval_every=common.NO_EVAL,
                                   eval_seconds=0.0, seed=common.SEED)

    out += [r for r in (
        peer_row("zuko_realnvp", "zuko", "realnvp", "params of flowcore realnvp",
                 lambda b: common.good_train_config(b, "fixed"),
                 "good recipe, fixed 3000 points"),
        peer_row("zuko_nsf", "zuko", "nsf", "params of flowcore nsf",
                 lambda b: common.good_train_config(b, "fixed"),
                 "good recipe, fixed 3000 points"),
        peer_row("zuko_nsf_defaults", "zuko", "nsf", "trained like the CLI defaults",
                 defaults_recipe, "flowcore's CLI-default recipe exactly, fresh data"),
    ) if r is not None]
    return out


class _Run:
    """One row in flight: its trainer, its evaluation grid and what it has recorded."""

    def __init__(self, row: Row, profile: Profile, budget: float):
        self.row, self.budget = row, budget
        self.trainer = row.make(budget)
        self.entropy = self.trainer.entropy
        self.pending = common.eval_times(profile, budget)
        self.evals: list[dict[str, Any]] = []
        self.rate: float | None = None  # steps per training second, once measured

    @property
    def done(self) -> bool:
        return not self.pending or bool(self.trainer.stopped_reason)

    def run_slice(self, seconds: float) -> None:
        """Train for about ``seconds`` training seconds, evaluating at the grid times passed."""
        trainer = self.trainer
        stop = min(trainer.train_seconds + seconds, self.budget)
        while not self.done and trainer.train_seconds < stop:
            if trainer.budget_spent:  # a preset's own step budget ran out before the time did
                self.pending = [trainer.train_seconds]
                break
            target = min(self.pending[0], stop)
            k = 1 if self.rate is None else math.ceil((target - trainer.train_seconds) * self.rate)
            k = max(1, min(k, 10_000, trainer.config.steps - trainer.step_count))
            before_steps, before_time = trainer.step_count, trainer.train_seconds
            trainer.step(k)
            spent = trainer.train_seconds - before_time
            if spent > 0 and trainer.step_count > before_steps:
                self.rate = (trainer.step_count - before_steps) / spent
            self._evaluate_due()
        if trainer.budget_spent and self.pending:
            self.pending = [trainer.train_seconds]
            self._evaluate_due()

    def _evaluate_due(self) -> None:
        passed = False
        while self.pending and self.trainer.train_seconds >= self.pending[0]:
            self.pending.pop(0)
            passed = True
        if passed:  # one evaluation, however many grid times one chunk of steps stepped over
            self._evaluate()

    def _evaluate(self) -> None:
        trainer = self.trainer
        if not trainer.history or trainer.history[-1]["step"] != trainer.step_count:
            trainer.record()  # validation (and test) now; it may change the kept weights
        kl, kl_se = self.row.score(trainer, trainer.best_flow())
        self.evals.append({"time": trainer.train_seconds, "step": trainer.step_count,
                           "kept_step": trainer.best_step, "kl": kl, "kl_se": kl_se})

    def result(self) -> dict[str, Any]:
        trainer, evals = self.trainer, self.evals
        kept = evals[-1] if evals else None
        reached = {}
        for threshold in THRESHOLDS:
            first = next((e for e in evals if e["kl"] <= threshold), None)
            reached[f"{threshold:.2f}"] = None if first is None else {
                "time": first["time"], "step": first["step"]}
        final = self.row.score(trainer, trainer.flow)[0] if evals else None
        return {
            "key": self.row.key, "label": self.row.label, "library": self.row.library,
            "settings": self.row.settings,
            "flow_config": trainer.flow_config.to_dict(),
            "train_config": trainer.config.to_dict(),
            "params": count_parameters(trainer.flow),
            "steps": trainer.step_count, "train_seconds": trainer.train_seconds,
            "steps_per_s": trainer.step_count / trainer.train_seconds
            if trainer.train_seconds else None,
            "time_to": reached,
            # The weights kept at the end (chosen on validation), their KL and when they were
            # trained; not a minimum over test evaluations.
            "best_kl": kept["kl"] if kept else None,
            "best_kl_se": kept["kl_se"] if kept else None,
            "best_kl_time": trainer.best_record["time"] if trainer.best_record else None,
            "best_kl_step": trainer.best_step,
            "final_kl": final,
            "stopped_reason": trainer.stopped_reason,
            "evals": evals,
        }


def round_robin(runs: list[_Run], slice_seconds: float) -> None:
    """Train every run to its budget, a slice of training time each in turn."""
    turn = 0
    while not all(r.done for r in runs):
        # Alternate the order every turn, so no row always follows the same neighbour.
        order = runs if turn % 2 == 0 else runs[::-1]
        for r in order:
            if not r.done:
                r.run_slice(slice_seconds)
        turn += 1


def run(profile: Profile) -> dict[str, Any]:
    budget = profile.ttq_seconds
    runs = [_Run(row, profile, budget) for row in rows()]
    entropy = runs[0].entropy
    dataset = _task()
    log(f"time to quality: {len(runs)} rows × {budget:g} training s, round robin "
        f"in slices of {profile.ttq_slice:g} s")
    round_robin(runs, profile.ttq_slice)
    results = [r.result() for r in runs]
    check, check_se = common.entropy_check(dataset, profile.entropy_check_n)
    for r in results:
        log(f"time to quality: {r['key']}: kept KL {r['best_kl']:.4f} from "
            f"{r['best_kl_time']:.1f} s, {r['steps_per_s']:.1f} steps/s")
    return {
        "what": "training seconds until held-out KL <= threshold, and the best KL in the budget",
        "dataset": {"name": common.TASK_DATASET, "noise": common.TASK_NOISE,
                    "n_train": common.N_TRAIN, "n_test": N_TEST, "seed": common.SEED},
        "entropy": entropy, "entropy_se": dataset.entropy_se(),
        "entropy_check": {"n": profile.entropy_check_n, "entropy": check, "se": check_se},
        "thresholds": list(THRESHOLDS), "budget_s": budget,
        "eval_times": common.eval_times(profile, budget),
        "clock": "training seconds (the Trainer's clock); held-out evaluations are excluded",
        "rows": results,
    }
