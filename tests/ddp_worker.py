"""Run by tests/test_distributed.py, alone or under torchrun: 50 full-batch steps on a fixed
table; rank 0 writes the per-step training loss as JSON to argv[1]."""

import json
import os
import sys

import numpy as np
import torch

import flowcore as fc
from flowcore import distributed

torch.set_num_threads(1)
if distributed.launched():
    distributed.init_process_group(torch.device("cpu"))
rows = np.random.default_rng(0).normal(size=(801, 3)) * [1.0, 2.0, 0.5]
dataset = fc.datasets.from_array(rows @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 1]]))
trainer = fc.Trainer(fc.FlowConfig(arch=os.environ.get("ARCH", "realnvp"), dim=3, layers=2,
                                   hidden=16),
                     fc.TrainConfig(steps=50, eval_seconds=0, eval_every=25, n_train=640,
                                    device="cpu"),
                     dataset)
start = {k: v.tolist() for k, v in trainer.flow.state_dict().items()}
if os.environ.get("EVERY_RANK"):  # each rank writes where it starts, before any step
    with open(f"{sys.argv[1]}.rank{trainer.rank}", "w") as f:
        json.dump(start, f)
trainer.step(int(os.environ.get("STEPS", 50)))
state = {k: v.tolist() for k, v in trainer.flow.state_dict().items()}
if trainer.rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump({"loss": [r["train_nll"] for r in trainer.loss_history],
                   "world_size": trainer.world_size, "test_nll": trainer.best_test_nll,
                   "state": state}, f)
if distributed.launched():
    torch.distributed.destroy_process_group()
