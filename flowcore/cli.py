r"""``python -m flowcore`` (or ``flowcore``): train, evaluate and sample flows from a shell.

Examples::

    flowcore train --dataset moons --max-seconds 45 --out moons.safetensors
    flowcore train --preset seed --out seed.safetensors
    flowcore eval moons.safetensors --dataset moons
    flowcore sample moons.safetensors -n 1000 --out samples.csv
    torchrun --nproc-per-node 2 -m flowcore train --data big.csv --out big.safetensors
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flowcore import datasets, distributed
from flowcore.config import FlowConfig, TrainConfig
from flowcore.export import model_bytes, samples_csv
from flowcore.flows import Flow
from flowcore.flows import names as architecture_names
from flowcore.io import load_with_info
from flowcore.job import configure_threads
from flowcore.presets import DEFAULT_PRESET, PRESETS, fixed_data_recipe
from flowcore.split import split_dataset
from flowcore.stats import mean_and_se
from flowcore.train import Trainer

LN2 = math.log(2)
# The CLI has the machine to itself: two intra-op threads beat one for the default models.
# An explicit OMP_NUM_THREADS wins (a shared machine; the 1-process side of bench.scale).
CLI_THREADS = int(os.environ.get("OMP_NUM_THREADS") or max(1, min(2, os.cpu_count() or 1)))


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowcore",
        description="Train, evaluate and sample normalizing flows on 2-D toy densities or your "
        "own CSV data. Run 'flowcore COMMAND --help' for the options of each command.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _train_arguments(sub.add_parser(
        "train",
        help="train a flow and save it as .safetensors",
        description="Train a flow. With no options it uses the measured best defaults "
        f"(--preset {DEFAULT_PRESET}) on the two moons.",
    ))

    ev = sub.add_parser("eval", help="held-out NLL, bits/dim and KL to the truth of a model",
                        description="Evaluate a saved model on fresh samples of a dataset.")
    ev.add_argument("model", help="a .safetensors file made by flowcore")
    ev.add_argument("--dataset", help="dataset name (default: the one it was trained on)")
    ev.add_argument("--data", metavar="FILE.csv", help="evaluate on your own CSV instead")
    ev.add_argument("-n", type=int, default=20_000, help="number of test points")
    ev.add_argument("--seed", type=int, default=12345)
    ev.add_argument("--json", action="store_true")

    sa = sub.add_parser("sample", help="draw samples from a model into a CSV file",
                        description="Draw samples x = f^-1(z), z ~ N(0, I), from a saved model.")
    sa.add_argument("model", help="a .safetensors file made by flowcore")
    sa.add_argument("-n", type=int, default=1000, help="number of samples")
    sa.add_argument("--out", default="samples.csv")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--json", action="store_true")

    sub.add_parser("datasets", help="list the built-in datasets")
    return parser


def _train_arguments(train: argparse.ArgumentParser) -> None:
    """The train command's options, in groups: data, model, training."""
    data = train.add_argument_group("data")
    data.add_argument("--dataset", default="moons",
                      help=f"one of: {', '.join(datasets.names() + datasets.real_names())}")
    data.add_argument("--noise", type=float, help="the dataset's noise knob, where it has one")
    data.add_argument("--data", metavar="FILE", help="train on your own numbers instead: a CSV "
                      "(any size) or a .npy array (memory-mapped)")
    data.add_argument("--n-train", help="at most this many training rows (default: the preset's)")
    data.add_argument("--data-mode", choices=("fixed", "fresh"),
                      help="a fixed training sample, or fresh samples every step")
    model = train.add_argument_group("model")
    model.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET,
                       help="start from a named set-up; other options override it "
                       "(seed = the RealNVP tutorial)")
    model.add_argument("--arch", choices=architecture_names())
    # Config options stay text here: FlowConfig/TrainConfig.from_strings parse and check them,
    # as they do a shared link's query, with the same messages.
    model.add_argument("--layers")
    model.add_argument("--hidden")
    model.add_argument("--bins", help="spline bins (nsf)")
    opt = train.add_argument_group("training")
    opt.add_argument("--lr", help="learning rate")
    opt.add_argument("--batch-size", help="points per step; 0 = full batch")
    budget = opt.add_mutually_exclusive_group()
    budget.add_argument("--steps", help="number of optimisation steps")
    budget.add_argument("--max-seconds", help="wall-clock training budget")
    opt.add_argument("--stop-at", choices=("none", "kl", "nll"),
                     help="end training early once the validation KL (or NLL) reaches --stop-below")
    opt.add_argument("--stop-below", help="the stop target in nats")
    opt.add_argument("--seed", default="0")
    opt.add_argument("--device", choices=distributed.DEVICES,
                     help="auto (default): a CUDA GPU when present, else the CPU")
    train.add_argument("--out", default="model.safetensors", help="where to save the model")
    train.add_argument("--json", action="store_true", help="print the final metrics as JSON")


