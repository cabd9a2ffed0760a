r"""The live view in a real browser (issue 15): training speed with the Train page open, how
often the panels show new data, how long they sit greyed out as stale, and how fast the sidebar
answers while a run trains.

One ``streamlit run app.py`` and one Debian Chromium (Playwright) for the whole section. For each
preset (the seed and the "best" one), ``rounds`` alternating rounds of:

1. headless: a :class:`flowcore.TrainingJob` of the preset in this process, steps per second over
   a ``window``-second window after a 2 s warm-up;
2. with the page: the same preset started with the Train button of a fresh tab, the server's
   steps per second over the same window (read from the status line), while
   :data:`LIVE_VIEW_PROBE` counts in the page, for each panel, the redraws (each batch of changes
   to its plot's SVG is one redraw) and the time its cell carries Streamlit's stale mark.

The ratio is with-page / headless per round; the report gives medians. Then, with the seed preset
still training, the time from typing a new warm-up in the sidebar to the address bar showing it
(the server's answer), over ``answers`` tries.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flowcore as fc
from bench.common import Profile, log, median
from flowcore.presets import PRESETS

OVERHEAD_GOAL = 0.9
REDRAW_GOAL = 8  # redraws of each of the samples, latent and NLL panels in 10 s
STALE_GOAL = 0.05  # the most of the time a panel may be greyed out
ANSWER_GOAL_S = 0.5
PANELS = ("density", "samples", "latent", "nll")
SLIDER_PRESSES = 15

#: Installed in the page, per panel:
#: - ``redraws``: draws that show the panel new data (a fingerprint of its traces' values
#:   changed), whether the chart was updated in place or mounted anew; a resize, a hover or a
#:   re-render of the same figure does not count;
#: - ``mounts``: chart divs that appeared in the panel after the probe started (a chart updated in
#:   place has none; st.plotly_chart mounted a new one for most new figures);
#: - ``staleMs``: the time its cell carries Streamlit's stale mark (``data-stale``), from DOM
#:   mutations, so the figure does not depend on how often a busy browser runs a timer;
#: - ``greyMs``: the part of that time the cell is visibly fading: Streamlit's stale style waits
#:   ``transition-delay`` (read from the page, 0.5 s in Streamlit 1.67) before it starts to
#:   fade, so a mark shorter than that greys nothing.
LIVE_VIEW_PROBE = """(keys) => {
  const probe = {redraws: {}, mounts: {}, staleMs: {}, greyMs: {}, staleSince: {}, delay: {},
                 start: performance.now()};
  keys.forEach(k => { probe.redraws[k] = 0; probe.mounts[k] = 0; probe.staleMs[k] = 0;
                      probe.greyMs[k] = 0;
                      probe.staleSince[k] = null; probe.delay[k] = 0; });
  const staleElement = (k) => {
    const cell = document.querySelector('.st-key-' + k);
    if (!cell) return null;
    for (let el = cell; el; el = el.parentElement) {
      if (el.getAttribute && el.getAttribute('data-stale') === 'true') return el;
    }
    return cell.querySelector('[data-stale="true"]');
  };
  const seconds = (css) => Math.max(...css.split(',').map(
    t => t.trim().endsWith('ms') ? parseFloat(t) / 1000 : parseFloat(t) || 0));
  // A fingerprint of what a chart shows: a few values and the length of each trace's x, y and
  // (a heatmap's middle row of) z, as arrays, typed arrays or Plotly's base64 {bdata}.
  const part = (v) => {
    if (v == null) return '';
    if (typeof v === 'object' && typeof v.bdata === 'string') {
      return v.bdata.slice(-96) + v.bdata.length;
    }
    if (Array.isArray(v) && Array.isArray(v[0])) return part(v[v.length >> 1]) + ':' + v.length;
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      return Array.from(v.slice(-24)).join(',') + ':' + v.length;
    }
    return String(v);
  };
  const fingerprint = (gd) => (gd.data || []).map(
    t => [t.x, t.y, t.z].map(part).join('|')).join(';');
  // Streamlit 1.67 sometimes updates a chart in place and sometimes mounts a new one (a chart's
  // element id hashes its figure), and re-renders can redraw unchanged data: a redraw counts
  // when the panel shows data it did not show before, whichever chart element draws it.
  const bound = new WeakSet(), shown = {};
  const seen = (k, gd, counting) => {
    const now = fingerprint(gd);
    if (now === shown[k]) return;
    if (counting && shown[k] !== undefined) probe.redraws[k] += 1;
    shown[k] = now;
  };
  const bind = (counting) => {
    for (const k of keys) {
      for (const gd of document.querySelectorAll('.st-key-' + k + ' .js-plotly-plot')) {
        if (bound.has(gd) || !gd.on) continue;
        bound.add(gd);
        if (counting) probe.mounts[k] += 1;
        if (gd._fullData) seen(k, gd, counting);
        gd.on('plotly_afterplot', () => seen(k, gd, true));
      }
    }
  };
  bind(false);  // the charts already drawn when the probe starts
  new MutationObserver(() => {
    bind(true);
    const now = performance.now();
    for (const k of keys) {
      const el = staleElement(k);
      if (el && probe.staleSince[k] === null) {
        probe.staleSince[k] = now;
        probe.delay[k] = 1000 * seconds(getComputedStyle(el).transitionDelay || '0s');
      }
      if (!el && probe.staleSince[k] !== null) {
        const held = now - probe.staleSince[k];
        probe.staleMs[k] += held;
        probe.greyMs[k] += Math.max(0, held - probe.delay[k]);
        probe.staleSince[k] = null;
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ['data-stale']});
  window.liveViewProbe = probe;
}"""

READ_PROBE = """(keys) => {
  const p = window.liveViewProbe, now = performance.now(), total = now - p.start;
  const stale = {}, grey = {};
  for (const k of keys) {
    const open = p.staleSince[k] === null ? 0 : now - p.staleSince[k];
    stale[k] = (p.staleMs[k] + open) / total;
    grey[k] = (p.greyMs[k] + Math.max(0, open - p.delay[k])) / total;
  }
  return {redraws: p.redraws, mounts: p.mounts, stale, grey, seconds: total / 1000};
}"""


@contextlib.contextmanager
def app_server() -> Iterator[str]:
    """``streamlit run app.py`` on a free local port, as a user starts it; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def _headless_rate(preset: str, seconds: float) -> float:
    p = PRESETS[preset]
    job = fc.TrainingJob(fc.Trainer(p.flow, p.train, fc.datasets.get("moons")))
    job.start()
    time.sleep(2.0)
    first, started = job.snapshot().step, time.perf_counter()
    time.sleep(seconds)
    rate = (job.snapshot().step - first) / (time.perf_counter() - started)
    job.stop()
    return rate


def _step(page) -> int:
    text = page.locator(".st-key-status").first.inner_text(timeout=60_000)
    return int(re.search(r"step ([\d,]+)", text).group(1).replace(",", ""))


def _page_round(browser, url: str, preset: str, seconds: float) -> dict[str, Any]:
    """One round with the Train page open: steps/s, redraws and stale fractions."""
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(f"{url}/?{_preset_query(preset)}")
    page.locator(".st-key-status").first.wait_for(timeout=60_000)
    page.locator(".st-key-train button").first.click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-status')?.innerText.includes('running')",
        timeout=60_000)
    time.sleep(2.0)
    page.evaluate(LIVE_VIEW_PROBE, list(PANELS))
    first, started = _step(page), time.perf_counter()
    time.sleep(seconds)
    rate = (_step(page) - first) / (time.perf_counter() - started)
    seen = page.evaluate(READ_PROBE, list(PANELS))
    page.locator(".st-key-pause button").first.click()
    page.close()
    return {"rate": rate, **seen}


