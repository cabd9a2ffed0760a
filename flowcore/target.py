"""The stop target: training ends at the first evaluation whose validation KL or NLL reaches it.

It is judged on the validation points, never the test points, so a run that stops at its target
still reports honest test figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flowcore.config import TrainConfig


@dataclass(frozen=True)
class StopTarget:
    """``stop_at`` ("none", "kl" or "nll") and ``stop_below`` (nats) of a :class:`TrainConfig`,
    with ``val_log_p``, the mean true log-density of the validation points (None where the true
    density is unknown), which turns a validation NLL into a validation KL.

    Example:
        >>> target = StopTarget.of(TrainConfig(stop_at="kl", stop_below=0.05), -1.20, "moons")
        >>> target.met(1.30), target.met(1.24)
        (False, True)
    """

    stop_at: str
    stop_below: float
    val_log_p: float | None

    @classmethod
    def of(cls, config: TrainConfig, val_log_p: float | None, dataset_name: str) -> StopTarget:
        if config.stop_at == "kl" and val_log_p is None:
            raise ValueError(f"stop_at='kl' needs a dataset whose true density is known, and "
                             f"{dataset_name!r} has none: use stop_at='nll' or 'none'.")
        return cls(config.stop_at, config.stop_below, val_log_p)

    def value(self, val_nll: float) -> float:
        """What the target is compared with: the validation KL, or the validation NLL."""
        return val_nll + self.val_log_p if self.stop_at == "kl" else val_nll

    def met(self, val_nll: float) -> bool:
        """Whether a validation NLL meets the target (as a KL when the target is one)."""
        if self.stop_at == "none" or not math.isfinite(val_nll):
            return False
        return self.value(val_nll) <= self.stop_below

    def note(self, step: int, val_nll: float) -> str:
        """What the page and the CLI say when the target is met at ``step``."""
        what = "KL" if self.stop_at == "kl" else "NLL"
        return (f"Reached the target at step {step:,}: validation {what} "
                f"{self.value(val_nll):.4f} ≤ {self.stop_below:g} nats.")
