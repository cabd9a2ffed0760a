"""What a newcomer tripped over (issue 13), driven in Chromium as a person does: the sidebar is
always the run's, nothing is lost on a reload, downloads work mid-run, and a run with no steps
takes new settings at once.

Each test first reproduced its bug on the old layout (every page drew its own sidebar, the run
lived only as long as the browser session); they pass on the layout where app.py draws the
sidebar once and a tab's run is kept under the tab's own token.
"""

import time
from urllib.parse import parse_qs, urlparse

import pytest
from app_helpers import (
    button,
    click,
    page_errors,
    page_status,
    step_in,
    wait_for,
    wait_status,
)

import flowcore as fc

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("float32")]


def _open(browser, url: str, console: list[str] | None = None):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    if console is not None:
        page.on("console", lambda msg: console.append(msg.text))
    page.goto(url)
    page_status(page)  # the Train page has drawn
    return context, page


def _choose(page, key: str, option: str) -> None:
    """Pick ``option`` in the selectbox keyed ``key``, as a person does: open it, click it."""
    # Typed and confirmed with Enter: a mouse click on the list's option can land on the
    # slider under the closing list too.
    box = page.locator(f".st-key-{key} input[role=combobox]").first
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).wait_for(timeout=10_000)
    box.press("Enter")
    page.wait_for_function(
        f"() => document.querySelector('.st-key-{key} input[role=combobox]')?.value"
        f" === {option!r}", timeout=30_000)


def _selected(page, key: str) -> str:
    return page.locator(f".st-key-{key} input[role=combobox]").first.input_value()


