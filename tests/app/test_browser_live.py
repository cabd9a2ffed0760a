"""The live view in Chromium (issue 15): while the seed preset trains, the samples, push-forward and
NLL panels keep showing new data in the chart they first drew (dashboard/live_chart.py updates one
Plotly div per panel in place; st.plotly_chart mounted a new one for each new figure), the scatter
panels draw their points in WebGL (seen on a screenshot), or in SVG where the browser has no WebGL,
and they are rarely greyed out as stale. Counted in the page (a redraw is a Plotly draw of new
data; a mount is a new chart div; greyed is the part of the stale mark long enough for Streamlit's
fade to start), not timed; bench/live_view.py measures the goals (≥ 8 redraws in 10 s, ≤ 5% greyed)
on both presets."""

import io
import time

import numpy as np
import pytest
from app_helpers import click, page_status, step_in, wait_for, wait_status
from PIL import Image

from bench.live_view import LIVE_VIEW_PROBE, PANELS, READ_PROBE, _preset_query

pytestmark = pytest.mark.browser
WINDOW_S = 10.0
FAST = ("samples", "latent", "nll")  # refreshed every second; the density every 3 s
SEVERAL = 3  # draws of new data in the window, of about 10 refreshes

#: Each panel's chart div when the window starts, and whether it is still the panel's only one.
REMEMBER_CHARTS = """(keys) => { window.liveCharts = Object.fromEntries(keys.map(
  k => [k, document.querySelector('.st-key-' + k + ' .js-plotly-plot')])); }"""
SAME_CHARTS = """(keys) => Object.fromEntries(keys.map(k => {
  const now = document.querySelectorAll('.st-key-' + k + ' .js-plotly-plot');
  return [k, now.length === 1 && now[0] === window.liveCharts[k]];
}))"""
#: The live scatter panels draw in WebGL (flowcore/plots/style.py): their canvases, and whether
#: each still has its drawing context (a page that holds too many loses the oldest).
GL_CANVASES = """(keys) => Object.fromEntries(keys.map(k => [k, [...document.querySelectorAll(
  '.st-key-' + k + ' canvas.gl-canvas-context')].map(c => {
    const gl = c.getContext('webgl') || c.getContext('experimental-webgl');
    return gl !== null && !gl.isContextLost();
  })]))"""
#: A browser without WebGL: every canvas refuses a WebGL context.
NO_WEBGL = """(() => { const real = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    return /webgl/i.test(kind) ? null : real.call(this, kind, ...rest); }; })()"""
#: The SVG markers each panel draws.
SVG_POINTS = """(keys) => Object.fromEntries(keys.map(k => [k, document.querySelectorAll(
  '.st-key-' + k + ' .scatterlayer path.point').length]))"""
#: The panels whose chart is not drawn full height now (a chart that filled a div sized by its
#: content collapsed to 0 px between refreshes).
FLAT_CHARTS = """(keys) => keys.filter(k => {
  const chart = document.querySelector('.st-key-' + k + ' .js-plotly-plot');
  return !chart || chart.getBoundingClientRect().height < 100;
})"""


def test_seed_panels_update_in_place_with_new_data_and_are_rarely_grey(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(f"{server.url}/?{_preset_query('seed')}&steps=1000000")
    for key in PANELS:
        page.locator(f".st-key-{key} .js-plotly-plot").first.wait_for(timeout=60_000)
    click(page, "train")
    wait_status(page, "running")
    time.sleep(2.0)
    page.evaluate(LIVE_VIEW_PROBE, list(PANELS))
    page.evaluate(REMEMBER_CHARTS, list(PANELS))
    flat = []
    for _ in range(int(WINDOW_S / 0.5)):  # looked at twenty times in the window
        time.sleep(0.5)
        flat += page.evaluate(FLAT_CHARTS, list(PANELS))
    seen = page.evaluate(READ_PROBE, list(PANELS))
    same = page.evaluate(SAME_CHARTS, list(PANELS))
    click(page, "pause")
    wait_status(page, "paused")
    gl = page.evaluate(GL_CANVASES, ["samples", "latent"])
    samples = np.asarray(Image.open(io.BytesIO(
        page.locator(".st-key-samples").first.screenshot())).convert("RGB")).astype(int)
    page.close()
    assert gl == {"samples": [True], "latent": [True]}, gl
    # What the WebGL canvas shows: the data in blue and the model in orange, as many pixels of
    # each as a cloud of points makes (the legend's two markers are a few dozen pixels).
    r, g, b = samples[..., 0], samples[..., 1], samples[..., 2]
    orange = int(((r > g + 30) & (g > b + 30)).sum())
    blue = int((b > r + 30).sum())
    assert orange > 2000 and blue > 2000, (orange, blue)
    assert not flat, f"charts drawn flat: {flat}"
    for panel in PANELS:
        assert same[panel] and seen["mounts"][panel] == 0, (panel, same, seen)
    # Loose enough for a 2-core CI machine shared by the server, the seed's training thread and
    # Chromium (the goals, 8 draws and at most 5% greyed, are bench/live_view.py's). On this
    # machine: 9-11 draws of new data in 10 s and 0-0.5% greyed at 1-min load 3-4; 3-9 draws and
    # up to 28% greyed at load 6-11 while another suite ran its own Chromium tests (then the
    # server's fragment runs, not the charts, are slow: the greyed time is Streamlit's stale mark
    # waiting for them).
    for panel in FAST:
        assert seen["redraws"][panel] >= SEVERAL, (panel, seen)
        assert seen["grey"][panel] <= 0.35, (panel, seen)
    assert seen["redraws"]["density"] >= 1, seen  # the heatmap refreshes every 3 s


def test_without_webgl_the_live_scatter_panels_draw_their_points_in_svg(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.add_init_script(NO_WEBGL)
    page.goto(f"{server.url}/?{_preset_query('seed')}&steps=1000000")
    click(page, "train")
    first = step_in(wait_status(page, "running"))
    # New weights reach the panels while it trains: they redraw, still in SVG.
    assert wait_for(lambda: step_in(page_status(page)) > first + 20, timeout=60)
    time.sleep(2.5)
    points = page.evaluate(SVG_POINTS, ["samples", "latent"])
    text = page.locator(".st-key-samples").first.inner_text() + page.locator(
        ".st-key-latent").first.inner_text()
    gl = page.locator(".st-key-samples canvas.gl-canvas-context, "
                      ".st-key-latent canvas.gl-canvas-context").count()
    click(page, "pause")
    wait_status(page, "paused")
    page.close()
    assert "WebGL" not in text and gl == 0, (text, gl)
    # The samples panel: the data and the model's samples (1,000 each, PANEL_SAMPLES); the
    # push-forward: the 1,000 data points' images.
    assert points["samples"] >= 1500 and points["latent"] >= 800, points