def _dataset(name: str | None, csv: str | None, noise: float | None = None):
    if csv:
        if not Path(csv).is_file():
            raise CLIError(f"no such file: {csv}")
        return datasets.from_file(csv)
    name = name or "moons"
    known = datasets.names() + datasets.real_names()
    if name not in known:
        raise CLIError(f"unknown dataset {name!r}; choose one of {', '.join(known)}")
    return datasets.get(name, **({"noise": noise} if noise is not None else {}))


def _recipe(args, dataset) -> tuple[Any, FlowConfig, TrainConfig]:
    """The preset (adapted to fixed data where it is the default) and the configs the command
    line asks for on top of it."""
    preset = PRESETS[args.preset]
    fixed = args.data_mode == "fixed" or (
        args.data_mode is None and (preset.train.data_mode == "fixed" or
                                    not dataset.can_sample_fresh))
    adapted = fixed and args.preset == DEFAULT_PRESET
    if adapted:
        # The defaults adapt to a fixed sample (smaller, a schedule that ends): see presets.
        preset = fixed_data_recipe(dataset)
    flow_cfg = FlowConfig.from_strings(
        {"arch": args.arch, "layers": args.layers, "hidden": args.hidden, "bins": args.bins,
         "dim": str(dataset.dim)}, base=preset.flow)
    train = preset.train
    if not dataset.can_sample_fresh and args.data_mode is None:
        train = dataclasses.replace(train, data_mode="fixed")
    if args.max_seconds is not None and not adapted:  # the time budget alone ends the run
        train = dataclasses.replace(train, steps=TrainConfig.limits("steps")[1])
    train = TrainConfig.from_strings(
        {"lr": args.lr, "batch_size": args.batch_size, "steps": args.steps,
         "max_seconds": args.max_seconds, "seed": args.seed, "data_mode": args.data_mode,
         "stop_at": args.stop_at, "stop_below": args.stop_below,
         "device": args.device, "n_train": args.n_train},
        base=train)
    # Evaluate every eval_every steps, not every second: the same command gives the same model.
    return preset, flow_cfg, dataclasses.replace(train, eval_seconds=0.0)


def _train(args) -> dict[str, Any]:
    from tqdm import tqdm

    dataset = _dataset(args.dataset, args.data, args.noise)
    preset, flow_cfg, train = _recipe(args, dataset)
    trainer = Trainer(flow_cfg, train, dataset)
    sizes = trainer.split_sizes
    split = (f"{sizes['train']:,} train / {sizes['validation']:,} validation (chooses the kept "
             f"weights) / {sizes['test']:,} test (reports)")
    split += " rows of your data" if not dataset.can_sample_fresh else " points drawn"
    if trainer.world_size > 1:
        split += (f"; each of {trainer.world_size} processes trains on its "
                  f"{len(trainer.train_data):,}, rank 0 evaluates and saves")
    lead = trainer.rank == 0  # under torchrun only rank 0 logs and saves
    if not args.json and lead:
        print(f"split: {split}; device: {trainer.device}", file=sys.stderr)

    total = None if train.max_seconds else train.steps
    bar = tqdm(total=total, unit="step", disable=args.json or not lead, dynamic_ncols=True)
    while not trainer.budget_spent and not trainer.stopped_reason:
        before = trainer.step_count
        metrics = trainer.step(min(train.eval_every, train.steps - trainer.step_count))
        bar.update(trainer.step_count - before)
        shown = {"nll": f"{metrics.get('test_nll', float('nan')):.3f}"}
        if metrics.get("kl") is not None:
            shown["kl"] = f"{metrics['kl']:.3f}"
        bar.set_postfix(shown)
    bar.close()
    for note in (trainer.stopped_reason, trainer.target_note):
        if note and lead:
            print(note, file=sys.stderr)
    flow = trainer.best_flow()
    if lead:
        # A temporary file renamed into place: a run that dies leaves no half-written model.
        partial = Path(args.out).with_name(Path(args.out).name + ".partial")
        partial.write_bytes(model_bytes(flow, trainer.info()))
        partial.replace(args.out)
    metrics = trainer.metrics()
    # The kept weights are chosen on the validation split; test_nll and kl are theirs, measured
    # on the test split, which chose nothing.
    return {
        "out": args.out,
        "steps": trainer.step_count,
        "seconds": round(trainer.train_seconds, 2),
        "recipe": preset.label,
        "split": sizes,
        "best_step": trainer.best_step,
        "val_nll": metrics["best_val_nll"],
        "test_nll": metrics["best_test_nll"],
        "kl": metrics["best_kl"],
        "kl_se": metrics["best_kl_se"],
        "entropy": trainer.entropy,
        "entropy_se": trainer.entropy_se,
        "stopped_reason": trainer.stopped_reason,
        "target_note": trainer.target_note,
    }