def _go(page, title: str) -> None:
    """Click a page link in the sidebar's navigation and wait for the page to settle."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    time.sleep(0.5)


def _server_job(server, seed: int) -> dict:
    jobs = [j for j in server.jobs() if j["seed"] == seed]
    assert len(jobs) == 1, server.jobs()
    return jobs[0]


def test_page_switches_keep_the_settings_and_the_jobs_learning_rate(server, browser):
    context, page = _open(browser, server.url)
    try:
        _choose(page, "preset", "Best quality")
        _choose(page, "dataset", "8gaussians")
        page.wait_for_function("() => location.search.includes('dataset=8gaussians')")
        click(page, "train")
        wait_status(page, "running")
        for title in ("Model", "Train", "Inside the flow", "Compare", "Learn", "Train"):
            _go(page, title)
            assert _selected(page, "arch") == "Neural spline flow", title
            assert _selected(page, "dataset") == "8gaussians", title
            assert _selected(page, "preset") == "Best quality", title
            query = parse_qs(urlparse(page.url).query)
            assert query["arch"] == ["nsf"] and query["lr"] == ["0.003"], (title, query)
            jobs = server.jobs()  # the first test: the server's only job (the preset's seed)
            assert [job["lr"] for job in jobs] == [pytest.approx(3e-3)], (title, jobs,
                                                                          page_status(page))
        assert not page.get_by_text("You changed settings").count()
        assert not page_errors(page)
    finally:
        context.close()


def test_choosing_upload_while_training_keeps_the_page(server, browser):
    console: list[str] = []
    context, page = _open(browser, f"{server.url}/?seed=12&layers=2&hidden=16", console)
    try:
        click(page, "train")
        wait_status(page, "running")
        _choose(page, "dataset", "your data (upload)")
        page.locator(".st-key-upload-data").first.wait_for(timeout=30_000)
        time.sleep(3)  # several fragment refreshes of the live panels
        assert "running" in page_status(page)
        assert button(page, "pause").is_visible() and page.locator(".st-key-nll").is_visible()
        assert not [m for m in console if "setIn" in m or "disconnected" in m], console
        assert not page_errors(page)
    finally:
        context.close()


def test_a_reload_keeps_the_tabs_run_and_a_shared_link_gets_a_fresh_one(server, browser):
    url = f"{server.url}/?seed=13&layers=2&hidden=16&steps=1000000"
    context, page = _open(browser, url)
    try:
        click(page, "train")
        assert wait_for(lambda: step_in(page_status(page)) >= 20, timeout=60)
        before = step_in(page_status(page))
        page.reload()  # while training: the run comes back and goes on training
        wait_status(page, "running", label="the tab reloaded while training")
        assert wait_for(lambda: step_in(page_status(page)) > before, timeout=60)
        click(page, "pause")
        held = step_in(wait_status(page, "paused"))
        page.reload()
        text = wait_status(page, "paused", label="the reloaded tab")
        assert step_in(text) == held
        # The tab sent its token once; once the server knows it, the tab stops asking (it asks
        # again every 3 s only while the server does not).
        time.sleep(7)
        assert page.evaluate("window.flowPlaygroundTabSends") == 1
        # The same URL in another browser: a fresh run of its own, the first one untouched.
        other, second = _open(browser, page.url)
        try:
            text = wait_status(second, "idle", label="another browser")
            assert step_in(text) == 0
        finally:
            other.close()
        assert step_in(page_status(page)) == held
    finally:
        context.close()


def test_download_model_while_training_works_every_time(server, browser, tmp_path):
    context, page = _open(browser, f"{server.url}/?seed=14&layers=2&hidden=16&steps=1000000")
    # What the browser asked of the file server, so a failure names its cause (a 404 means the
    # file was dropped while the button still pointed at it).
    media: list[str] = []
    page.on("response", lambda r: "/media/" in r.url and media.append(
        f"{time.monotonic():.2f} {r.status} {r.url.rsplit('/', 1)[-1][:12]}"))
    page.on("requestfailed", lambda r: "/media/" in r.url and media.append(
        f"{time.monotonic():.2f} failed {r.failure} {r.url.rsplit('/', 1)[-1][:12]}"))
    try:
        click(page, "train")
        wait_status(page, "running")
        durations = []
        for i in range(10):
            started = time.monotonic()
            with page.expect_download(timeout=30_000) as download:
                button(page, "download-model").click()
            failure = download.value.failure()
            assert failure is None, (f"download {i} at {started:.2f}: {failure}; "
                                     f"file server: {media[-6:]}")
            path = tmp_path / f"model-{i}.safetensors"
            download.value.save_as(path)
            durations.append(time.monotonic() - started)
            assert fc.load(path).config.layers == 2
            time.sleep(0.7)
        print(f"download durations while training: {sorted(durations)}")
    finally:
        context.close()


def test_settings_apply_at_once_to_a_run_with_no_steps(server, browser):
    context, page = _open(browser, f"{server.url}/?seed=15")
    try:
        assert "/ 10,000 steps" in page.locator(".stProgress").first.inner_text()
        _choose(page, "preset", "Best quality")
        page.wait_for_function(
            "() => document.querySelector('.stProgress')?.innerText.includes('/ 20,000 steps')",
            timeout=30_000)
        assert not page.get_by_text("You changed settings").count()
        click(page, "train")
        wait_status(page, "running")
        assert [j["budget"] for j in server.jobs() if j["lr"] == 3e-3] == [20_000], server.jobs()
        click(page, "pause")
        wait_status(page, "paused")
        # With steps taken, a change waits for Reset and the preset menu says "Custom".
        page.locator(".st-key-layers input").first.fill("3")
        page.locator(".st-key-layers input").first.press("Enter")
        page.get_by_text("You changed settings").first.wait_for(timeout=30_000)
        assert _selected(page, "preset") == "Custom"
    finally:
        context.close()


def test_keyboard_shortcuts_drive_the_run(server, browser):
    context, page = _open(browser, f"{server.url}/?seed=16&layers=2&hidden=16&steps=1000000")
    try:
        page.wait_for_function("() => window.flowPlaygroundShortcuts === true", timeout=60_000)
        page.locator(".st-key-tab-ready").first.wait_for(state="attached", timeout=60_000)
        page.locator("h1").first.click()  # focus the page, not a field
        # A shortcut does what its button does, and nothing while the button is disabled (as
        # Streamlit disables every widget while the page reconnects, seen once at load 11).
        page.locator(".st-key-train button:enabled").first.wait_for(timeout=60_000)
        page.keyboard.press(" ")
        wait_status(page, "running", label="space")
        page.keyboard.press(" ")
        held = step_in(wait_status(page, "paused", label="space again"))
        page.keyboard.press("s")
        assert wait_for(lambda: step_in(page_status(page)) == held + 1, timeout=30)
        page.keyboard.press("r")
        assert wait_for(lambda: step_in(page_status(page)) == 0, timeout=30)
        # Typing in a field is typing, not a shortcut.
        page.locator(".st-key-warmup input").first.click()
        page.keyboard.press(" ")
        time.sleep(1.5)
        assert "idle" in page_status(page)
    finally:
        context.close()


def test_a_links_dataset_knob_is_what_the_slider_shows_and_the_run_uses(server, browser):
    context, page = _open(browser, f"{server.url}/?seed=17&dataset=circles&noise=0.12&layers=2")
    try:
        thumb = page.locator(".st-key-circles-noise input[type=range]").first
        assert float(thumb.input_value()) == pytest.approx(0.12)
        click(page, "train")
        wait_status(page, "running")
        time.sleep(3)  # fragment reruns must not send another value back
        assert float(thumb.input_value()) == pytest.approx(0.12)
        assert not page.get_by_text("You changed settings").count()
        assert "noise=0.12" in page.url
    finally:
        context.close()
