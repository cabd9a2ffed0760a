r"""The live Train panels' charts: one Plotly chart per panel, updated in place.

``st.plotly_chart`` (Streamlit 1.67) gives a chart an element id that hashes its figure, so each
new figure of a live panel mounted a new chart in the browser (a new div and a full
``Plotly.newPlot``). This component (``st.components.v2``, JS in ``assets/live_chart.js``) keeps
one chart per panel, keyed so its element id stays the same, and hands each new figure to
``Plotly.react`` on the same div. Side by side in Chromium while the seed preset trained (3
rounds, 1-min load 1.9-3.9): new data in the samples, latent and NLL panels 5.4 times in 10 s with
st.plotly_chart (every one a new div), 9.7-9.8 with this (no new div); greyed as stale 9.9% of
the time against 0%. It looks as before: ``streamlitLook`` in the JS gives the figures the theme
st.plotly_chart gave them.

plotly.js is the plotly package's own ``package_data/plotly.min.js``, served by Streamlit's
component asset route (``/_stcore/bidi-components/<name>/<file>``); the browser fetches it once
per page, never with a figure. Both asset folders are declared to Streamlit here, as an installed
package's ``pyproject.toml`` would declare them.

What AppTest sees: a ``bidi_component`` element keyed ``<name>-chart`` whose data is
``{"figure": <the figure's JSON, as st.plotly_chart would send it>, "config": ...}``;
:func:`shown` reads them.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import plotly
import plotly.io
import streamlit as st
from streamlit.components.v2.get_bidi_component_manager import get_bidi_component_manager
from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

from dashboard.views import png_config

PACKAGE = "flow_playground"
CHART = f"{PACKAGE}.live_chart"  # its JS: assets/live_chart.js
PLOTLY = f"{PACKAGE}.plotly"  # only serves plotly.min.js to the chart's JS
#: (component, package root, asset folder under it)
_ASSETS = ((CHART, Path(__file__).parent, "assets"),
           (PLOTLY, Path(plotly.__file__).parent, "package_data"))
ELEMENT = "bidi_component"  # AppTest's name for the element

def _declare_assets() -> None:
    """Declare the asset folders to the running Streamlit (each runtime has its own registry:
    AppTest makes one per app) before a chart is mounted."""
    manager = get_bidi_component_manager()
    for name, root, folder in _ASSETS:
        if manager.get_component_path(name) is None:
            package, component = name.split(".")
            manager.register_from_manifest(
                ComponentManifest(name=package, version="1",
                                  components=[ComponentConfig(name=component, asset_dir=folder)]),
                root)


@functools.cache
def _component():
    """The mounting function, made once the assets are declared. Not isolated in a shadow root:
    the chart stays in the page's DOM, where tests and the benchmark's probe find it."""
    return st.components.v2.component(CHART, js="live_chart.js", isolate_styles=False)


def live_chart(name: str, fig) -> None:
    """Draw ``fig`` in the live chart keyed ``<name>-chart``, updating the chart in place when
    it is already on the page."""
    _declare_assets()
    _component()(key=f"{name}-chart",
                 data={"figure": plotly.io.to_json(fig, validate=False),
                       "config": png_config(name)})


def shown(at) -> dict[str, str]:
    """The live charts an AppTest app shows: their keys (``<name>-chart``) and the figure JSON
    each was given, the same JSON ``st.plotly_chart`` would carry in its ``spec``. The seam the
    app's tests read: AppTest cannot run the component's JS, but it keeps the data sent to it."""
    return {e.key: json.loads(e.proto.json)["figure"] for e in at.get(ELEMENT)
            if e.proto.component_name == CHART}
