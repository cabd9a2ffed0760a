r"""The seed preset's learning curve beside the tutorial's own figures, in steps (not seconds).

Training data: ``make_moons(3000, noise=0.05, random_state=0)`` (flowcore's moons with seed 0,
the same points). KL every 100 steps on ``make_moons(20000, noise=0.05, random_state=1)``,
paired: the mean of ``log p(x) - log q(x)`` under the true moons density, with its standard
error. The tutorial's figures are those measured in issue 11 with the tutorial's own code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flowcore as fc
from bench.common import Profile, external_kl
from flowcore.presets import PRESETS

# The tutorial's own code on this task, KL in nats after N steps (issue 11).
TUTORIAL_KL = {100: 0.603, 200: 0.311, 300: 0.151, 400: 0.116, 500: 0.088, 600: 0.107,
               700: 0.090, 800: 0.085}


def curve(init: str, mask_order: str, steps: int = 800) -> list[dict[str, Any]]:
    """The seed preset, with the given init and mask order, KL every 100 steps."""
    seed = PRESETS["seed"]
    dataset = fc.datasets.get("moons", noise=0.05)
    flow = dataclasses.replace(seed.flow, init=init, mask_order=mask_order)
    train = dataclasses.replace(seed.train, steps=steps, seed=0, eval_seconds=0.0,
                                eval_every=100, n_val=10, n_test=10)
    trainer = fc.Trainer(flow, train, dataset)
    points = []
    while trainer.step_count < steps and not trainer.stopped_reason:
        trainer.step(100)
        kl, kl_se = external_kl(trainer.flow)
        points.append({"step": trainer.step_count, "kl": kl, "kl_se": kl_se,
                       "time": trainer.train_seconds})
    return points


def run(profile: Profile) -> dict[str, Any]:
    return {
        "tutorial": {str(k): v for k, v in TUTORIAL_KL.items()},
        "faithful": curve("torch", "last"),
        "identity": curve("identity", "first"),
    }
