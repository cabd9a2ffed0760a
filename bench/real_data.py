r"""``python -m bench.real_data``: flows against the baselines on the bundled real datasets.

For each dataset: the full-covariance Gaussian and the validation-chosen KDE
(:mod:`flowcore.baselines`) and flows trained by the :class:`~flowcore.Trainer` within a wall-clock
budget, all on the Trainer's own split; the flow's weights are the ones chosen on validation, and
every figure is the test split's NLL (nats and bits/dim). Prints JSON.
"""

from __future__ import annotations

import argparse
import json

import flowcore as fc
from flowcore.baselines import bits_per_dim, trainer_baselines
from flowcore.job import configure_threads

# (dataset, seconds, flow configs tried): small tables overfit, so the flows are small and
# regularised; the time budget ends a cosine schedule.
PLAN = {
    "digits": (270, [dict(arch="nsf", layers=4, hidden=128, bins=8, bound=5.0)]),
    "wine": (40, [dict(arch="realnvp", layers=4, hidden=32),
                  dict(arch="nsf", layers=2, hidden=32, bins=6, bound=5.0),
                  dict(arch="glow", layers=2, hidden=32)]),
    "breast_cancer": (60, [dict(arch="realnvp", layers=4, hidden=64),
                           dict(arch="nsf", layers=2, hidden=64, bins=6, bound=5.0),
                           dict(arch="glow", layers=2, hidden=32)]),
}


def run_one(name: str, seconds: float, flow_kwargs: dict) -> dict:
    dataset = fc.datasets.get(name)
    train = fc.TrainConfig(lr=1e-3, batch_size=256, steps=1_000_000, max_seconds=seconds,
                           schedule="cosine", warmup=100, weight_decay=1e-4, optimizer="adamw",
                           clip_grad=10.0, eval_seconds=0, eval_every=50, n_train=1_000_000,
                           device="cpu", data_mode="fixed")
    flow_config = fc.FlowConfig(dim=dataset.dim, **flow_kwargs)
    trainer = fc.Trainer(flow_config, train, dataset)
    while not trainer.budget_spent and not trainer.stopped_reason:
        trainer.step(50)
    dim = dataset.dim
    flow = {"config": flow_kwargs, "steps": trainer.step_count,
            "seconds": round(trainer.train_seconds, 1), "best_step": trainer.best_step,
            "test_nll": trainer.best_test_nll,
            "test_bits_per_dim": bits_per_dim(trainer.best_test_nll, dim),
            "stopped_reason": trainer.stopped_reason}
    baselines = {b.name: {"test_nll": b.test_nll, "test_nll_se": b.test_nll_se,
                          "test_bits_per_dim": b.bits_per_dim(dim), "bandwidth": b.bandwidth}
                 for b in trainer_baselines(trainer)}
    return {"dataset": name, "dim": dim, "split": trainer.split_sizes, "flow": flow,
            "baselines": baselines}


def run(profile) -> dict:
    """``bench.run``'s section: the profile's datasets, at its fraction of the plan's budgets."""
    results = []
    for name in profile.real_data_names:
        seconds, configs = PLAN[name]
        budget = max(1.0, seconds * profile.real_data_scale)
        for flow_kwargs in configs:
            results.append(run_one(name, budget, flow_kwargs))
    return {"scale": profile.real_data_scale, "results": results}


def render(rd: dict | None) -> list[str]:
    """The report's section (see :mod:`bench.report`)."""
    from bench.common import markdown_table

    lines = ["## 6. Real data: flows against the baselines", ""]
    if not rd:
        return lines + ["Not run (`--only real_data`).", ""]
    lines += ["Test NLL (nats; bits/dim for digits) on the Trainer's own split of each bundled "
              "table. Gaussian: full covariance, maximum likelihood on the training split. KDE: "
              "Gaussian kernels of covariance h² Σ, h chosen on the validation split. Flow: the "
              "weights chosen on validation, AdamW 1e-3, weight decay 1e-4, batch 256, cosine "
              f"over the budget ({rd['scale']:g} of `bench.real_data.PLAN`'s seconds). Digits are "
              "dequantised (uniform noise on [0, 1) on pixels 0..16). ± is the standard error "
              "over the test points. **Bold** = the lowest NLL of the row.", ""]
    body = []
    for r in rd["results"]:
        g, k, f = r["baselines"]["gaussian"], r["baselines"]["kde"], r["flow"]
        key = "test_bits_per_dim" if r["dataset"] == "digits" else "test_nll"
        best = min(b[key] for b in (g, k, f))
        cells = [f"{b[key]:.3f}" + (f" ± {b['test_nll_se']:.2f}" if b.get("test_nll_se")
                                    and key == "test_nll" else "") for b in (g, k, f)]
        cells = [f"**{c}**" if b[key] == best else c for c, b in zip(cells, (g, k, f),
                                                                     strict=True)]
        cfg = f["config"]
        split = r["split"]
        body.append([f"{r['dataset']} ({r['dim']}-D, {split['train']}/{split['validation']}/"
                     f"{split['test']})", *cells,
                     f"{cfg['arch']} {cfg['layers']}×{cfg['hidden']}, {f['seconds']:.0f} s, "
                     f"{f['steps']} steps, kept {f['best_step']}"])
    return lines + markdown_table(["Dataset (train/val/test)", "Gaussian", "KDE", "Flow",
                                   "Flow trained"], body, "lrrrl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PLAN))
    # One thread: on a busy 2-core machine two threads per process were 40x slower (spinning).
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    configure_threads(args.threads)
    results = []
    for name in args.only.split(","):
        seconds, configs = PLAN[name]
        for flow_kwargs in configs:
            results.append(run_one(name, seconds, flow_kwargs))
            print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()
