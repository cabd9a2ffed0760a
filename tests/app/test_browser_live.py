"""The live view in Chromium (issue 15): while a run trains, the samples, push-forward and NLL
panels keep showing new data, and are rarely greyed out as stale. Counted in the page (a redraw
is a Plotly draw of new data; greyed is the part of the stale mark long enough for Streamlit's
fade to start), not timed; bench/live_view.py measures the goals (≥ 8 redraws in 10 s, ≤ 5%
greyed) on both presets."""

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
    # training thread and Chromium: the panels must not freeze or stay greyed out. On this
    # machine loaded by other work, 4-6 draws of new data in 10 s, up to 35% marked stale and
    # 18% greyed were measured; the goals (8 draws, 5% greyed) are bench/live_view.py's and are
    # not met yet.
    for panel in ("samples", "latent", "nll"):
        assert seen["redraws"][panel] >= 0.3 * refreshes, (panel, seen)
        assert seen["stale"][panel] <= 0.6, (panel, seen)
        assert seen["grey"][panel] <= 0.35, (panel, seen)
    assert seen["redraws"]["density"] >= 1, seen  # the heatmap refreshes every 3 s
