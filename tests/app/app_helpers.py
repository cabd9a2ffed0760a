"""Shared pieces of the hardening suite (issue 6): tests/app/test_hostile_*.py.

- AppTest helpers: a small-model app, the status line, waiting, stopping every job.
- ``chart_specs``: every Plotly figure the app sent, by chart key (``st.plotly_chart`` and the live
  Train charts); ``chart_problems`` decodes them and lists NaN/inf values and traces whose data is
  all missing.
- ``PeakRSS``: the peak resident-memory growth of this process inside a ``with`` block.
- ``Server``: a real ``streamlit run app.py`` on a free port, for the browser tests. It runs this
  file as ``python tests/app/app_helpers.py serve app.py --server.port P ...``: Streamlit's own CLI
  (``streamlit run``) in-process, plus a monitor thread that writes the process's live training jobs
  and RSS to a JSON file several times a second, so a test can see the server's jobs from outside.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
USER_DATA = "your data (upload)"
# A small model, so reruns and training steps are cheap (the shared-link query fills the sidebar).
SMALL = {"arch": "realnvp", "layers": "2", "hidden": "16", "batch_size": "256"}

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


# -- AppTest ------------------------------------------------------------------------------------
def new_app(query: dict[str, str] | None = SMALL, timeout: float = 120):
    """A fresh AppTest session of app.py, run once (the Train page)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    if query:
        at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@contextlib.contextmanager
def distinct_sessions():
    """Give every AppTest its own session id while active.

    AppTest runs every instance under one session id ("test session id"), so
    ``st.cache_resource(scope="session")`` (the app's per-session run and job) would be shared by
    all AppTests in the process. Real browser tabs each get their own session; so do AppTests here.
    """
    from streamlit.runtime.scriptrunner import script_runner

    real = script_runner.ScriptRunner.__init__

    def init(self, *args, **kwargs):
        if kwargs.get("session_id") == "test session id":
            kwargs["session_id"] = f"apptest-{id(kwargs['session_state']):x}"
        real(self, *args, **kwargs)

    script_runner.ScriptRunner.__init__ = init
    try:
        yield
    finally:
        script_runner.ScriptRunner.__init__ = real


def stop_all_jobs() -> None:
    from flowcore.job import live_jobs

    for job in live_jobs():
        job.stop()


def status(at) -> str:
    lines = [m.value for m in at.markdown if " · step " in m.value]
    assert lines, [m.value for m in at.markdown]
    return lines[0]


def step_of(at) -> int:
    return int(status(at).split(" · step ")[1].split(" ")[0].replace(",", ""))


def run_until(at, predicate, timeout: float = 60.0, every: float = 0.3) -> bool:
    """Rerun ``at`` until ``predicate(at)`` holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if predicate(at):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


def uploader(at, key: str):
    """The file uploader with ``key`` (fetched fresh: ``.upload`` on it replaces the file)."""
    found = [u for u in at.get("file_uploader") if u.key == key]
    assert found, [u.key for u in at.get("file_uploader")]
    return found[0]


def upload(at, key: str, name: str, data: bytes, mime: str = "application/octet-stream"):
    uploader(at, key).upload(name, data, mime)
    at.run()
    return at


def messages(at, kind: str = "error") -> list[str]:
    return [e.value for e in getattr(at, kind)]


def texts(at) -> str:
    """Every text the page shows (markdown, captions, alerts), joined: for word checks."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


# -- Plotly figures -------------------------------------------------------------------------------
def _typed_array(obj: dict) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
    return data