def _preset_query(preset: str) -> str:
    """The shared link of a preset on moons (the app's own URL round trip)."""
    p = PRESETS[preset]
    query = {}
    for config in (p.flow, p.train):
        defaults = type(config)().to_strings()
        query.update({k: v for k, v in config.to_strings().items()
                      if k != "dim" and v != defaults[k]})
    return "&".join(f"{k}={v}" for k, v in query.items())


def _answer_times(browser, url: str, tries: int) -> list[float]:
    """Seconds from typing a warm-up in the sidebar to the URL showing it, while training."""
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(f"{url}/?{_preset_query('seed')}")
    page.locator(".st-key-status").first.wait_for(timeout=60_000)
    page.locator(".st-key-train button").first.click()
    time.sleep(3.0)
    times = []
    field = page.locator(".st-key-warmup input").first
    for i in range(tries):
        value = 11 + i
        field.fill(str(value))
        started = time.perf_counter()
        field.press("Enter")
        page.wait_for_function(f"() => location.search.includes('warmup={value}')",
                               timeout=60_000)
        times.append(time.perf_counter() - started)
        time.sleep(0.5)
    page.close()
    return times


#: The size of the grid chart's traces (arrays or Plotly's base64 form): it changes once the
#: server has drawn the grid for a new number of lines.
GRID_SHOWN = """() => {
  const gd = document.querySelector('.st-key-grid-view .js-plotly-plot');
  return gd && gd.data ? gd.data.map(t => JSON.stringify([t.x, t.y]).length).join(',') : '';
}"""


