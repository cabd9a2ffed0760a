"""A real dataset in Chromium (issue 14), as a person does it: pick iris in the sidebar's menu,
train, and see the corner plots, the baselines on the NLL chart and the pair's marginal."""

import time

import pytest
from app_helpers import click, page_errors, page_status, step_in, wait_for

import flowcore as fc

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("float32")]


def _pick_from_menu(page, key: str, label: str) -> None:
    """Open the selectbox ``key``, type the start of ``label``, click the option showing it."""
    box = page.locator(f".st-key-{key} input[role=combobox]").first
    box.click()
    box.fill(label.split(" ")[0])
    page.get_by_role("option", name=label, exact=True).click(timeout=10_000)
    page.wait_for_function(
        f"() => document.querySelector('.st-key-{key} input[role=combobox]')?.value"
        f" === {label!r}", timeout=30_000)


def _texts(page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_text_contents()]


AXIS_TITLES_JS = """(plot) => Object.entries(plot.layout)
    .filter(([name, axis]) => /^xaxis\\d*$/.test(name) && axis.title && axis.title.text)
    .sort(([a], [b]) => (parseInt(a.slice(5)) || 1) - (parseInt(b.slice(5)) || 1))
    .map(([, axis]) => axis.title.text)"""


def _axis_titles(page, key: str) -> list[str]:
    """The titled x-axes of the chart keyed ``key``, as the browser's Plotly holds them."""
    return page.locator(f".st-key-{key} .js-plotly-plot").first.evaluate(AXIS_TITLES_JS)


def test_iris_from_the_menu_trains_and_draws_its_corner_plot(server, browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1400})
    page = context.new_page()
    try:
        page.goto(f"{server.url}/?seed=21&layers=2&hidden=16&steps=1000000")
        page_status(page)
        page.locator(".st-key-tab-ready").first.wait_for(state="attached", timeout=60_000)
        iris = fc.datasets.get("iris")
        _pick_from_menu(page, "dataset", f"iris (real data, {iris.dim}-D)")
        page.wait_for_function("() => location.search.includes('dataset=iris')", timeout=30_000)
        corner = page.locator(".st-key-corner .js-plotly-plot").first
        corner.wait_for(timeout=60_000)
        assert not page.locator(".st-key-density").count(), "the 2-D heatmap is for d = 2 only"

        # A real table is fixed data: the sidebar takes the recipe adapted to its rows, and
        # says so (its schedule is short: 320 passes over iris's 120 training rows).
        assert page.get_by_text("Settings adapted to this data").count()
        click(page, "train")
        assert wait_for(lambda: step_in(page_status(page)) >= 30, timeout=90)
        time.sleep(4)  # past a refresh of the slow fragments, with trained weights
        if "running" in page_status(page):
            click(page, "pause")
            # The 320-step schedule can end between the look and the click: then it finished.
            assert wait_for(lambda: any(word in page_status(page)
                                        for word in ("paused", "finished")), timeout=60), \
                page_status(page)
        page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')",
                               timeout=60_000)

        # iris has 4 columns: the corner plot shows them all, named, data against the model.
        assert _axis_titles(page, "corner") == list(iris.columns)
        legend = _texts(page, ".st-key-corner .legendtext")
        assert legend == ["training data", "model"], legend
        assert _axis_titles(page, "latent-corner") == ["z1", "z2", "z3", "z4"]
        marginal = " ".join(_texts(page, ".st-key-marginal .gtitle"))
        assert "estimated from" in marginal and iris.columns[0] in marginal, marginal
        nll = " ".join(_texts(page, ".st-key-nll .legendtext"))
        assert "Gaussian (full covariance): test" in nll and "KDE" in nll, nll
        assert page.get_by_text("trains on the").count(), "the split line names the device"
        assert not page_errors(page)
    finally:
        context.close()