def _leaves(value: Any) -> tuple[list[float], bool]:
    """The numbers of a Plotly data array (typed array or nested list); and whether it is one."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        return [float(v) for v in _typed_array(value)], True
    if isinstance(value, list) and value and all(
            v is None or isinstance(v, int | float | list) and not isinstance(v, bool)
            for v in value):
        out: list[float] = []
        for v in value:
            if isinstance(v, list):
                sub, ok = _leaves(v)
                if not ok:
                    return [], False
                out += sub
            else:
                out.append(float("nan") if v is None else float(v))
        return out, True
    return [], False


DATA_KEYS = ("x", "y", "z")


def figure_problems(spec: str, label: str) -> list[str]:
    """NaN/inf numbers in a figure's x/y/z arrays, and traces whose x/y/z hold no finite number.

    Plotly's JSON writes NaN as null, so null counts as NaN here, except in line traces, where a
    null is a deliberate gap between segments (the trace must still hold finite points).
    """
    # Only real JSON literals count: base64 array payloads may contain the letters "NaN".
    literals: list[str] = []
    fig = json.loads(spec, parse_constant=lambda c: literals.append(c) or float("nan"))
    if literals:
        return [f"{label}: the figure JSON contains {literals[0]}"]
    problems = []
    for i, trace in enumerate(fig.get("data", [])):
        name = f"{label} trace {i} ({trace.get('type', 'scatter')} {trace.get('name', '')!r})"
        gaps_ok = trace.get("type", "scatter") == "scatter" and "lines" in str(trace.get("mode"))
        for key in DATA_KEYS:
            if key not in trace:
                continue
            values, ok = _leaves(trace[key])
            if not ok or not values:
                continue
            arr = np.asarray(values, dtype=np.float64)
            finite = np.isfinite(arr)
            if not finite.any():
                problems.append(f"{name}: {key} has no finite value ({arr.size} entries)")
            elif not finite.all() and not gaps_ok:
                problems.append(f"{name}: {key} has {int((~finite).sum())} NaN/inf of {arr.size}")
    return problems


def chart_specs(at) -> dict[str, str]:
    """Every Plotly figure the app currently shows, as JSON by chart key: ``st.plotly_chart``'s
    spec, and the figure each live Train chart (dashboard/live_chart.py) was given."""
    from dashboard import live_chart

    specs = {chart.key or "chart": chart.proto.spec for chart in at.get("plotly_chart")}
    return {**specs, **live_chart.shown(at)}


def chart_problems(at) -> list[str]:
    """Problems (see ``figure_problems``) in every Plotly chart the app currently shows."""
    problems = []
    for key, spec in chart_specs(at).items():
        problems += figure_problems(spec, key)
    return problems


# -- memory -------------------------------------------------------------------------------------
def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _hwm_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


class PeakRSS:
    """``with PeakRSS() as peak: ...``; then ``peak.growth`` is the peak RSS above the start.

    Resets the kernel's high-water mark (``/proc/self/clear_refs``) when allowed, and also samples
    RSS every 2 ms, so a short spike is seen either way.
    """

    def __enter__(self) -> PeakRSS:
        self.start = rss_bytes()
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self._hwm = True
        except OSError:
            self._hwm = False
        self._peak = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.002):
            self._peak = max(self._peak, rss_bytes())

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        peak = max(self._peak, rss_bytes())
        if self._hwm:
            peak = max(peak, _hwm_bytes())
        self.growth = peak - self.start


# -- a real server --------------------------------------------------------------------------------
def require_browser() -> None:
    import pytest

    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but no Chromium at {CHROMIUM}; "
                        "install it with: apt-get install -y chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``streamlit run app.py`` on 127.0.0.1:port, with the job monitor (see the module doc)."""

    def __init__(self, status_file: Path, port: int | None = None, env: dict | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.status_file = Path(status_file)
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log = self.status_file.with_suffix(".log")

    def start(self, timeout: float = 90.0) -> Server:
        self.status_file.unlink(missing_ok=True)
        log = open(self.log, "ab")  # noqa: SIM115 (kept open for the child's lifetime)
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", "app.py",
             "--server.headless", "true", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             # No file watcher: edits elsewhere in the tree must not rerun or slow the server.
             "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**self.env, "FLOWCORE_TEST_STATUS": str(self.status_file)},
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200 and self.status_file.exists():
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.kill()
        raise RuntimeError(f"streamlit did not become healthy within {timeout:.0f} s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def jobs(self) -> list[dict[str, Any]]:
        """The server's live training jobs (state, step, lr), as its monitor last wrote them."""
        return self.monitor()["jobs"]

    def monitor(self) -> dict[str, Any]:
        for _ in range(50):
            with contextlib.suppress(OSError, ValueError):
                return json.loads(self.status_file.read_text())
            time.sleep(0.05)
        raise RuntimeError("cannot read the server's monitor file")

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


# -- a page in the browser ------------------------------------------------------------------------
def button(page, key: str):
    """The button inside the element with the stable ``key``."""
    return page.locator(f".st-key-{key} button").first


def click(page, key: str) -> None:
    """Click a control once it is enabled. The check and the click are one step in the page: on
    a busy machine a rerun could otherwise disable the button between a Playwright check and
    its click, which then does nothing (seen once in a loop of the four-session test at load 9:
    a Train click that started nothing). Playwright's own click also waits for the button to
    stand still, which live charts redrawing around it can delay past any timeout."""
    # The page reruns once when the tab's token arrives (dashboard/tab.py): click after it.
    page.locator(".st-key-tab-ready").first.wait_for(state="attached", timeout=60_000)
    page.wait_for_function(
        f"() => {{ const b = document.querySelector('.st-key-{key} button');"
        f" if (!b || b.disabled) return false; b.click(); return true; }}", timeout=60_000)


def page_status(page) -> str:
    """The status line's text."""
    return page.locator(".st-key-status").first.inner_text(timeout=60_000)


def step_in(text: str) -> int:
    """The step count in a status line."""
    match = re.search(r"step ([\d,]+)", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def wait_status(page, word: str, timeout: float = 60.0, label: str = "") -> str:
    """Wait until the status line shows ``word``; return it."""
    deadline = time.monotonic() + timeout
    while True:
        text = page_status(page)
        if word in text or time.monotonic() > deadline:
            assert word in text, f"{label} still shows {text!r} after {timeout:g} s"
            return text
        time.sleep(0.3)


def page_errors(page) -> list[str]:
    """The texts of every exception and error box on the page."""
    return page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]') \
        .all_inner_texts()


def wait_for(predicate, timeout: float, every: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return predicate()


def _monitor(path: str) -> None:
    """Write this process's live jobs and RSS to ``path`` (atomically) every 0.2 s."""
    from flowcore.job import live_jobs

    tmp = f"{path}.tmp"
    while True:
        jobs = []
        for job in live_jobs():
            jobs.append({"id": id(job), "state": job.state, "step": job.trainer.step_count,
                         "lr": job.trainer.base_lr, "seed": job.trainer.config.seed,
                         "budget": job.trainer.config.steps,
                         "idle_timeout": job.idle_timeout})
        record = {"time": time.time(), "pid": os.getpid(), "rss": rss_bytes(),
                  "threads": threading.active_count(), "jobs": jobs}
        with open(tmp, "w") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)
        time.sleep(0.2)


def _serve(argv: list[str]) -> None:
    import faulthandler

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # kill -USR1 <pid>: stacks to the log
    path = os.environ["FLOWCORE_TEST_STATUS"]
    threading.Thread(target=_monitor, args=(path,), name="test-monitor", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", *argv]
    sys.exit(cli.main())


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "serve":
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    _serve(sys.argv[2:])
