r"""The Trainer: maximum likelihood for a flow on a dataset, one step at a time.

It is deterministic for a seed (same history and weights, bit for bit, on CPU), keeps the weights
with the best held-out NLL, and never raises into the caller's loop when training diverges: the
step is not applied, the last good weights come back, and :attr:`Trainer.stopped_reason` says what
happened and what to try.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch

from flowcore.config import FlowConfig, TrainConfig
from flowcore.flows import Flow, build_flow

# History is thinned (every other record dropped) beyond this many records, so it stays bounded.
MAX_HISTORY = 2000
# A training NLL this many nats per dimension above its starting value counts as divergence.
EXPLODED_NATS_PER_DIM = 10.0
TEST_EVAL_BATCH = 20_000


_TEST_STREAM, _BATCH_STREAM = 0, 1


def _seed_for(seed: int, stream: int, step: int = 0) -> int:
    """A well-mixed, reproducible data seed, distinct per stream (test set, batches) and step."""
    return int(np.random.SeedSequence([seed, stream, step]).generate_state(1)[0])


def split_dataset(dataset, train_config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The training and held-out samples: disjoint draws for recipes, a row split for user data."""
    seed = train_config.seed
    if dataset.can_sample_fresh:
        train = dataset.sample(train_config.n_train, seed=seed)
        test = dataset.sample(train_config.n_test, seed=_seed_for(seed, _TEST_STREAM))
        return train, test
    rows = np.random.default_rng(seed).permutation(dataset.data)
    n_test = min(train_config.n_test, max(1, len(rows) // 5))
    return rows[n_test:][: train_config.n_train], rows[:n_test]


class Trainer:
    r"""Trains a flow by minimising the mean negative log-likelihood (nats).

    Arguments:
        flow_config: the flow to build (``dim`` must match the dataset).
        train_config: optimiser, schedule, data mode and budget.
        dataset: a :mod:`flowcore.datasets` dataset.
        flow: continue training this flow instead of building a new one.

    Example:
        >>> import flowcore as fc
        >>> t = fc.Trainer(fc.FlowConfig(layers=2, hidden=16),
        ...                fc.TrainConfig(steps=50, eval_every=25), fc.datasets.get("moons"))
        >>> t.step(50)["step"]
        50
    """

    def __init__(
        self,
        flow_config: FlowConfig,
        train_config: TrainConfig,
        dataset,
        flow: Flow | None = None,
    ):
        if flow_config.dim != dataset.dim:
            raise ValueError(
                f"FlowConfig.dim = {flow_config.dim} but the dataset has {dataset.dim} columns; "
                f"set dim={dataset.dim}."
            )
        if train_config.data_mode == "fresh" and not dataset.can_sample_fresh:
            raise ValueError(
                f"Dataset {dataset.name!r} cannot draw fresh samples; use data_mode='fixed'."
            )
        self.flow_config, self.config, self.dataset = flow_config, train_config, dataset
        self.entropy: float | None = dataset.entropy()
        train, test = split_dataset(dataset, train_config)
        self.train_data = torch.from_numpy(np.ascontiguousarray(train, dtype=np.float32))
        self.test_data = torch.from_numpy(np.ascontiguousarray(test, dtype=np.float32))
        self.generator = torch.Generator().manual_seed(train_config.seed)

        if flow is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(train_config.seed)
                flow = build_flow(flow_config)
            # In float64: data with huge values must not overflow the statistics.
            wide = self.train_data.double()
            flow.set_standardisation(wide.mean(0), wide.std(0))
            flow.data_init(self.train_data[: max(2, train_config.batch_size or len(train))])
        self.flow = flow.float().train()
        self.optimizer = self._make_optimizer()
        self.base_lr = train_config.lr

        self.step_count = 0
        self.train_seconds = 0.0
        self.history: list[dict[str, Any]] = []
        self.stopped_reason: str | None = None
        self.best_test_nll = math.inf
        self.best_step = 0
        self.best_state = copy.deepcopy(self.flow.state_dict())
        self._good_state = copy.deepcopy(self.flow.state_dict())
        self._start_nll: float | None = None
        self._losses: list[float] = []
        self._grad_norm = math.nan
        self._last_record = (0, 0.0)

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
        lo, hi = TrainConfig.limits("lr")
        if not (isinstance(lr, int | float) and lo <= lr <= hi):
            raise ValueError(f"lr = {lr!r} is out of range; allowed: [{lo}, {hi}].")
        if self.stopped_reason and lr < self.base_lr:
            # A lower rate is the fix the divergence message suggests: allow training to go on
            # from the restored weights.
            self.stopped_reason = None
            self._start_nll = None
        self.base_lr = float(lr)

    def learning_rate(self, step: int) -> float:
        """The scheduled learning rate at ``step`` (0-based): warm-up, then constant or cosine."""
        cfg = self.config
        if cfg.warmup and step < cfg.warmup:
            return self.base_lr * (step + 1) / cfg.warmup
        if cfg.schedule == "cosine":
            progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
            if cfg.max_seconds:
                progress = max(progress, self.train_seconds / cfg.max_seconds)
            progress = min(1.0, progress)
            return self.base_lr * 0.5 * (1 + math.cos(math.pi * progress))
        return self.base_lr

    def _batch(self) -> torch.Tensor:
        cfg = self.config
        if cfg.data_mode == "fresh":
            n = cfg.batch_size or cfg.n_train
            seed = _seed_for(cfg.seed, _BATCH_STREAM, self.step_count)
            sample = self.dataset.sample(n, seed=seed)
            return torch.from_numpy(np.ascontiguousarray(sample, dtype=np.float32))
        if not cfg.batch_size or cfg.batch_size >= len(self.train_data):
            return self.train_data
        index = torch.randint(len(self.train_data), (cfg.batch_size,), generator=self.generator)
        return self.train_data[index]

    # -- training ----------------------------------------------------------------------------
    def _diverge(self, what: str) -> None:
        self.flow.load_state_dict(self._good_state)
        self.optimizer = self._make_optimizer()  # Adam's moments may hold inf/NaN too
        self.stopped_reason = (
            f"Training diverged at step {self.step_count + 1}: {what}. The last good weights "
            f"(step {self._last_record[0]}) were restored. Try a lower learning rate "
            f"(now {self.base_lr:g}, e.g. {self.base_lr / 10:g}) or gradient clipping."
        )

    @property
    def budget_spent(self) -> bool:
        cfg = self.config
        return self.step_count >= cfg.steps or (
            cfg.max_seconds > 0 and self.train_seconds >= cfg.max_seconds
        )

    def step(self, k: int = 1) -> dict[str, Any]:
        """Run up to ``k`` optimisation steps (fewer if training diverges); return the metrics."""
        params = [p for p in self.flow.parameters() if p.requires_grad]
        clip = self.config.clip_grad or math.inf
        for _ in range(k):
            if self.stopped_reason or (self.config.max_seconds and self.budget_spent):
                break
            started = time.perf_counter()
            loss = -self.flow.log_prob(self._batch()).mean()
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
            if self.step_count % self.config.eval_every == 0:
                self._record()
        return self.metrics()

    @torch.no_grad()
    def test_nll(self, flow: Flow | None = None) -> float:
        """Mean NLL (nats) of the held-out sample."""
        flow = flow or self.flow
        total = 0.0
        for chunk in self.test_data.split(TEST_EVAL_BATCH):
            total += -flow.log_prob(chunk).sum().item()
        return total / len(self.test_data)

    def _record(self) -> None:
        test = self.test_nll()
        if not math.isfinite(test):
            self._diverge(f"the test NLL became {test}")
            return
        steps, seconds = self._last_record
        dt = self.train_seconds - seconds
        record = {
            "step": self.step_count,
            "time": self.train_seconds,
            "train_nll": float(np.mean(self._losses)) if self._losses else math.nan,
            "test_nll": test,
            "kl": test - self.entropy if self.entropy is not None else None,
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
        if test < self.best_test_nll:
            self.best_test_nll, self.best_step = test, self.step_count
            self.best_state = self._good_state

    def metrics(self) -> dict[str, Any]:
        """The latest record plus the step count, best test NLL and stop reason."""
        last = self.history[-1] if self.history else {}
        return {
            **last,
            "step": self.step_count,
            "best_test_nll": self.best_test_nll if self.history else None,
            "best_step": self.best_step,
            "best_kl": (
                self.best_test_nll - self.entropy
                if self.entropy is not None and self.history
                else None
            ),
            "stopped_reason": self.stopped_reason,
        }

    def best_flow(self) -> Flow:
        """A copy of the flow with the weights of the best held-out NLL so far."""
        flow = copy.deepcopy(self.flow)
        flow.load_state_dict(self.best_state)
        return flow.eval()

    def info(self) -> dict[str, Any]:
        """What a model file records about this run (see :func:`flowcore.save`)."""
        return {
            "dataset": {"name": self.dataset.name, "params": self.dataset.params},
            "train_config": self.config.to_dict(),
            "metrics": {k: v for k, v in self.metrics().items() if k != "stopped_reason"},
            "entropy": self.entropy,
        }
