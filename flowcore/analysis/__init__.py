r"""What the dashboard shows about a flow, as numbers: no figures, no Streamlit.

- :mod:`~flowcore.analysis.evaluation`: batched ``f(x)`` and ``log p(x)``, the live panels'
  arrays (:func:`panel_data`), density grids (:func:`density_grid`, :func:`truth_grid`) and
  :func:`grid_deformation`;
- :mod:`~flowcore.analysis.layers`: per-layer traces (:func:`layer_frames`,
  :func:`pull_back_frames`, :func:`mean_layer_log_dets`), one point through the flow
  (:func:`point_inspection`, :func:`layer_at_point`) and :func:`coupling_masks`.

:mod:`flowcore.plots` draws these results. Conventions as everywhere: ``z = f(x)`` maps data to
latent, log-densities are in nats, and for ``dim > 2`` a 2-D grid is a slice through ``anchor``
(by default the data mean, ``flow.loc``) in the other coordinates.

Example:
    >>> import flowcore as fc
    >>> from flowcore import analysis
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    >>> info = analysis.point_inspection(flow, [0.5, -0.2])
    >>> round(info.log_p_z + info.log_det - info.log_p_x, 12)
    0.0
"""

from flowcore.analysis.evaluation import (
    EVAL_CHUNK,
    PANEL_POINTS,
    Bounds,
    GridDeformation,
    PanelData,
    TruthGrid,
    anchor_of,
    as_points,
    bounds_for,
    cell_centres,
    check_bounds,
    default_bounds,
    density_grid,
    finite_rows,
    grid_deformation,
    grid_points,
    log_prob,
    panel_data,
    push_forward,
    thin,
    truth_grid,
)
from flowcore.analysis.layers import (
    Frame,
    LayerMask,
    LayerStep,
    PointInspection,
    coupling_masks,
    layer_at_point,
    layer_frames,
    mean_layer_log_dets,
    point_inspection,
    pull_back_frames,
    pull_back_samples,
)

__all__ = [
    "EVAL_CHUNK",
    "PANEL_POINTS",
    "Bounds",
    "Frame",
    "GridDeformation",
    "LayerMask",
    "LayerStep",
    "PanelData",
    "PointInspection",
    "TruthGrid",
    "anchor_of",
    "as_points",
    "bounds_for",
    "cell_centres",
    "check_bounds",
    "coupling_masks",
    "default_bounds",
    "density_grid",
    "finite_rows",
    "grid_deformation",
    "grid_points",
    "layer_at_point",
    "layer_frames",
    "log_prob",
    "mean_layer_log_dets",
    "panel_data",
    "point_inspection",
    "pull_back_frames",
    "pull_back_samples",
    "push_forward",
    "thin",
    "truth_grid",
]
