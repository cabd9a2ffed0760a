r"""Training throughput: steps/s and points/s per architecture, at full batch and at batch 256.

Each configuration trains on the seed's 3000 moons (standardised). flowcore is timed twice: through
its Trainer (what users get: loss read-back, gradient-norm clip, schedule and bookkeeping on every
step) and in the bare loop that every peer runs (forward, backward, Adam step). Peers are matched
to flowcore's parameter count by their hidden width. Timed windows of all configurations are
interleaved round by round and the median window is reported, so a burst of load on the machine
hits every configuration alike. Peak RSS is the process's high-water mark during a configuration's
warm-up at that batch size, above the RSS at its start.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

import flowcore as fc
from bench import common
from bench.common import GOOD_FLOWS, N_TRAIN, SEED, Profile, count_parameters, flow_label, log
from bench.peers import build_peer, match_hidden, standardisation
from flowcore.presets import DEFAULT_PRESET, PRESETS
from flowcore.train import split_dataset

BATCH_SIZES = (0, 256)  # 0 = the full training sample


@dataclasses.dataclass
class Config:
    key: str
    library: str
    arch: str
    label: str
    loop: str  # "trainer" or "bare"
    params: int
    make_step: Callable[[int], Callable[[], None]]  # batch size -> one training step


def _train_config(batch_size: int) -> fc.TrainConfig:
    return fc.TrainConfig(optimizer="adam", lr=1e-3, batch_size=batch_size, steps=1_000_000,
                          data_mode="fixed", n_train=N_TRAIN, n_test=1000,
                          eval_every=common.NO_EVAL, eval_seconds=0.0, seed=SEED)


def _trainer_step(flow_config: fc.FlowConfig, dataset) -> Callable[[int], Callable[[], None]]:
    def make(batch_size: int) -> Callable[[], None]:
        trainer = fc.Trainer(flow_config, _train_config(batch_size), dataset)
        return lambda: trainer.step(1)

    return make


StepFactory = Callable[[int], Callable[[], None]]  # batch size -> one training step


def _bare_step(build: Callable[[], torch.nn.Module], dataset) -> StepFactory:
    train = torch.from_numpy(split_dataset(dataset, _train_config(0))[0].astype("float32"))

    def make(batch_size: int) -> Callable[[], None]:
        flow = build().float().train()
        optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(SEED)
        full = not batch_size or batch_size >= len(train)

        def step() -> None:
            x = train if full else train[torch.randint(len(train), (batch_size,),
                                                       generator=generator)]
            loss = -flow.log_prob(x).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    return make


def configurations(dataset) -> list[Config]:
    loc, scale = standardisation(dataset, _train_config(0))

    def flowcore_flow(cfg: fc.FlowConfig) -> Callable[[], torch.nn.Module]:
        def build() -> torch.nn.Module:
            torch.manual_seed(SEED)
            flow = fc.build_flow(cfg)
            flow.set_standardisation(loc, scale)
            return flow

        return build

    def peer(library: str, arch: str, layers: int, hidden: int) -> Callable[[], torch.nn.Module]:
        return lambda: build_peer(library, arch, layers, hidden, loc, scale)

    seed_flow = PRESETS["seed"].flow
    fused_seed = dataclasses.replace(seed_flow, shared_trunk=True)
    flowcore_rows = [("seed", "realnvp", f"seed: {flow_label(seed_flow)}", seed_flow),
                     ("seed_fused", "realnvp", flow_label(fused_seed), fused_seed)]
    flowcore_rows += [(arch, arch, flow_label(cfg), cfg) for arch, cfg in GOOD_FLOWS.items()]
    configs: list[Config] = []
    for name, arch, label, cfg in flowcore_rows:
        params = count_parameters(fc.build_flow(cfg))
        key = f"flowcore/{name}"
        configs.append(Config(key + "/trainer", "flowcore", arch, label, "trainer", params,
                              _trainer_step(cfg, dataset)))
        configs.append(Config(key + "/bare", "flowcore", arch, label, "bare", params,
                              _bare_step(flowcore_flow(cfg), dataset)))

    # Peers matched to a flowcore row's parameter count: (library, arch, the row it matches).
    seed_params = count_parameters(fc.build_flow(seed_flow))
    peers = [("zuko", "realnvp", seed_flow.layers, seed_params, "seed"),
             ("zuko", "nsf", GOOD_FLOWS["nsf"].layers,
              count_parameters(fc.build_flow(GOOD_FLOWS["nsf"])), "nsf"),
             ("zuko", "maf", GOOD_FLOWS["maf"].layers,
              count_parameters(fc.build_flow(GOOD_FLOWS["maf"])), "maf"),
             ("normflows", "realnvp", seed_flow.layers, seed_params, "seed"),
             ("normflows", "nsf", GOOD_FLOWS["nsf"].layers,
              count_parameters(fc.build_flow(GOOD_FLOWS["nsf"])), "nsf")]
    for library, arch, layers, target, matches in peers:
        try:
            hidden = match_hidden(library, arch, layers, target)
        except ImportError as err:
            log(f"throughput: skipping {library} ({err})")
            continue
        build = peer(library, arch, layers, hidden)
        configs.append(Config(f"{library}/{arch}/bare", library, arch,
                              f"{arch} {layers}×{hidden} (matches {matches})", "bare",
                              count_parameters(build()), _bare_step(build, dataset)))
    return configs


def _window(step: Callable[[], None], seconds: float) -> float:
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        step()
        count += 1
    return count / elapsed


def thread_scaling(profile: Profile, dataset) -> list[dict[str, Any]]:
    """Trainer steps/s of the seed config and the CLI defaults at 1, 2, ... torch threads."""
    counts = sorted({1, min(2, os.cpu_count() or 1), os.cpu_count() or 1})
    trainers = {}
    for name in ("seed", DEFAULT_PRESET):
        preset = PRESETS[name]
        train = dataclasses.replace(preset.train, n_test=1000, eval_every=common.NO_EVAL,
                                    eval_seconds=0.0)
        trainers[name] = fc.Trainer(preset.flow, train, dataset)
        trainers[name].step(profile.throughput_warmup)
    original = torch.get_num_threads()
    windows: dict[tuple[str, int], list[float]] = {(n, c): [] for n in trainers for c in counts}
    try:
        for _ in range(profile.throughput_rounds):
            for name, trainer in trainers.items():
                for threads in counts:
                    torch.set_num_threads(threads)
                    windows[name, threads].append(
                        _window(lambda t=trainer: t.step(1), profile.throughput_window))
    finally:
        torch.set_num_threads(original)
    return [{"preset": name, "threads": threads, "steps_per_s": common.median(rates),
             "windows": rates} for (name, threads), rates in windows.items()]


MEMORY_STEPS = 3


def measure_memory(batch_sizes: tuple[int, ...] = BATCH_SIZES) -> dict[str, dict[str, Any]]:
    """Peak RSS above the starting RSS while each configuration builds and trains a few steps.

    Run it in a fresh process with ``MALLOC_MMAP_THRESHOLD_`` fixed (see :func:`_memory_probe`):
    then every large tensor is its own mapping, handed back to the system when freed, so one
    configuration's leftovers cannot hide the next one's peak.
    """
    dataset = fc.datasets.get("moons", noise=0.05)
    configs = configurations(dataset)
    configs[0].make_step(0)()  # one-off allocations (thread pools, MKL buffers) stay out
    out = {}
    for batch_size in batch_sizes:
        for config in configs:
            gc.collect()
            reset_ok = common.reset_peak_rss()
            before = common.rss_mib()
            step = config.make_step(batch_size)
            for _ in range(MEMORY_STEPS):
                step()
            peak = common.peak_rss_mib()
            out[f"{config.key}@{batch_size}"] = {
                "rss_before_mib": before, "peak_rss_mib": peak,
                "peak_extra_mib": (peak - before) if reset_ok and peak and before else None}
            del step
    return out


def _memory_probe() -> dict[str, dict[str, Any]]:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "16384"}
    command = [sys.executable, "-m", "bench.throughput", "--memory",
               "--threads", str(torch.get_num_threads())]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                              timeout=600)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as err:
        log(f"throughput: memory probe failed ({err}); peak RSS left out")
        return {}


def run(profile: Profile) -> dict[str, Any]:
    dataset = fc.datasets.get("moons", noise=0.05)
    configs = configurations(dataset)
    memory = _memory_probe()
    log("throughput: memory probe done")
    rows: list[dict[str, Any]] = []
    for batch_size in BATCH_SIZES:
        steps = {}
        for config in configs:
            steps[config.key] = config.make_step(batch_size)
            for _ in range(profile.throughput_warmup):
                steps[config.key]()
        windows: dict[str, list[float]] = {c.key: [] for c in configs}
        for _ in range(profile.throughput_rounds):
            for config in configs:  # every round visits every configuration once
                windows[config.key].append(_window(steps[config.key], profile.throughput_window))
        n = N_TRAIN if batch_size == 0 else batch_size
        for config in configs:
            rate = common.median(windows[config.key])
            rows.append({
                "key": config.key, "library": config.library, "arch": config.arch,
                "label": config.label, "loop": config.loop, "params": config.params,
                "batch_size": n, "full_batch": batch_size == 0,
                "steps_per_s": rate, "points_per_s": rate * n,
                "windows": windows[config.key],
                **memory.get(f"{config.key}@{batch_size}", {}),
            })
        log(f"throughput: batch {n} done ({len(configs)} configurations)")
        del steps
    scaling = thread_scaling(profile, dataset)
    log("throughput: thread scaling done")
    return {
        "what": "training steps/s (median of interleaved timed windows) and peak RSS",
        "threads_default": torch.get_num_threads(), "thread_scaling": scaling,
        "memory_steps": MEMORY_STEPS,
        "rounds": profile.throughput_rounds, "window_s": profile.throughput_window,
        "warmup_steps": profile.throughput_warmup, "rows": rows,
    }


if __name__ == "__main__":  # the memory probe's child process
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", action="store_true", required=True)
    parser.add_argument("--threads", type=int, default=1)
    torch.set_num_threads(parser.parse_args().threads)
    print(json.dumps(measure_memory()))
