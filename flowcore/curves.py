r"""A run's learning curves in its model file, so that continued training goes on where it left
off: the same step count, the same clock, and the curves drawn so far.

A file holds at most :data:`FILE_RECORDS` evaluation records and :data:`FILE_LOSSES` training
loss entries (evenly thinned, the last always kept), a few tens of kilobytes of its header.
Reading is defensive: ``info`` comes from a file a user uploaded, so anything that is not a list
of records with finite numbers is ignored, and training then resumes from step 0.

Example:
    >>> history = [{"step": s, "time": s / 10, "val_nll": 1.0} for s in (25, 50, 75)]
    >>> info = {"metrics": {"best_step": 50}, **for_file(history, [])}
    >>> resumed = read(info)
    >>> resumed.step, resumed.seconds, [r["step"] for r in resumed.history]
    (50, 5.0, [25])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

# The keys of every record in Trainer.history.
RECORD_KEYS = ("step", "time", "train_nll", "val_nll", "test_nll", "kl", "kl_se", "grad_norm",
               "lr", "steps_per_s")
LOSS_KEYS = ("step", "time", "train_nll")
FILE_RECORDS = 200
FILE_LOSSES = 500
_MOST_STEPS = 10**9


def thin(entries: Sequence[dict[str, Any]], most: int) -> list[dict[str, Any]]:
    """At most ``most`` of ``entries``, evenly spaced, always keeping the last."""
    if len(entries) <= most:
        return list(entries)
    stride = math.ceil(len(entries) / most)
    return list(entries[::-1][::stride][::-1])


def for_file(history: Sequence[dict[str, Any]],
             loss_history: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The ``history`` and ``loss_history`` entries of a model file's ``info``."""
    return {"history": thin(history, FILE_RECORDS), "loss_history": thin(loss_history, FILE_LOSSES)}


class Resumed(NamedTuple):
    """Where a saved run goes on from (see :func:`read`)."""

    step: int
    seconds: float
    history: list[dict[str, Any]]
    loss_history: list[dict[str, Any]]


def read(info: Mapping[str, Any]) -> Resumed:
    r"""Where to resume a saved run: the step of the saved weights (the file's ``best_step``),
    the training time they had, and the curves up to them. The evaluation at that step itself is
    left out: a resumed Trainer evaluates the loaded weights again, on its own validation split."""
    metrics = info.get("metrics") if isinstance(info, Mapping) else None
    step = metrics.get("best_step") if isinstance(metrics, Mapping) else None
    if not _count(step):
        return Resumed(0, 0.0, [], [])
    history = _entries(info.get("history"), RECORD_KEYS, ("step", "time", "val_nll"))
    losses = _entries(info.get("loss_history"), LOSS_KEYS, LOSS_KEYS)
    history, losses = [r for r in history if r["step"] <= step], [
        r for r in losses if r["step"] <= step]
    seconds = max((r["time"] for r in history + losses), default=0.0)
    return Resumed(step, seconds, [r for r in history if r["step"] < step], losses)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MOST_STEPS


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _entries(raw: Any, keys: tuple[str, ...], required: tuple[str, ...]) -> list[dict[str, Any]]:
    """Well-formed entries with steps in increasing order, else nothing at all."""
    if not isinstance(raw, list) or len(raw) > 10 * FILE_LOSSES:
        return []
    entries = []
    for entry in raw:
        if not (isinstance(entry, Mapping) and all(_number(entry.get(k)) for k in required)
                and _count(entry["step"])):
            return []
        optional = {k: entry.get(k) if _number(entry.get(k)) else None for k in keys}
        entries.append({**optional, **{k: entry[k] for k in required}})
    steps = [e["step"] for e in entries]
    return entries if steps == sorted(set(steps)) else []
