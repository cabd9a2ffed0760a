"""The live view in Chromium (issue 15): while a run trains, the samples, push-forward and NLL
panels keep showing new data, and are rarely greyed out as stale. Counted in the page (each batch
of changes to a panel's plot is one redraw), not timed; bench/live_view.py measures the goals
(≥ 8 redraws in 10 s, ≤ 5% stale) on both presets."""

import time

import pytest
from app_helpers import SMALL, click, wait_status

from bench.live_view import LIVE_VIEW_PROBE, PANELS, READ_PROBE

pytestmark = pytest.mark.browser
WINDOW_S = 10.0


def test_panels_show_new_data_every_refresh_and_are_rarely_stale(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    query = "&".join(f"{k}={v}" for k, v in {**SMALL, "steps": "1000000"}.items())
    page.goto(f"{server.url}/?{query}")
    click(page, "train")
    wait_status(page, "running")
    time.sleep(2.0)
    page.evaluate(LIVE_VIEW_PROBE, list(PANELS))
    time.sleep(WINDOW_S)
    seen = page.evaluate(READ_PROBE, list(PANELS))
    page.close()
    refreshes = seen["seconds"]  # the live panels refresh once a second
    # Regression guards, loose enough for a 2-core CI machine shared by the server, the
    # training thread and Chromium (44% stale was measured on an idle one: the 5% goal is not
    # met yet, see bench/live_view.py); the panels must not freeze or stay greyed out.
    for panel in ("samples", "latent", "nll"):
        assert seen["redraws"][panel] >= 0.5 * refreshes, (panel, seen)
        assert seen["stale"][panel] <= 0.6, (panel, seen)
    assert seen["redraws"]["density"] >= 1, seen  # the heatmap refreshes every 3 s
