r"""The dashboard's cost: figure build times and JSON sizes, and the live-training overhead.

``figures`` times each panel's figure builder from :mod:`flowcore.plots` on a briefly trained flow
and measures the JSON that Streamlit would send (goal: every live figure under 100 ms).

The training overhead of an open page, redraws and stale time are measured in a real browser by
:mod:`bench.live_view`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import flowcore as fc
from bench.common import Profile, log, timed
from flowcore.presets import DEFAULT_PRESET, PRESETS

FIGURE_BUDGET_MS = 100.0


def _trained_trainer(preset_name: str) -> fc.Trainer:
    preset = PRESETS[preset_name]
    train = dataclasses.replace(preset.train, steps=200, eval_every=25, eval_seconds=0.0,
                                n_test=2000)
    trainer = fc.Trainer(preset.flow, train, fc.datasets.get("moons"))
    trainer.step(200)
    return trainer


def _panel_data_row(preset_name: str, trainer: fc.Trainer, profile: Profile) -> dict[str, Any]:
    """The time of the arrays every refresh of the scatter panels computes (nothing is sent)."""
    from flowcore import analysis

    flow, test_data = trainer.best_flow(), trainer.test_data.numpy()
    seconds, _ = timed(lambda: analysis.panel_data(flow, test_data), profile.figure_repeats)
    return {"model": preset_name, "panel": "panel data (samples, z)", "build_ms": 1000 * seconds,
            "to_json_ms": 0.0, "json_kib": 0.0, "under_budget": 1000 * seconds < FIGURE_BUDGET_MS}


def _panel_builders(trainer: fc.Trainer) -> dict[str, Any]:
    """The live panels exactly as the app builds them (dashboard/panels.py): the panel arrays
    from :func:`flowcore.analysis.panel_data` of the test data, then each figure from them."""
    from flowcore import analysis, plots

    flow = trainer.best_flow()
    test_data = trainer.test_data.numpy()
    panels = analysis.panel_data(flow, test_data)
    bounds = plots.bounds_for(panels.data)
    live = plots.LIVE_DENSITY_RESOLUTION
    return {
        "density 200×200": lambda: plots.density_figure(flow, bounds=bounds, resolution=200),
        f"density {live}×{live} (live)": lambda: plots.density_figure(flow, bounds=bounds,
                                                                      resolution=live),
        "samples": lambda: plots.samples_figure(panels.samples, panels.data),
        "latent": lambda: plots.latent_figure(panels.z, panels.data),
        "nll": lambda: plots.nll_figure(trainer.history, trainer.entropy),
    }


def figures(profile: Profile) -> dict[str, Any]:
    """Build time and JSON size of each panel's figure from :mod:`flowcore.plots`.

    Two models: the app's default (the seed preset, realnvp 6×128, 206k parameters) and the CLI's
    (the "best" preset). The density is built at the issue's 200×200 grid and at the live panel's
    :data:`flowcore.plots.LIVE_DENSITY_RESOLUTION`; the scatter panels with
    :data:`flowcore.analysis.PANEL_POINTS` points, as the app draws them.
    """
    rows = []
    for preset_name in ("seed", DEFAULT_PRESET):
        trainer = _trained_trainer(preset_name)
        rows.append(_panel_data_row(preset_name, trainer, profile))
        panels = _panel_builders(trainer)
        for name, build in panels.items():
            build()  # first-call costs (imports, caches) are not what a refresh pays
            seconds, _ = timed(build, profile.figure_repeats)
            fig = build()
            started = time.perf_counter()
            payload = fig.to_json()
            to_json_s = time.perf_counter() - started
            rows.append({"model": preset_name, "panel": name, "build_ms": 1000 * seconds,
                         "to_json_ms": 1000 * to_json_s,
                         "json_kib": len(payload.encode()) / 1024,
                         "under_budget": 1000 * seconds < FIGURE_BUDGET_MS})
            log(f"figures: {preset_name} {name} {rows[-1]['build_ms']:.0f} ms")
    return {"status": "measured", "budget_ms": FIGURE_BUDGET_MS,
            "repeats": profile.figure_repeats, "rows": rows}


def run(profile: Profile) -> dict[str, Any]:
    return {"figures": figures(profile)}
