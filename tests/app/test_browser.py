"""One real-browser run: Debian's Chromium, driven by Playwright, against `streamlit run app.py`.

Skips when Chromium is missing, unless REQUIRE_BROWSER=1 (CI sets it), which makes that a failure.
"""

import time
from urllib.parse import urlencode

import pytest
import torch
from app_helpers import (
    ROOT,
    SMALL,
    Server,
    button,
    click,
    page_errors,
    page_status,
    require_browser,
    step_in,
    wait_for,
    wait_status,
)

import flowcore as fc

ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    srv = Server(tmp_path_factory.mktemp("server") / "monitor.json").start()
    yield srv.url
    srv.stop()


# Plotly keeps numpy arrays as {dtype, bdata} objects whose decoded values sit in _inputArray.
_TEST_NLL_JS = """() => {
    const el = document.querySelector('.st-key-nll .js-plotly-plot');
    if (!el || !el.data) return [];
    const trace = el.data.find(t => (t.name || '').includes('test'));
    if (!trace || !trace.y) return [];
    let y = trace.y;
    if (y._inputArray) {
        const a = y._inputArray;
        y = Object.keys(a).filter(k => /^[0-9]+$/.test(k)).map(k => a[k]);
    }
    return Array.from(y).filter(v => v !== null && isFinite(v));
}"""


def test_train_pause_download_and_sessions(server, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.goto(server)
    assert "idle" in page_status(page)
    for key in ("density", "samples", "latent", "nll"):
        page.locator(f".st-key-{key} .js-plotly-plot").first.wait_for(timeout=60_000)

    button(page, "train").click()
    # Read in the same call that waited: the chart may redraw between two calls (it updates in
    # place now, dashboard/live_chart.py; st.plotly_chart mounted a new, empty one each time).
    points = page.wait_for_function(
        f"() => {{ const p = ({_TEST_NLL_JS})(); return p.length >= 3 ? p : null; }}",
        timeout=180_000).json_value()
    assert points[-1] < points[0], f"the test NLL did not fall: {points}"
    page.screenshot(path=str(ARTIFACTS / "train-page.png"), full_page=True)

    button(page, "pause").click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-status')?.innerText.includes('paused')",
        timeout=30_000)
    held = step_in(page_status(page))
    time.sleep(2.5)
    assert step_in(page_status(page)) == held

    with page.expect_download(timeout=60_000) as download:
        button(page, "download-model").click()
    path = tmp_path / "model.safetensors"
    download.value.save_as(path)
    flow = fc.load(path)
    assert flow.config.arch == "realnvp"
    assert torch.isfinite(flow.log_prob(torch.zeros(3, 2, dtype=torch.float64))).all()

    other = browser.new_context()
    second = other.new_page()
    second.goto(server)
    text = page_status(second)
    assert "idle" in text and step_in(text) == 0, text
    assert step_in(page_status(page)) == held  # the first session's run is untouched
    other.close()
    context.close()


def _chart_title(page, view: str) -> str:
    return page.locator(f".st-key-{view} .gtitle").first.text_content(timeout=60_000) or ""


def _slider_value(page) -> str:
    """The value the page's layer slider shows on its thumb."""
    return page.locator(".st-key-layer [data-testid=stSliderThumbValue]").first.inner_text()


def test_layer_slider_moves_the_frame_and_compare_overlays_two_runs(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/?{urlencode(SMALL)}")
    wait_status(page, "idle")
    click(page, "train")
    wait_status(page, "running")
    assert wait_for(lambda: step_in(page_status(page)) >= 20, timeout=60), page_status(page)
    click(page, "pause")
    wait_status(page, "paused")

    # Inside the flow: the page's layer slider is the view's one control (the chart has no
    # slider or play button of its own) and moves the chart to the next frame.
    page.get_by_role("link", name="Inside the flow").click()
    first = _chart_title(page, "layers-view")
    assert "standardised" in first, first
    view = page.locator(".st-key-layers-view").first
    assert view.locator(".slider-container, .updatemenu-button").count() == 0
    slider = page.locator(".st-key-layer input[type=range]").first
    slider.focus()
    slider.press("ArrowRight")
    assert wait_for(lambda: _chart_title(page, "layers-view") != first, timeout=60)
    assert "layer 1" in _chart_title(page, "layers-view").lower()
    assert _slider_value(page) == "layer 1"
    # Pulling back starts at z, which no step led to: no log-det is shown for it.
    page.get_by_text("model samples pulled back").click()
    assert wait_for(lambda: _chart_title(page, "layers-view").startswith("z ~ N(0, I)"),
                    timeout=60)
    assert _slider_value(page) == "z"
    assert "no step" in _chart_title(page, "layers-view")
    assert "nats" not in _chart_title(page, "layers-view")
    # The points fill the box: a square range sized by them, not a wide ±12 axis.
    x_range, y_range = page.evaluate(
        "() => { const l = document.querySelector('.st-key-layers-view .js-plotly-plot')"
        "._fullLayout; return [l.xaxis.range, l.yaxis.range]; }")
    assert x_range[1] - x_range[0] == pytest.approx(y_range[1] - y_range[0], rel=1e-3)
    assert x_range[1] - x_range[0] < 12, x_range

    # Compare: two runs side by side end as two curves on one chart.
    page.get_by_role("link", name="Compare").click()
    steps = page.locator(".st-key-compare-steps input").first
    steps.fill("60")
    steps.press("Enter")
    click(page, "compare-train")
    page.locator(".st-key-compare-view .js-plotly-plot").first.wait_for(timeout=180_000)
    names = page.evaluate("() => document.querySelector('.st-key-compare-view .js-plotly-plot')"
                          ".data.map(t => t.name)")
    runs = [n for n in names if n[:2] in ("1.", "2.")]
    assert len(runs) == 2 and "realnvp" in runs[0] and "nsf" in runs[1], names
    assert not page_errors(page)
    page.close()
