"""One real-browser run: Debian's Chromium, driven by Playwright, against `streamlit run app.py`.

Skips when Chromium is missing, unless REQUIRE_BROWSER=1 (CI sets it), which makes that a failure.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

import flowcore as fc

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _require_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but no Chromium at {CHROMIUM}; "
                        "install it with: apt-get install -y chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    _require_browser()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not become healthy within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _button(page, key: str):
    return page.locator(f".st-key-{key} button").first


def _status(page) -> str:
    return page.locator(".st-key-status").first.inner_text(timeout=30_000)


def _step(text: str) -> int:
    match = re.search(r"step ([\d,]+)", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


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


def _nll_points(page) -> list[float]:
    """The test-NLL curve's y values, read from the rendered Plotly chart."""
    return page.evaluate(_TEST_NLL_JS)


def test_train_pause_download_and_sessions(server, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.goto(server)
    assert "idle" in _status(page)
    for key in ("density", "samples", "latent", "nll"):
        page.locator(f".st-key-{key} .js-plotly-plot").first.wait_for(timeout=60_000)

    _button(page, "train").click()
    page.wait_for_function(f"() => ({_TEST_NLL_JS})().length >= 3", timeout=180_000)
    points = _nll_points(page)
    assert points[-1] < points[0], f"the test NLL did not fall: {points}"
    page.screenshot(path=str(ARTIFACTS / "train-page.png"), full_page=True)

    _button(page, "pause").click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-status')?.innerText.includes('paused')",
        timeout=30_000)
    held = _step(_status(page))
    time.sleep(2.5)
    assert _step(_status(page)) == held

    with page.expect_download(timeout=60_000) as download:
        _button(page, "download-model").click()
    path = tmp_path / "model.safetensors"
    download.value.save_as(path)
    flow = fc.load(path)
    assert flow.config.arch == "realnvp"
    assert torch.isfinite(flow.log_prob(torch.zeros(3, 2, dtype=torch.float64))).all()

    other = browser.new_context()
    second = other.new_page()
    second.goto(server)
    text = _status(second)
    assert "idle" in text and _step(text) == 0, text
    assert _step(_status(page)) == held  # the first session's run is untouched
    other.close()
    context.close()
