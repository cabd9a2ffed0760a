r"""Sampling and density evaluation: 100k samples and log_prob on a 400×400 grid, per architecture.

(The quick profile uses fewer points; the rates are comparable, the totals are not.)

The cost of both does not depend on the weights' values, so the flows are untrained (a few steps
would not change the arithmetic). MAF evaluates a density in one pass but samples one dimension at
a time; the second table shows how that grows with the dimension, next to RealNVP's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

import flowcore as fc
from bench.common import GOOD_FLOWS, SEED, Profile, count_parameters, flow_label, log, timed
from bench.peers import build_peer, match_hidden
from flowcore.presets import PRESETS

MAF_SCALING_SAMPLES = 10_000


def _grid(side: int) -> torch.Tensor:
    axis = torch.linspace(-2.5, 3.5, side)
    xs, ys = torch.meshgrid(axis, axis, indexing="xy")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def _flowcore(cfg: fc.FlowConfig) -> torch.nn.Module:
    torch.manual_seed(SEED)
    return fc.build_flow(cfg).eval()


def _measure(flow, n_samples: int, points: torch.Tensor, repeats: int) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        flow.sample(1000, generator=generator)  # first-call costs stay out of the timing
        sample_s, _ = timed(lambda: flow.sample(n_samples, generator=generator), repeats)
        log_prob_s, _ = timed(lambda: flow.log_prob(points), repeats)
    return {
        "sample_s": sample_s, "samples_per_s": n_samples / sample_s,
        "log_prob_s": log_prob_s, "points_per_s": len(points) / log_prob_s,
        "sample_over_log_prob": (sample_s / n_samples) / (log_prob_s / len(points)),
    }


def run(profile: Profile) -> dict[str, Any]:
    grid, n_samples = _grid(profile.grid_side), profile.sampling_n
    zero = torch.zeros(2)
    one = torch.ones(2)
    models: list[tuple[str, str, torch.nn.Module]] = [
        ("flowcore", f"seed: {flow_label(PRESETS['seed'].flow)}", _flowcore(PRESETS["seed"].flow))
    ]
    models += [("flowcore", flow_label(cfg), _flowcore(cfg)) for cfg in GOOD_FLOWS.values()]
    for arch in ("realnvp", "nsf", "maf"):
        cfg = GOOD_FLOWS[arch]
        hidden = match_hidden("zuko", arch, cfg.layers, count_parameters(_flowcore(cfg)))
        flow = build_peer("zuko", arch, cfg.layers, hidden, zero, one).eval()
        models.append(("zuko", f"{arch} {cfg.layers}×{hidden}", flow))

    rows = []
    for library, label, flow in models:
        rows.append({"library": library, "label": label, "params": count_parameters(flow),
                     **_measure(flow, n_samples, grid, profile.sampling_repeats)})
        log(f"sampling: {library} {label}: {rows[-1]['sample_s']:.3f} s per {n_samples} samples")

    scaling = []
    for dim in profile.maf_dims:
        for arch in ("maf", "realnvp"):
            cfg = dataclasses.replace(GOOD_FLOWS[arch], dim=dim)
            points = torch.randn(MAF_SCALING_SAMPLES, dim)
            scaling.append({"arch": arch, "dim": dim, "label": flow_label(cfg),
                            **_measure(_flowcore(cfg), MAF_SCALING_SAMPLES, points,
                                       profile.sampling_repeats)})
    log("sampling: dimension scaling done")
    return {
        "what": "seconds to draw samples and to evaluate log_prob (median of repeats, no grad)",
        "n_samples": n_samples, "grid": f"{profile.grid_side}×{profile.grid_side}",
        "grid_points": len(grid),
        "repeats": profile.sampling_repeats, "rows": rows,
        "dimension_scaling": {"n": MAF_SCALING_SAMPLES, "rows": scaling},
    }
