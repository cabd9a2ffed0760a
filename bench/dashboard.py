r"""The dashboard's cost: figure build times and JSON sizes, and the live-training overhead.

``figures`` times each panel's figure builder from :mod:`flowcore.plots` on a briefly trained flow
and measures the JSON that Streamlit would send (goal: every figure under 150 ms).

``overhead`` is the hook for the headless-versus-browser comparison (goal: ratio >= 0.8). It is
NOT MEASURED yet: it needs the Streamlit app, which is still being written. Until it is wired it
returns ``status: "pending"``, and the report says so; it never invents a number. The plan:

1. Headless: a :class:`flowcore.TrainingJob` on the CLI defaults runs for ``S`` seconds in this
   process; steps/s = steps / training seconds.
2. With the app: start ``streamlit run app.py --server.headless true --server.port P
   --server.address 127.0.0.1``, wait for ``/_stcore/health``, open the Train page in Playwright's
   Chromium (``executable_path="/usr/bin/chromium"``, the flags of tests/test_browser.py), press
   Train, keep the page open and refreshing for ``S`` seconds, and read steps/s from the
   history the page shows (or from the server's job, via a debug endpoint or log line).
3. Report both, and their ratio (browser / headless), alternating the two measurements twice.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch

import flowcore as fc
from bench.common import Profile, log, timed
from flowcore.presets import DEFAULT_PRESET, PRESETS

FIGURE_BUDGET_MS = 150.0
OVERHEAD_GOAL = 0.8


def _trained_trainer() -> fc.Trainer:
    preset = PRESETS[DEFAULT_PRESET]
    train = dataclasses.replace(preset.train, steps=200, eval_every=25, n_test=2000)
    trainer = fc.Trainer(preset.flow, train, fc.datasets.get("moons"))
    trainer.step(200)
    return trainer


def figures(profile: Profile) -> dict[str, Any]:
    """Build time and JSON size of each panel's figure, where :mod:`flowcore.plots` has it."""
    try:
        from flowcore import plots
    except ImportError as err:
        return {"status": "unavailable", "reason": f"flowcore.plots: {err}", "rows": []}
    trainer = _trained_trainer()
    flow = trainer.best_flow()
    data = trainer.train_data.numpy()
    with torch.no_grad():
        model_samples = flow.sample(2000, generator=torch.Generator().manual_seed(0)).numpy()
        z = flow(trainer.train_data[:2000])[0].numpy()
    panels = {
        "density": lambda: plots.density_figure(flow, data),
        "samples": lambda: plots.samples_figure(model_samples, data),
        "latent": lambda: plots.latent_figure(z, data[:2000]),
        "nll": lambda: plots.nll_figure(trainer.history, trainer.entropy),
    }
    rows = []
    for name, build in panels.items():
        try:
            build()  # first-call costs (imports, caches) are reported separately
            seconds, _ = timed(build, profile.figure_repeats)
            started = time.perf_counter()
            payload = build().to_json()
            to_json_s = time.perf_counter() - started - seconds
            rows.append({"panel": name, "build_ms": 1000 * seconds,
                         "to_json_ms": max(0.0, 1000 * to_json_s),
                         "json_kib": len(payload.encode()) / 1024,
                         "under_budget": 1000 * seconds < FIGURE_BUDGET_MS})
        except Exception as err:  # the plots module is young: report, don't fail the run
            rows.append({"panel": name, "error": f"{type(err).__name__}: {err}"})
        log(f"figures: {name} {rows[-1]}")
    return {"status": "measured", "budget_ms": FIGURE_BUDGET_MS,
            "repeats": profile.figure_repeats, "rows": rows}


def overhead(profile: Profile) -> dict[str, Any]:
    """HOOK: headless steps/s versus steps/s with the Train page open in Chromium.

    Replace the body with the measurement described in the module docstring and return
    ``{"status": "measured", "headless_steps_per_s": ..., "browser_steps_per_s": ...,
    "ratio": ..., "seconds": ..., "notes": [...]}``; :mod:`bench.report` renders those keys.
    """
    return {
        "status": "pending",
        "reason": "The Streamlit app is still being written; this measurement is a hook "
        "(bench/dashboard.py: overhead) to be wired once the Train page lands.",
        "goal_ratio": OVERHEAD_GOAL,
    }


def run(profile: Profile) -> dict[str, Any]:
    return {"figures": figures(profile), "overhead": overhead(profile)}
