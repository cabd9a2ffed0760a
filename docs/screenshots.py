"""Retake the README's screenshots: ``.venv/bin/python docs/screenshots.py [tour] [corner]``
(about 2 minutes; with no names, all of them).

Starts ``streamlit run app.py`` on a free port, drives Debian's Chromium through the tour (train
the seed configuration, look inside the flow, compare RealNVP with NSF on the checkerboard, the
Learn page) and the Train page on a real 13-D table (``corner``), and writes ``docs/*.png``.
Each shot waits until no element is stale, so no panel is caught greyed out mid-refresh.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "app"))

from app_helpers import (  # noqa: E402 (the test helpers start the server and find Chromium)
    CHROMIUM,
    CHROMIUM_ARGS,
    Server,
    click,
    page_status,
    step_in,
    wait_for,
    wait_status,
)

DOCS = ROOT / "docs"
SETTLED_JS = "() => !document.querySelector('[data-stale=\"true\"]')"


def settle(page, seconds: float = 1.5) -> None:
    """Wait until nothing on the page is stale (mid-rerun), then a little more for Plotly."""
    page.wait_for_function(SETTLED_JS, timeout=120_000)
    time.sleep(seconds)
    page.wait_for_function(SETTLED_JS, timeout=120_000)


def shoot(page, name: str, selector: str | None = None) -> None:
    """The viewport (Streamlit scrolls inside its main area), or the element at ``selector``."""
    settle(page)
    path = DOCS / name
    if selector:
        page.locator(selector).first.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def tour(page, server) -> None:
    """The README's tour: Train, Inside the flow, Compare, Learn (the seed configuration)."""
    # Train: the seed configuration, mid-training.
    page.goto(server.url)
    wait_status(page, "idle")
    click(page, "train")
    wait_status(page, "running")
    assert wait_for(lambda: step_in(page_status(page)) >= 400, timeout=900)  # a busy machine
    shoot(page, "train-page.png")
    click(page, "pause")
    wait_status(page, "paused")

    # Inside the flow: layer by layer, the grid, a point, the truth.
    page.get_by_role("link", name="Inside the flow").click()
    page.locator(".st-key-layers-view .js-plotly-plot").first.wait_for(timeout=60_000)
    shoot(page, "inside-page.png")
    for view in ("truth",):
        page.locator(f".st-key-{view}-view .js-plotly-plot").first.wait_for(timeout=60_000)
        shoot(page, f"inside-{view}.png", f".st-key-{view}-view")

    # Compare: RealNVP against NSF on the checkerboard (the form's defaults), one click.
    page.get_by_role("link", name="Compare").click()
    click(page, "compare-train")
    page.locator(".st-key-compare-view .js-plotly-plot").first.wait_for(timeout=600_000)
    shoot(page, "compare-page.png")

    # Learn: the formulas with the live model's numbers.
    page.get_by_role("link", name="Learn").click()
    page.locator(".katex").first.wait_for(timeout=60_000)
    shoot(page, "learn-page.png")


def corner_page(page, server, steps: int = 400) -> None:
    """The Train page on wine (13-D) after a short run: corner plots, the NLL against the
    baselines, a pair's marginal. Glow 2×32, the best flow on wine in docs/benchmarks.md, where
    its validation NLL was best at step 150: on 144 training rows a longer run only overfits."""
    page.goto(f"{server.url}/?dataset=wine&arch=glow&layers=2&hidden=32&steps={steps}")
    wait_status(page, "idle")
    page.locator(".st-key-corner .js-plotly-plot").first.wait_for(timeout=60_000)
    click(page, "train")
    wait_status(page, "running")
    assert wait_for(lambda: "running" not in page_status(page), timeout=300)
    shoot(page, "corner-page.png")


SHOTS = {"tour": tour, "corner": corner_page}


def main(names: list[str]) -> None:
    """Take the shots named (default: all of them)."""
    from playwright.sync_api import sync_playwright

    unknown = sorted(set(names) - set(SHOTS))
    if unknown:
        raise SystemExit(f"unknown shots {unknown}; choose from {sorted(SHOTS)}")
    server = Server(Path("/tmp/flowcore-screenshots.json")).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name in names or list(SHOTS):
                page = browser.new_page(viewport={"width": 1500, "height": 1750})
                SHOTS[name](page, server)
                page.close()
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