def _slider_presses(browser, url: str, training: bool, presses: int) -> list[float]:
    """Seconds from an arrow-key press on Inside the flow's grid-lines slider to the page
    drawing the grid for the new value, over ``presses`` presses, while the seed trains (or
    with it paused): issue 13's "15 presses took 112 s while training, 16 s paused"."""
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(f"{url}/?{_preset_query('seed')}")
    page.locator(".st-key-tab-ready").first.wait_for(state="attached", timeout=60_000)
    page.locator(".st-key-train button").first.click()
    time.sleep(2.0)
    if not training:
        page.locator(".st-key-pause button").first.click()
        time.sleep(1.0)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Inside").first.click()
    page.locator(".st-key-grid-view .js-plotly-plot").first.wait_for(timeout=120_000)
    handle = page.locator('.st-key-grid-lines input[type=range]').first
    handle.focus()
    times = []
    for _ in range(presses):
        before = page.evaluate(GRID_SHOWN)
        started = time.perf_counter()
        handle.press("ArrowRight")
        page.wait_for_function(f"() => ({GRID_SHOWN})() !== {before!r}", timeout=300_000)
        times.append(time.perf_counter() - started)
    page.close()
    return times


def run(profile: Profile) -> dict[str, Any]:
    if not Path("/usr/bin/chromium").exists():
        return {"status": "unavailable", "reason": "no Chromium at /usr/bin/chromium"}
    from playwright.sync_api import sync_playwright

    fc.job.configure_threads()
    seconds = 10.0
    rounds = 5 if profile.name == "full" else 3
    result: dict[str, Any] = {"status": "measured", "window_s": seconds, "rounds": rounds,
                              "goals": {"ratio": OVERHEAD_GOAL, "redraws": REDRAW_GOAL,
                                        "stale": STALE_GOAL, "answer_s": ANSWER_GOAL_S},
                              "presets": {}}
    with app_server() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        for preset in ("seed", "best"):
            headless, pages = [], []
            for _ in range(rounds):
                headless.append(_headless_rate(preset, seconds))
                pages.append(_page_round(browser, url, preset, seconds))
                log(f"live view: {preset} headless {headless[-1]:.1f}, with page "
                    f"{pages[-1]['rate']:.1f} steps/s, redraws {pages[-1]['redraws']}")
            ratios = [pg["rate"] / h for h, pg in zip(headless, pages, strict=True)]
            result["presets"][preset] = {
                "headless_steps_per_s": headless, "page_steps_per_s": [pg["rate"] for pg in pages],
                "ratios": ratios, "ratio": median(ratios),
                "redraws": {k: median([pg["redraws"][k] * seconds / pg["seconds"] for pg in pages])
                            for k in PANELS},
                "mounts": {k: median([pg["mounts"][k] * seconds / pg["seconds"] for pg in pages])
                           for k in PANELS},
                "stale": {k: median([pg["stale"][k] for pg in pages]) for k in PANELS},
                "grey": {k: median([pg["grey"][k] for pg in pages]) for k in PANELS},
            }
        answers = _answer_times(browser, url, 5)
        result["answer_s"] = {"median": median(answers), "worst": max(answers), "all": answers}
        for when, training in (("paused", False), ("training", True)):
            presses = _slider_presses(browser, url, training, SLIDER_PRESSES)
            result[f"slider_presses_{when}_s"] = {"total": sum(presses), "median": median(presses),
                                                  "worst": max(presses)}
        browser.close()
    return result
