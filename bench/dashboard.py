r"""The dashboard's cost: figure build times and JSON sizes, and the live-training overhead.

``figures`` times each panel's figure builder from :mod:`flowcore.plots` on a briefly trained flow
and measures the JSON that Streamlit would send (goal: every figure under 150 ms).

``overhead`` compares headless training with training started from the Train page while
Chromium keeps it open (goal: ratio >= 0.8):

1. Headless: a :class:`flowcore.TrainingJob` on the seed preset runs for ``S`` seconds in this
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

import flowcore as fc
from bench.common import Profile, log, median, timed
from flowcore.presets import DEFAULT_PRESET, PRESETS

FIGURE_BUDGET_MS = 150.0
OVERHEAD_GOAL = 0.8
OVERHEAD_ROUNDS = 3


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


def _headless_rate(seconds: float) -> float:
    """Steps per wall second of the app's default run (the seed preset) in a TrainingJob."""
    preset = PRESETS["seed"]
    job = fc.TrainingJob(fc.Trainer(preset.flow, preset.train, fc.datasets.get("moons")))
    job.start()
    time.sleep(2.0)  # warm-up, as in the browser measurement
    first, started = job.snapshot().step, time.perf_counter()
    time.sleep(seconds)
    rate = (job.snapshot().step - first) / (time.perf_counter() - started)
    job.stop()
    return rate


def _browser_rate(url: str, browser, seconds: float) -> float:
    """The same run started from the Train page, with Chromium keeping the page open."""
    import re

    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(url)
    status = page.locator(".st-key-status").first
    status.wait_for(timeout=60_000)
    page.locator(".st-key-train button").first.click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-status')?.innerText.includes('running')",
        timeout=60_000)

    def step() -> int:
        return int(re.search(r"step ([\d,]+)", status.inner_text()).group(1).replace(",", ""))

    time.sleep(2.0)
    first, started = step(), time.perf_counter()
    time.sleep(seconds)
    rate = (step() - first) / (time.perf_counter() - started)
    page.locator(".st-key-pause button").first.click()
    page.close()
    return rate


def overhead(profile: Profile) -> dict[str, Any]:
    """Headless steps/s versus steps/s with the Train page open in Chromium (goal ≥ 0.8).

    Both run the app's default experiment (the seed preset) for the same wall-clock window,
    alternating twice; the status line's step count gives the browser-side rate (it lags the
    job by at most a second at both ends of the window, so the error is about 1 s of steps).
    """
    import socket
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        return {"status": "unavailable", "reason": "no Chromium at /usr/bin/chromium",
                "goal_ratio": OVERHEAD_GOAL}
    from playwright.sync_api import sync_playwright

    fc.job.configure_threads()  # the app's own thread setting
    seconds = max(5.0, profile.ttq_slice * 10)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    headless, with_page = [], []
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"])
            for _ in range(OVERHEAD_ROUNDS):
                headless.append(_headless_rate(seconds))
                with_page.append(_browser_rate(url, browser, seconds))
                log(f"overhead: headless {headless[-1]:.1f}, with page {with_page[-1]:.1f}")
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    ratios = [b / h for h, b in zip(headless, with_page, strict=True)]
    return {
        "status": "measured", "headless_steps_per_s": median(headless),
        "browser_steps_per_s": median(with_page), "ratio": median(ratios),
        "ratios": ratios, "seconds": seconds, "goal_ratio": OVERHEAD_GOAL,
        "notes": [f"seed preset (full batch of 3000, realnvp 6×128), {seconds:g} s windows, "
                  f"{OVERHEAD_ROUNDS} alternating rounds; headless "
                  f"{[round(r, 1) for r in headless]}, with the page "
                  f"{[round(r, 1) for r in with_page]} steps/s; the ratio is the median of the "
                  f"rounds' ratios {[round(r, 2) for r in ratios]}."],
    }


def run(profile: Profile) -> dict[str, Any]:
    return {"figures": figures(profile), "overhead": overhead(profile)}
