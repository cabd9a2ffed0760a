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

The ratio is with-page / headless per round; the report gives medians. Each page round also
says where the CPU went (Linux ``/proc``): the cores the server and Chromium used, and the share
of the window the server's training thread ran, and waited runnable for a core (its schedstat).
Then, with the seed preset still training, the time from typing a new warm-up in the sidebar to
the address bar showing it (the server's answer), over ``answers`` tries.
"""

from __future__ import annotations

import contextlib
import os
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
from bench.common import Profile, log, markdown_table, median, ratio_text
from flowcore.presets import PRESETS

OVERHEAD_GOAL = 0.9
REDRAW_GOAL = 8  # redraws of each of the samples, latent and NLL panels in 10 s
STALE_GOAL = 0.05  # the most of the time a panel may be greyed out
ANSWER_GOAL_S = 0.5
PANELS = ("density", "samples", "latent", "nll")
SLIDER_PRESSES = 15

#: The figures issue 15 was filed with (``make bench-quick`` on a clean clone, 2026-12-01, and
#: the full run of 2026-11-29 for the ratio's rounds), quoted beside this run's in the report.
FILED = {
    "date": "2026-12-01",
    "ratio_seed": 0.61, "ratio_rounds_seed": (0.55, 0.61, 0.95), "ratio_full_run": 0.77,
    "redraws_in_10_s": 3, "grey_fraction": (0.14, 0.32),
    "slider_presses_training_s": 112.0, "slider_presses_paused_s": 16.0,
    "density_120_ms": 218.0, "density_200_ms": 566.0,
}

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
def app_server() -> Iterator[tuple[str, int]]:
    """``streamlit run app.py`` on a free local port, as a user starts it; yields its URL and
    process id."""
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
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(10)


def _headless_rate(preset: str, seconds: float) -> tuple[float, float | None]:
    """Steps per second of a job in this process, and the share of the window its thread ran
    (None without Linux ``/proc``)."""
    p = PRESETS[preset]
    job = fc.TrainingJob(fc.Trainer(p.flow, p.train, fc.datasets.get("moons")))
    job.start()
    time.sleep(2.0)
    sched = Path(f"/proc/self/task/{job.thread_id}/schedstat")

    def ran() -> float:
        return int((_read(sched).split() or ["0"])[0]) / 1e9

    first, started, ran_before = job.snapshot().step, time.perf_counter(), ran()
    time.sleep(seconds)
    wall = time.perf_counter() - started
    rate, running = (job.snapshot().step - first) / wall, (ran() - ran_before) / wall
    measured = sched.exists()
    job.stop()
    return rate, running if measured else None


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(stat: Path) -> float:
    """User + system CPU seconds from a ``/proc/.../stat`` file (0 when it is gone)."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _chromium_stats() -> list[Path]:
    return [d / "stat" for d in Path("/proc").glob("[0-9]*")
            if (d / "comm").exists() and "chrom" in _read(d / "comm")]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class CpuWatch:
    """Where the CPU goes while a page round trains, from Linux ``/proc`` (None elsewhere).

    ``start()`` picks the server's training thread as the thread that ran most over the last
    half second; ``stop()`` returns, as fractions of the window, the cores the server process and
    Chromium's processes used, and the share the training thread ran and waited runnable.
    """

    def __init__(self, server_pid: int):
        self.task = Path(f"/proc/{server_pid}/task")
        self.server = Path(f"/proc/{server_pid}/stat")

    def start(self) -> None:
        threads = list(self.task.glob("[0-9]*"))
        first = {t: _cpu_seconds(t / "stat") for t in threads}
        time.sleep(0.5)
        self.trainer = max(threads, key=lambda t: _cpu_seconds(t / "stat") - first[t])
        self.browser = _chromium_stats()
        self.before = self._read()

    def _read(self) -> tuple[float, ...]:
        sched = _read(self.trainer / "schedstat").split() or ["0", "0"]
        return (time.perf_counter(), _cpu_seconds(self.server),
                sum(_cpu_seconds(p) for p in self.browser), int(sched[0]) / 1e9,
                int(sched[1]) / 1e9)

    def stop(self) -> dict[str, float]:
        after = self._read()
        wall, *used = (b - a for a, b in zip(self.before, after, strict=True))
        return dict(zip(("server_cores", "browser_cores", "train_running", "train_waiting"),
                        (u / wall for u in used), strict=True))


def _step(page) -> int:
    text = page.locator(".st-key-status").first.inner_text(timeout=60_000)
    return int(re.search(r"step ([\d,]+)", text).group(1).replace(",", ""))


def _page_round(browser, url: str, server_pid: int, preset: str, seconds: float
                ) -> dict[str, Any]:
    """One round with the Train page open: steps/s, redraws, stale fractions and CPU."""
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(f"{url}/?{_preset_query(preset)}")
    page.locator(".st-key-status").first.wait_for(timeout=60_000)
    page.locator(".st-key-train button").first.click()
    page.wait_for_function(
        "() => document.querySelector('.st-key-status')?.innerText.includes('running')",
        timeout=60_000)
    time.sleep(1.5)
    cpu = CpuWatch(server_pid) if Path("/proc/self/schedstat").exists() else None
    if cpu:
        cpu.start()
    page.evaluate(LIVE_VIEW_PROBE, list(PANELS))
    first, started = _step(page), time.perf_counter()
    time.sleep(seconds)
    rate = (_step(page) - first) / (time.perf_counter() - started)
    used = cpu.stop() if cpu else {}
    seen = page.evaluate(READ_PROBE, list(PANELS))
    page.locator(".st-key-pause button").first.click()
    page.close()
    return {"rate": rate, "cpu": used, **seen}


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
    with app_server() as (url, server_pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        for preset in ("seed", "best"):
            headless, headless_running, pages = [], [], []
            for _ in range(rounds):
                rate, running = _headless_rate(preset, seconds)
                headless.append(rate)
                headless_running.append(running)
                pages.append(_page_round(browser, url, server_pid, preset, seconds))
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
                "cpu": {k: median([pg["cpu"][k] for pg in pages])
                        for k in pages[0]["cpu"]},
            }
            if pages[0]["cpu"] and None not in headless_running:
                result["presets"][preset]["cpu"]["headless_running"] = median(headless_running)
        answers = _answer_times(browser, url, 5)
        result["answer_s"] = {"median": median(answers), "worst": max(answers), "all": answers}
        for when, training in (("paused", False), ("training", True)):
            presses = _slider_presses(browser, url, training, SLIDER_PRESSES)
            result[f"slider_presses_{when}_s"] = {"total": sum(presses), "median": median(presses),
                                                  "worst": max(presses)}
        browser.close()
    return result


# -- the report ---------------------------------------------------------------------------------
def render(live: dict[str, Any] | None, dashboard: dict[str, Any] | None = None) -> list[str]:
    """The report's section: the goals, each preset's medians, where the CPU went, and issue 15
    as filed beside this run."""
    lines = ["### The live view in Chromium", ""]
    if not live or live.get("status") != "measured":
        return lines + [f"Not measured: {(live or {}).get('reason', 'not run')}.", ""]
    goals = live["goals"]
    lines += ["`bench/live_view.py`: one `streamlit run app.py` and Debian's Chromium; per "
              f"preset, {live['rounds']} alternating rounds of {live['window_s']:g} s (headless "
              "job, then the same preset started from the Train page). Counted in the page per "
              "panel: redraws (draws that show new data), the time marked stale, and the part of "
              "it visibly greyed (past Streamlit's fade delay). Medians; "
              f"goals: ratio ≥ {goals['ratio']}, ≥ {goals['redraws']} redraws in 10 s, "
              f"≤ {goals['stale']:.0%} greyed, sidebar answer ≤ {goals['answer_s']} s.", ""]
    rows = []
    for name, p in live["presets"].items():
        rows.append([name, ratio_text(p["ratio"]), ", ".join(ratio_text(r) for r in p["ratios"]),
                     " / ".join(f"{p['redraws'][k]:.0f}" for k in ("samples", "latent", "nll",
                                                                    "density")),
                     " / ".join(f"{p['stale'][k]:.0%}" for k in ("samples", "latent", "nll",
                                                                  "density")),
                     " / ".join(f"{p['grey'][k]:.0%}" for k in ("samples", "latent", "nll",
                                                                 "density")) if "grey" in p
                     else "—",
                     " / ".join(f"{p['mounts'][k]:.0f}" for k in ("samples", "latent", "nll",
                                                                 "density")) if "mounts" in p
                     else "—"])
    lines += markdown_table(["Preset", "Ratio (median)", "Rounds", "Redraws in 10 s (samples / "
                             "latent / NLL / density)", "Marked stale (same order)",
                             "Greyed (same order)", "New chart divs in 10 s (same order)"], rows,
                            "lrlllll")
    cpu = {name: p["cpu"] for name, p in live["presets"].items() if p.get("cpu")}
    if cpu:
        lines += ["", "Where the CPU went in the page rounds (medians; cores are CPU seconds per "
                  "second of the window, of 2): the server process (the training thread "
                  "included), Chromium's processes, and the share of the window the training "
                  "thread ran and waited runnable for a core (`/proc` schedstat), beside the "
                  "share the headless job's thread ran.", ""]
        lines += markdown_table(["Preset", "Server", "Chromium", "Training thread ran",
                         "Waited for a core", "Headless thread ran"],
                        [[name, f"{c['server_cores']:.2f}", f"{c['browser_cores']:.2f}",
                          f"{c['train_running']:.0%}", f"{c['train_waiting']:.0%}",
                          f"{c['headless_running']:.0%}" if "headless_running" in c else "—"]
                         for name, c in cpu.items()], "lrrrrr")
    lines += _filed_and_now(live, dashboard)
    answer = live["answer_s"]
    lines += ["", f"Sidebar answer while the seed trains (typing a warm-up until the address bar "
              f"shows it): median {answer['median']:.2f} s, worst {answer['worst']:.2f} s.", ""]
    presses = [(when, live.get(f"slider_presses_{when}_s")) for when in ("paused", "training")]
    if all(p for _, p in presses):
        lines += ["Fifteen arrow presses on Inside the flow's grid-lines slider, each until the "
                  "grid is drawn for the new value: " + "; ".join(
                      f"{when} {p['total']:.1f} s in all (median {p['median']:.2f} s, worst "
                      f"{p['worst']:.2f} s)" for when, p in presses) + ".", ""]
    return lines


def _filed_and_now(live: dict[str, Any], dashboard: dict[str, Any] | None) -> list[str]:
    """Issue 15's figures as filed (quoted from :data:`bench.live_view.FILED`) beside this run's."""
    seed = live["presets"].get("seed")
    training = live.get("slider_presses_training_s")
    paused = live.get("slider_presses_paused_s")
    if not seed or not training or not paused:
        return []
    rows = [
        ["training with the page open (seed), median ratio", ratio_text(FILED["ratio_seed"])
         + f" (rounds {', '.join(ratio_text(r) for r in FILED['ratio_rounds_seed'])}; full run "
         f"{ratio_text(FILED['ratio_full_run'])})", ratio_text(seed["ratio"])],
        ["new data in the samples / latent / NLL panels in 10 s", f"{FILED['redraws_in_10_s']}",
         " / ".join(f"{seed['redraws'][k]:.0f}" for k in ("samples", "latent", "nll"))],
        ["greyed out as stale (three of the four panels)",
         " to ".join(f"{g:.0%}" for g in FILED["grey_fraction"]),
         " / ".join(f"{seed['grey'][k]:.0%}" for k in ("samples", "latent", "nll", "density"))],
        ["15 slider presses on Inside, training / paused",
         f"{FILED['slider_presses_training_s']:.0f} s / {FILED['slider_presses_paused_s']:.0f} s",
         f"{training['total']:.0f} s / {paused['total']:.0f} s"],
    ]
    figures = (dashboard or {}).get("figures", {}).get("rows", [])
    builds = {r["panel"]: r["build_ms"] for r in figures
              if r.get("model") == "seed" and r["panel"].startswith("density")}
    live_density = next((name for name in builds if "live" in name), None)
    if live_density and "density 200×200" in builds:
        rows.append(["building the live density / the 200×200 one",
                     f"{FILED['density_120_ms']:.0f} ms (120×120) / "
                     f"{FILED['density_200_ms']:.0f} ms",
                     f"{builds[live_density]:.0f} ms ({live_density.split()[1]}) / "
                     f"{builds['density 200×200']:.0f} ms"])
    return (["", f"Issue 15 as filed ({FILED['date']}) and in this run:", ""]
            + markdown_table(["Seed preset", "Filed", "This run"], rows, "lll"))
