r"""Plotly figures of a flow and its data, as pure functions (no Streamlit): figures only, drawn
from the numbers of :mod:`flowcore.analysis`.

- :mod:`~flowcore.plots.style`: the look every figure shares (colours, template, layout);
- :mod:`~flowcore.plots.density`: :func:`density_figure`, :func:`clickable_density_figure`,
  :func:`truth_figure`;
- :mod:`~flowcore.plots.panels`: the live panels :func:`samples_figure`, :func:`latent_figure`,
  :func:`nll_figure`, and :func:`compare_nll_figure`, :func:`data_preview_figure`,
  :func:`drawing_figure`;
- :mod:`~flowcore.plots.corner`: for d > 2, :func:`corner_figure`, :func:`latent_corner_figure`,
  :func:`marginal_density_figure`;
- :mod:`~flowcore.plots.inside`: :func:`layers_figure`, :func:`pull_back_figure`,
  :func:`show_frame`, :func:`frame_labels`, :func:`grid_deformation_figure`.

:func:`bounds_for` and :func:`density_grid` (from :mod:`flowcore.analysis`) are here too, since
every page that draws a density also frames it.

Example:
    >>> import flowcore as fc, numpy as np
    >>> from flowcore import plots
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    >>> data = np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32)
    >>> fig = plots.density_figure(flow, data, bounds=plots.bounds_for(data), resolution=50)
    >>> fig.layout.uirevision
    'density'
"""

from flowcore.analysis import bounds_for, density_grid
from flowcore.plots.corner import (
    MAX_CORNER_COLUMNS,
    corner_figure,
    latent_corner_figure,
    marginal_density_figure,
)
from flowcore.plots.density import (
    CLICK_TARGETS,
    clickable_density_figure,
    density_figure,
    truth_figure,
)
from flowcore.plots.inside import (
    frame_labels,
    grid_deformation_figure,
    layers_figure,
    pull_back_figure,
    show_frame,
)
from flowcore.plots.panels import (
    compare_nll_figure,
    data_preview_figure,
    drawing_figure,
    drawing_grid,
    drawn_weights,
    latent_figure,
    nll_figure,
    samples_figure,
)
from flowcore.plots.style import (
    LIVE_DENSITY_RESOLUTION,
    MAX_POINTS,
    direction_colour,
    floor_log_density,
)

__all__ = [
    "CLICK_TARGETS",
    "LIVE_DENSITY_RESOLUTION",
    "MAX_CORNER_COLUMNS",
    "MAX_POINTS",
    "bounds_for",
    "clickable_density_figure",
    "compare_nll_figure",
    "corner_figure",
    "data_preview_figure",
    "density_figure",
    "density_grid",
    "direction_colour",
    "drawing_figure",
    "drawing_grid",
    "drawn_weights",
    "floor_log_density",
    "frame_labels",
    "grid_deformation_figure",
    "latent_figure",
    "latent_corner_figure",
    "layers_figure",
    "marginal_density_figure",
    "nll_figure",
    "pull_back_figure",
    "samples_figure",
    "show_frame",
    "truth_figure",
]
