r"""Devices and data-parallel training on :mod:`torch.distributed`.

One model is trained by ``N`` processes started by torch's own launcher::

    torchrun --nproc-per-node 2 -m flowcore train --data big.csv --out big.safetensors

Each process (rank) trains on its own shard of the training rows, the gradients are averaged by
:class:`~torch.nn.parallel.DistributedDataParallel` (``gloo`` on CPUs, ``nccl`` on GPUs), and rank 0
alone evaluates, logs and saves. Everything here is a no-op for a single process, so the
:class:`~flowcore.train.Trainer` calls it unconditionally.

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> rank_and_size()
    (0, 1)
"""

from __future__ import annotations

import datetime
import os

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

DEVICES = ("auto", "cpu", "cuda")
# A collective that waits longer than this means a peer is gone: the others stop with a message.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=5)
_STATS_CHUNK = 1 << 16  # rows per float64 block when column statistics are accumulated


def resolve_device(choice: str) -> torch.device:
    r"""``"auto"``: CUDA when present (this process's ``LOCAL_RANK`` GPU under torchrun), else
    the CPU; ``"cpu"``; ``"cuda"``, refused with a ValueError where there is none."""
    if choice not in DEVICES:
        raise ValueError(f"device = {choice!r} is not allowed; choose one of {', '.join(DEVICES)}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("device = 'cuda' but this machine has no CUDA GPU that torch can use; "
                         "use 'cpu' or 'auto'")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())


def launched() -> bool:
    r"""Whether this process was started by ``torchrun`` with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_process_group(device: torch.device) -> tuple[int, int]:
    r"""Joins the process group torchrun described in the environment (``nccl`` for a GPU,
    ``gloo`` for the CPU); returns ``(rank, world_size)``."""
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)
    return dist.get_rank(), dist.get_world_size()


def rank_and_size() -> tuple[int, int]:
    r"""``(rank, world_size)`` of the process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(rows: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    r"""This rank's rows: every ``world_size``-th row from ``rank``, after dropping the last
    ``len % world_size`` rows so that every shard has the same size (then the average of the
    ranks' gradients is exactly the gradient of the mean over all rows)."""
    if world_size == 1:
        return rows
    usable = len(rows) - len(rows) % world_size
    return rows[rank:usable:world_size]


def column_stats(rows: Tensor) -> tuple[Tensor, Tensor]:
    r"""Mean and standard deviation (``ddof=1``) of every column over the rows of all ranks, in
    float64. One float64 copy of the whole shard for up to ``_STATS_CHUNK`` rows (the exact
    arithmetic of a single process); beyond that, two passes in float64 blocks so that a million
    rows never need a float64 copy."""
    _, world_size = rank_and_size()
    if world_size == 1 and len(rows) <= _STATS_CHUNK:
        wide = rows.double()
        return wide.mean(0), wide.std(0)
    blocks = rows.split(_STATS_CHUNK)
    total = _sum_ranks(torch.stack([torch.tensor(float(len(rows)), dtype=torch.float64,
                                                 device=rows.device)]))
    mean = _sum_ranks(sum(block.double().sum(0) for block in blocks)) / total
    square = _sum_ranks(sum(((block.double() - mean) ** 2).sum(0) for block in blocks))
    return mean, (square / (total - 1)).sqrt()


def broadcast_module(module: nn.Module) -> None:
    r"""Copies rank 0's parameters and buffers to every rank (Glow's data-dependent ActNorm
    start, the standardisation), so every rank starts from the same flow."""
    if rank_and_size()[1] == 1:
        return
    with torch.no_grad():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def mean_over_ranks(values: Tensor) -> Tensor:
    r"""The mean over the ranks of ``values`` (a copy; unchanged for a single process)."""
    _, world_size = rank_and_size()
    return values if world_size == 1 else _sum_ranks(values.clone()) / world_size


def broadcast_text(text: str | None) -> str | None:
    r"""Rank 0's ``text`` on every rank (a stop reason found by rank 0's evaluation)."""
    if rank_and_size()[1] == 1:
        return text
    box = [text]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class LogProb(nn.Module):
    r"""``flow.log_prob`` as a module's ``forward``: DistributedDataParallel synchronises the
    gradients of what runs through its ``forward``."""

    def __init__(self, flow: nn.Module):
        super().__init__()
        self.flow = flow

    def forward(self, x: Tensor) -> Tensor:
        return self.flow.log_prob(x)


def data_parallel(flow: nn.Module, device: torch.device) -> nn.Module:
    r"""``LogProb(flow)``, wrapped in DistributedDataParallel when there is a process group.
    Buffers are synchronised once, at the start, not every step: they are fixed after
    :func:`broadcast_module`."""
    model = LogProb(flow)
    if rank_and_size()[1] == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)


def _sum_ranks(tensor: Tensor) -> Tensor:
    if rank_and_size()[1] > 1:
        dist.all_reduce(tensor)
    return tensor
