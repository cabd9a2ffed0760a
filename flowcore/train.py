r"""The Trainer: maximum likelihood for a flow on a dataset, one step at a time.

The data is split three ways (:func:`split_dataset`): the flow trains on the training sample,
the weights it keeps are the ones with the best NLL on the validation sample, and every test NLL
and KL it reports comes from a test sample that chose nothing.

Two records are kept, both bounded:

- :attr:`Trainer.loss_history`: the training NLL of every step (``step``, ``time``,
  ``train_nll``); past ``MAX_LOSS_HISTORY`` entries neighbours are averaged in pairs, so each
  entry then covers :attr:`Trainer.loss_stride` steps.
- :attr:`Trainer.history`: one evaluation record about every ``eval_seconds`` of training (or
  every ``eval_every`` steps when ``eval_seconds`` is 0, which is deterministic), with the keys
  of :data:`RECORD_KEYS`.

It is deterministic for a seed in the step-based mode (same history and weights, bit for bit, on
CPU), and never raises into the caller's loop when training diverges: the step is not applied,
the last good weights come back, and :attr:`Trainer.stopped_reason` says what happened and what
to try.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from typing import Any

import numpy as np
import torch

from flowcore import curves, distributed
from flowcore.config import FlowConfig, TrainConfig, check_range
from flowcore.curves import RECORD_KEYS
from flowcore.flows import Flow, build_flow
from flowcore.split import BATCH_STREAM, Split, seed_for, split_dataset
from flowcore.stats import mean_and_se
from flowcore.target import StopTarget

__all__ = ["RECORD_KEYS", "Split", "Trainer", "split_dataset"]

# History is thinned (every other record dropped) beyond this many records, so it stays bounded.
MAX_HISTORY = 2000
# The per-step training loss: beyond this many entries neighbours are averaged in pairs.
MAX_LOSS_HISTORY = 4000
# A training NLL this many nats per dimension above its starting value counts as divergence.
EXPLODED_NATS_PER_DIM = 10.0
TEST_EVAL_BATCH = 20_000
# Later weights are kept while their validation NLL is within this many paired standard errors
# of the lowest (a schedule's annealed end, not a lucky draw of the noise). moons3000, fixed-data
# recipe (300 validation rows), seeds 0-5, external-test KL of the kept weights: 1 SE 0.0355
# 0.0363 0.0626 0.0382 0.0417 0.0337 (two early picks); 2 SE 0.0355 0.0363 0.0432 0.0344 0.0417
# 0.0337, each the last weights and within 0.0002 of the best of the run's 60 evaluations.
KEEP_WITHIN_SE = 2.0

class Trainer:
    r"""Trains a flow by minimising the mean negative log-likelihood (nats).

    The weights kept (:meth:`best_flow`) are chosen on the validation NLL (the lowest, or a
    later record within ``KEEP_WITHIN_SE`` standard errors of it, see :meth:`record`); the test
    sample only ever reports. Where the dataset's true density is known, the KL is paired: the
    mean over the test points of ``log p(x) - log q(x)``, with its standard error.

    Arguments:
        flow_config: the flow to build (``dim`` must match the dataset).
        train_config: optimiser, schedule, data mode, split sizes, evaluation basis and budget.
        dataset: a :mod:`flowcore.datasets` dataset.
        flow: continue training this flow instead of building a new one.

    Attributes:
        history: the evaluation records, each a dict with the keys of :data:`RECORD_KEYS`:
            ``step`` and ``time`` (seconds of training) when it was taken; ``train_nll``, the
            mean training loss over the steps since the previous record; ``val_nll`` and
            ``test_nll``, the mean NLL of the validation and test samples; ``kl`` and ``kl_se``,
            the paired KL on the test sample and its standard error (None where the true
            density is unknown); ``grad_norm``, ``lr`` and ``steps_per_s``.
        loss_history: the training loss of every step, as dicts ``{"step", "time",
            "train_nll"}``; once it is long, each entry averages :attr:`loss_stride` steps.
        split_sizes: ``{"train": n, "validation": n, "test": n}``.

    Example:
        >>> import flowcore as fc
        >>> t = fc.Trainer(fc.FlowConfig(layers=2, hidden=16),
        ...                fc.TrainConfig(steps=50, eval_every=25, eval_seconds=0),
        ...                fc.datasets.get("moons"))
        >>> t.step(50)["step"], [r["step"] for r in t.history]
        (50, [25, 50])
    """

    def __init__(
        self,
        flow_config: FlowConfig,
        train_config: TrainConfig,
        dataset,
        flow: Flow | None = None,
    ):
        self.flow_config, self.config, self.dataset = flow_config, train_config, dataset
        self.device = distributed.resolve_device(train_config.device)
        # Under torchrun: this process's rank; it trains on its shard, rank 0 alone evaluates.
        self.rank, self.world_size = distributed.rank_and_size()
        self._check_setup()
        self.entropy: float | None = dataset.entropy()
        self.entropy_se: float | None = dataset.entropy_se() if self.entropy is not None else None
        split = split_dataset(dataset, train_config)
        split = split._replace(train=distributed.shard(split.train, self.rank, self.world_size))
        # CPU tensors (the dashboard reads them); the device holds its own copies.
        self.train_data, self.val_data, self.test_data = (
            torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32)) for part in split
        )
        self._train_on_device = self.train_data.to(self.device)
        jitter = train_config.jitter if train_config.data_mode == "fixed" else 0.0
        self._jitter = (jitter * self.train_data.std(0).nan_to_num()).to(self.device) \
            if jitter and len(self.train_data) > 1 else None
        # The true log-density of the test points, once: the paired KL needs it every record;
        # the validation points' mean judges a "kl" stop target.
        self._test_log_p = self._true_log_p(self.test_data)
        val_log_p = self._true_log_p(self.val_data)
        self._target = StopTarget.of(train_config, None if val_log_p is None else
                                     float(val_log_p.mean()), dataset.name)
        self.target_note: str | None = None  # set when the stop target is reached
        self.generator = torch.Generator().manual_seed(train_config.seed)

        self.flow = (flow or self._initial_flow()).float().to(self.device).train()
        self._log_prob = distributed.data_parallel(self.flow, self.device)
        self._clock = 0.0  # train_seconds as every rank agrees on it (the mean over the ranks)
        self.optimizer = self._make_optimizer()
        self.base_lr = train_config.lr

        self.step_count = 0
        self.train_seconds = 0.0
        self.history: list[dict[str, Any]] = []
        self.loss_history: list[dict[str, Any]] = []
        self.loss_stride = 1
        self.stopped_reason: str | None = None
        self.best_val_nll = math.inf  # of the kept weights
        self.best_record: dict[str, Any] | None = None
        self._lowest_val_nll = math.inf
        self._lowest_val_points = np.zeros(0)
        self.best_state = copy.deepcopy(self.flow.state_dict())
        self._good_state = copy.deepcopy(self.flow.state_dict())
        self._start_nll: float | None = None
        self._losses: list[float] = []
        self._block: list[float] = []
        self._grad_norm = math.nan
        self._last_record = (0, 0.0)

    def _check_setup(self) -> None:
        flow_config, train_config, dataset = self.flow_config, self.config, self.dataset
        if flow_config.dim != dataset.dim:
            raise ValueError(
                f"FlowConfig.dim = {flow_config.dim} but the dataset has {dataset.dim} columns; "
                f"set dim={dataset.dim}."
            )
        if train_config.data_mode == "fresh" and not dataset.can_sample_fresh:
            raise ValueError(
                f"Dataset {dataset.name!r} cannot draw fresh samples; use data_mode='fixed'."
            )
        if self.world_size > 1 and train_config.eval_seconds > 0:
            raise ValueError("distributed training evaluates every eval_every steps, the same "
                             "steps on every rank: set eval_seconds=0")
        if self.world_size > 1 and train_config.batch_size % self.world_size:
            raise ValueError(f"batch_size = {train_config.batch_size} is the global batch; it "
                             f"must be a multiple of the {self.world_size} processes")

    def _true_log_p(self, points: torch.Tensor) -> np.ndarray | None:
        """The true log-density at ``points`` (float64), or None where it is unknown or a point
        lies off the true support (no finite KL exists then)."""
        log_p = self.dataset.log_density(points.numpy().astype(np.float64))
        if log_p is None:
            return None
        log_p = np.asarray(log_p, dtype=np.float64)
        return log_p if np.isfinite(log_p).all() else None

    def _initial_flow(self) -> Flow:
        """A new flow from the seed, standardised on the training sample and, where a layer
        starts from the data (Glow's ActNorm), started on the first batch; under torchrun every
        rank starts from rank 0's."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            flow = build_flow(self.flow_config)
        # In float64: data with huge values must not overflow the statistics.
        flow.set_standardisation(*distributed.column_stats(self.train_data))
        first = self.config.batch_size // self.world_size or len(self.train_data)
        flow.data_init(self.train_data[: max(2, first)])
        distributed.broadcast_module(flow)
        return flow

    @property
    def split_sizes(self) -> dict[str, int]:
        """How many points train, validate (choose the kept weights) and test (only report)."""
        # Under torchrun: all ranks' training rows (this rank holds 1/world_size of them).
        return {"train": len(self.train_data) * self.world_size, "validation": len(self.val_data),
                "test": len(self.test_data)}

    @property
    def test_entropy(self) -> float | None:
        """Mean ``-log p(x)`` of the test points under the true density (None if unknown).

        ``test_nll == test_entropy + kl`` exactly, for every record.
        """
        return None if self._test_log_p is None else float(-self._test_log_p.mean())

    @property
    def best_step(self) -> int:
        """The step of the kept weights (chosen on validation, see :meth:`record`), 0 before any."""
        return self.best_record["step"] if self.best_record else 0

    @property
    def best_test_nll(self) -> float:
        """The test NLL of the kept weights (chosen on validation), ``inf`` before any record."""
        return self.best_record["test_nll"] if self.best_record else math.inf

    def resume(self, info: dict[str, Any]) -> None:
        """Go on from a saved run, given its model file's ``info``: the step count, the clock
        and the curves continue from the step of the saved weights (:func:`flowcore.curves.read`),
        and those weights are evaluated at once, the first candidate to keep. Call it before any
        step; a file without usable curves resumes from step 0."""
        self.step_count, self.train_seconds, self.history, self.loss_history = curves.read(info)
        self._last_record = (self.step_count, self.train_seconds)
        if self.step_count:
            self.record()

    # -- set-up ------------------------------------------------------------------------------
    def _make_optimizer(self) -> torch.optim.Optimizer:
        cls = torch.optim.AdamW if self.config.optimizer == "adamw" else torch.optim.Adam
        # The fused kernel is several times faster than the per-parameter loop on CPU.
        return cls(self.flow.parameters(), lr=self.config.lr,
                   weight_decay=self.config.weight_decay, fused=True)

    def set_learning_rate(self, lr: float) -> None:
        """Change the base learning rate; the schedule goes on from the current step.

        After a divergence, a lower learning rate clears :attr:`stopped_reason`.
        """
        lr = check_range("lr", lr, *TrainConfig.limits("lr"))
        if self.stopped_reason and lr < self.base_lr:
            # A lower rate is the fix the divergence message suggests: allow training to go on
            # from the restored weights.
            self.stopped_reason = None
            self._start_nll = None
        self.base_lr = float(lr)

    def set_target(self, stop_at: str, stop_below: float) -> None:
        """Change the stop target (see :class:`TrainConfig`); a target not yet met lets a run
        that had finished at the old one go on."""
        config = dataclasses.replace(self.config, stop_at=stop_at, stop_below=stop_below)
        self._target = StopTarget.of(config, self._target.val_log_p, self.dataset.name)
        self.config = config
        if self.target_note and not self._target.met(self.history[-1]["val_nll"]):
            self.target_note = None

    def learning_rate(self, step: int) -> float:
        """The scheduled learning rate at ``step`` (0-based): warm-up, then constant or cosine."""
        cfg = self.config
        if cfg.warmup and step < cfg.warmup:
            return self.base_lr * (step + 1) / cfg.warmup
        if cfg.schedule == "cosine":
            progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
            if cfg.max_seconds:
                progress = max(progress, self._seconds_agreed / cfg.max_seconds)
            progress = min(1.0, progress)
            return self.base_lr * 0.5 * (1 + math.cos(math.pi * progress))
        return self.base_lr

    @property
    def _seconds_agreed(self) -> float:
        """The training time the budget and the schedule read: the same on every rank."""
        return self._clock if self.world_size > 1 else self.train_seconds

    def _batch(self) -> torch.Tensor:
        cfg = self.config
        size = cfg.batch_size // self.world_size  # this rank's part of the global batch
        if cfg.data_mode == "fresh":
            n = size or cfg.n_train // self.world_size
            seed = seed_for(cfg.seed, BATCH_STREAM, self.step_count * self.world_size + self.rank)
            sample = self.dataset.sample(n, seed=seed)
            return torch.from_numpy(np.ascontiguousarray(sample, dtype=np.float32)).to(self.device)
        if not size or size >= len(self.train_data):
            batch = self._train_on_device
        else:
            index = torch.randint(len(self.train_data), (size,), generator=self.generator)
            batch = self._train_on_device[index.to(self.device)]
        if self._jitter is None:
            return batch
        return batch + torch.randn(batch.shape, generator=self.generator).to(self.device) \
            * self._jitter

    # -- training ----------------------------------------------------------------------------
    def _diverge(self, what: str) -> None:
        self.flow.load_state_dict(self._good_state)
        self.optimizer = self._make_optimizer()  # Adam's moments may hold inf/NaN too
        self.stopped_reason = (
            f"Training diverged after step {self.step_count:,}: {what}. The last good weights "
            f"(step {self._last_record[0]}) were restored. Try a lower learning rate "
            f"(now {self.base_lr:g}, e.g. {self.base_lr / 10:g}) or gradient clipping."
        )

    @property
    def budget_spent(self) -> bool:
        cfg = self.config
        return self.target_note is not None or self.step_count >= cfg.steps or (
            cfg.max_seconds > 0 and self._seconds_agreed >= cfg.max_seconds
        )

    def _record_due(self) -> bool:
        cfg = self.config
        if self.budget_spent:
            return True  # the last weights are always evaluated
        if cfg.eval_seconds > 0:
            return self.train_seconds - self._last_record[1] >= cfg.eval_seconds
        return self.step_count % cfg.eval_every == 0

    def step(self, k: int = 1) -> dict[str, Any]:
        """Run up to ``k`` optimisation steps (fewer if training diverges); return the metrics."""
        params = [p for p in self.flow.parameters() if p.requires_grad]
        clip = self.config.clip_grad or math.inf
        for _ in range(k):
            if self.stopped_reason or self.target_note or (
                    self.config.max_seconds and self.budget_spent):
                break
            started = time.perf_counter()
            loss = -self._log_prob(self._batch()).mean()
            if self.world_size > 1:  # every rank decides on the same figures
                shared = torch.stack([loss.detach().double().cpu(),
                                      torch.tensor(self.train_seconds + time.perf_counter()
                                                   - started, dtype=torch.float64)])
                value, self._clock = distributed.mean_over_ranks(shared.to(self.device)).tolist()
            else:
                value = loss.item()
            if self._start_nll is None:
                self._start_nll = value
            limit = self._start_nll + EXPLODED_NATS_PER_DIM * self.flow_config.dim
            if not math.isfinite(value) or value > limit:
                self._diverge(f"the training NLL became {value:.4g} nats")
                break
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, clip).item()
            if not math.isfinite(grad_norm):
                self._diverge("the gradient became non-finite")
                break
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate(self.step_count)
            self.optimizer.step()
            self.step_count += 1
            self._losses.append(value)
            self._grad_norm = grad_norm
            self.train_seconds += time.perf_counter() - started
            self._log_loss(value)
            if self._record_due() and self._last_record[0] != self.step_count:
                self.record()
        return self.metrics()

    def _log_loss(self, value: float) -> None:
        """Add a step's loss to :attr:`loss_history`, averaging ``loss_stride`` steps an entry."""
        self._block.append(value)
        if len(self._block) < self.loss_stride:
            return
        self.loss_history.append({"step": self.step_count, "time": self.train_seconds,
                                  "train_nll": float(np.mean(self._block))})
        self._block.clear()
        if len(self.loss_history) >= MAX_LOSS_HISTORY:
            pairs = zip(self.loss_history[0::2], self.loss_history[1::2], strict=False)
            self.loss_history = [
                {**b, "train_nll": 0.5 * (a["train_nll"] + b["train_nll"])} for a, b in pairs
            ]
            self.loss_stride *= 2

    # -- evaluation --------------------------------------------------------------------------
    @torch.no_grad()
    def _log_q(self, data: torch.Tensor, flow: Flow | None = None) -> np.ndarray:
        """The flow's log-density at every row of ``data``, float64."""
        flow = flow or self.flow
        device = next(flow.buffers()).device
        parts = [flow.log_prob(chunk.to(device)).double().cpu().numpy()
                 for chunk in data.split(TEST_EVAL_BATCH)]
        return np.concatenate(parts)

    def test_nll(self, flow: Flow | None = None) -> float:
        """Mean NLL (nats) of the test sample."""
        return float(-self._log_q(self.test_data, flow).mean())

    def val_nll(self, flow: Flow | None = None) -> float:
        """Mean NLL (nats) of the validation sample (the one that chooses the kept weights)."""
        return float(-self._log_q(self.val_data, flow).mean())

    def paired_kl(self, flow: Flow | None = None) -> tuple[float, float] | None:
        r"""``(KL, standard error)`` in nats on the test sample, or None without a true density.

        KL(p ‖ q) is estimated as the mean over the test points of ``log p(x) - log q(x)``. The
        two terms are paired on the same points, so the sampling noise of the entropy cancels
        and the standard error is that of the difference alone.
        """
        if self._test_log_p is None:
            return None
        return mean_and_se(self._test_log_p - self._log_q(self.test_data, flow))

    def record(self) -> dict[str, Any] | None:
        """Evaluate now on the validation and test samples and append a :attr:`history` record.

        The record's weights become the kept ones (:meth:`best_flow`) when their validation NLL
        is the lowest so far, or within ``KEEP_WITHIN_SE`` paired standard errors of it: among
        weights the validation sample cannot tell apart, the later ones are kept. Returns the
        record, or None when the evaluation was non-finite (training then stops). Under torchrun
        only rank 0 evaluates; the other ranks learn from it whether training stops, and return
        None.
        """
        if self.world_size > 1:
            record = self._record() if self.rank == 0 else None
            reason = distributed.broadcast_text(self.stopped_reason)
            if reason and not self.stopped_reason:
                self.stopped_reason = f"rank 0 stopped the run: {reason}"
            self.target_note = distributed.broadcast_text(self.target_note)
            if self.rank:
                self._losses.clear()
                self._last_record = (self.step_count, self.train_seconds)
                self._good_state = copy.deepcopy(self.flow.state_dict())
            return record
        return self._record()

    def _record(self) -> dict[str, Any] | None:
        val_points = -self._log_q(self.val_data)
        val = float(val_points.mean())
        log_q = self._log_q(self.test_data)
        test = float(-log_q.mean())
        if not (math.isfinite(val) and math.isfinite(test)):
            self._diverge(f"the held-out NLL became {val if not math.isfinite(val) else test}")
            return None
        kl, kl_se = (None, None) if self._test_log_p is None else mean_and_se(
            self._test_log_p - log_q)
        steps, seconds = self._last_record
        dt = self.train_seconds - seconds
        record = {
            "step": self.step_count,
            "time": self.train_seconds,
            "train_nll": float(np.mean(self._losses)) if self._losses else math.nan,
            "val_nll": val,
            "test_nll": test,
            "kl": kl,
            "kl_se": kl_se,
            "grad_norm": self._grad_norm,
            "lr": self.learning_rate(max(0, self.step_count - 1)),
            "steps_per_s": (self.step_count - steps) / dt if dt > 0 else math.nan,
        }
        self._losses.clear()
        self._last_record = (self.step_count, self.train_seconds)
        self.history.append(record)
        if len(self.history) > MAX_HISTORY:
            self.history = self.history[::-2][::-1]  # every other record, keeping the latest
        self._good_state = copy.deepcopy(self.flow.state_dict())
        self._keep_if_best(record, val_points)
        if self._target.met(val):
            self.target_note = self._target.note(self.step_count, val)
        return record

    def _keep_if_best(self, record: dict[str, Any], val_points: np.ndarray) -> None:
        """Keep the record's weights when their validation NLL is the lowest so far, or within
        ``KEEP_WITHIN_SE`` paired standard errors of it (see :meth:`record`)."""
        val = record["val_nll"]
        if val < self._lowest_val_nll:
            self._lowest_val_nll, self._lowest_val_points = val, val_points
        else:
            mean, se = mean_and_se(val_points - self._lowest_val_points)
            if not mean <= KEEP_WITHIN_SE * se:  # also refuses a single point (se is NaN)
                return
        self.best_val_nll, self.best_record = val, record
        self.best_state = self._good_state

    def metrics(self) -> dict[str, Any]:
        r"""The latest evaluation record, the current step and training loss, and the kept
        (best-on-validation) weights' figures.

        Keys: those of :data:`RECORD_KEYS` (from the latest record; ``train_nll`` is the latest
        :attr:`loss_history` entry, so it moves on every step), plus ``best_val_nll`` (the
        kept weights' validation NLL), ``best_step``, ``best_test_nll``, ``best_kl`` and
        ``best_kl_se`` (the test figures of the weights chosen at ``best_step``),
        ``test_entropy``, ``stopped_reason`` and ``target_note`` (set once the stop target
        is met). Before the first record the held-out
        figures are absent or None.
        """
        last = self.history[-1] if self.history else {}
        best = self.best_record or {}
        metrics = {**last, "step": self.step_count}
        if self.loss_history:
            metrics["train_nll"] = self.loss_history[-1]["train_nll"]
        return {
            **metrics,
            "best_val_nll": best.get("val_nll"),
            "best_test_nll": best.get("test_nll"),
            "best_kl": best.get("kl"),
            "best_kl_se": best.get("kl_se"),
            "best_step": self.best_step,
            "test_entropy": self.test_entropy,
            "stopped_reason": self.stopped_reason,
            "target_note": self.target_note,
        }

    def best_flow(self) -> Flow:
        """A copy of the flow with the kept weights, chosen on validation (see :meth:`record`)."""
        flow = copy.deepcopy(self.flow).cpu()  # a file or a plot needs no GPU
        flow.load_state_dict(self.best_state)
        return flow.eval()

    def info(self) -> dict[str, Any]:
        """What a model file records about this run (see :func:`flowcore.save`)."""
        return {
            "dataset": {"name": self.dataset.name, "params": self.dataset.params},
            "train_config": self.config.to_dict(),
            "metrics": {k: v for k, v in self.metrics().items()
                        if k not in ("stopped_reason", "target_note")},
            "split_sizes": self.split_sizes,
            "entropy": self.entropy,
            "entropy_se": self.entropy_se,
            "world_size": self.world_size,
            **curves.for_file(self.history, self.loss_history),
            "device": self.device.type,
        }