def _load(path: str) -> tuple[Flow, dict[str, Any]]:
    try:
        return load_with_info(path)
    except ValueError as err:
        raise CLIError(f"{path}: {err}") from None


def _eval(args) -> dict[str, Any]:
    flow, info = _load(args.model)
    trained_on = info.get("dataset")
    trained_on = trained_on if isinstance(trained_on, dict) else {}
    name = args.dataset or trained_on.get("name")
    params = trained_on.get("params", {}) if name == trained_on.get("name") else {}
    if args.data:
        dataset = _dataset(None, args.data)
    elif name in datasets.names():
        dataset = datasets.get(name, **params)
    elif name in datasets.real_names():
        dataset = datasets.get(name)
    else:
        raise CLIError("say which data to evaluate on: --dataset NAME or --data FILE.csv")
    if dataset.dim != flow.config.dim:
        raise CLIError(f"the model is {flow.config.dim}-D but the data has {dataset.dim} columns")
    if dataset.can_sample_fresh:
        x, points = dataset.sample(args.n, seed=args.seed), "fresh samples"
    else:
        # A table's rows: only the test part of the split the model was trained with (the same
        # seed and sizes), since the other rows trained it or chose its weights.
        try:
            train = TrainConfig.from_dict(info.get("train_config") or {})
        except (ValueError, TypeError):
            train = TrainConfig()
        x, points = split_dataset(dataset, train).test, "the test rows of the model's split"
    with torch.no_grad():
        log_q = flow.log_prob(torch.from_numpy(x).to(flow.loc.dtype)).double().numpy()
    nll = float(-log_q.mean())
    entropy = dataset.entropy()
    # Paired KL: mean of log p - log q on the same points, so only their difference is noise.
    log_p = dataset.log_density(x.astype(np.float64))
    kl = kl_se = None
    if log_p is not None and np.isfinite(log_p).all() and len(x) > 1:
        kl, kl_se = mean_and_se(log_p - log_q)
    return {
        "dataset": dataset.name,
        "n": len(x),
        "points": points,
        "test_nll": nll,
        "bits_per_dim": nll / (flow.config.dim * LN2),
        "entropy": entropy,
        "entropy_se": dataset.entropy_se() if entropy is not None else None,
        "kl": kl,
        "kl_se": kl_se,
    }


def _sample(args) -> dict[str, Any]:
    flow, _ = _load(args.model)
    Path(args.out).write_bytes(samples_csv(flow, args.n, args.seed))
    return {"out": args.out, "n": args.n, "dim": flow.config.dim}


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        if value is not None:
            print(f"{key:>14}: {value:.4f}" if isinstance(value, float) else f"{key:>14}: {value}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    launched = args.command == "train" and distributed.launched()
    # Under torchrun the processes share the cores: one intra-op thread each on 2 cores.
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if launched else 1
    configure_threads(max(1, CLI_THREADS // per_node))
    started = time.perf_counter()
    try:
        if launched:
            distributed.init_process_group(distributed.resolve_device(args.device or "auto"))
        if args.command == "datasets":
            for name in datasets.names() + datasets.real_names():
                print(f"{name:>14}  {datasets.get(name).description}")
            return 0
        run = {"train": _train, "eval": _eval, "sample": _sample}[args.command]
        result = run(args)
    except (CLIError, ValueError, OSError) as err:
        print(f"flowcore {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"flowcore {args.command}: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as err:  # torch.distributed: a peer process died or timed out
        if not launched:
            raise
        rank = os.environ.get("RANK", "?")
        print(f"flowcore train (rank {rank}): error: another process of the run stopped, so "
              f"this one stops too; no model was saved ({str(err).splitlines()[0]})",
              file=sys.stderr)
        return 1
    finally:
        if launched and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    if launched and int(os.environ.get("RANK", "0")) != 0:
        return 0  # rank 0 reports
    if not args.json:
        result["wall_seconds"] = round(time.perf_counter() - started, 2)
    _print(result, args.json)
    return 0
