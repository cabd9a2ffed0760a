"""The Inside page's figures (issue 13, item 11): one still per frame with no controls of its
own, a data-sized square box shared by all frames, frame titles that say which step led there and
its log-det (none at a direction's start), the grid's colour bar beside the panel it colours, and
truth and model at one colour scale and equal aspect."""

import math
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from helpers import perturbed_flow

from flowcore import analysis, plots


def _blobs(n: int = 600, seed: int = 0) -> np.ndarray:
    """Eight tight blobs on a ring, far from the origin in data units."""
    rng = np.random.default_rng(seed)
    angle = rng.integers(0, 8, n) * math.pi / 4
    ring = np.column_stack([np.cos(angle), np.sin(angle)]) * 3.0 + [10.0, -4.0]
    return ring + 0.2 * rng.normal(size=(n, 2))


def _flow(arch: str = "realnvp", data: np.ndarray | None = None, layers: int = 3):
    flow = perturbed_flow(arch, layers=layers, scale=0.2)
    if data is not None:
        flow.set_standardisation(torch.as_tensor(data.mean(0)), torch.as_tensor(data.std(0)))
    return flow


def _numbers(text: str) -> list[float]:
    return [float(v.replace("−", "-")) for v in re.findall(r"[+−-]\d+\.\d{3}", text)]


def _points(frame: go.Frame) -> np.ndarray:
    return np.column_stack([frame.data[0].x, frame.data[0].y])


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_the_box_is_square_shared_and_sized_by_the_data(direction):
    data = _blobs()
    flow = _flow(data=data)
    fig = (plots.layers_figure(flow, data) if direction == "forward"
           else plots.pull_back_figure(flow, n=800))
    (x_lo, x_hi), (y_lo, y_hi) = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert x_hi - x_lo == pytest.approx(y_hi - y_lo)  # square
    assert fig.layout.yaxis.scaleanchor == "x"
    # equal aspect shrinks the plot area instead of widening the x range of a wide chart
    assert fig.layout.xaxis.constrain == fig.layout.yaxis.constrain == "domain"
    every = np.concatenate([_points(frame) for frame in fig.frames])
    inside = ((every[:, 0] >= x_lo) & (every[:, 0] <= x_hi)
              & (every[:, 1] >= y_lo) & (every[:, 1] <= y_hi))
    assert inside.mean() > 0.99
    # ... and not much bigger than the points: the widest frame's 1–99% span fills most of it
    spans = [np.ptp(np.quantile(_points(frame), [0.01, 0.99], axis=0), axis=0).max()
             for frame in fig.frames]
    assert max(spans) > 0.6 * (x_hi - x_lo)
    # the page's still of any frame keeps the same box
    still = plots.show_frame(fig, fig.frames[-1].name)
    assert still.layout.xaxis.range == fig.layout.xaxis.range


def test_the_box_follows_points_off_centre():
    fig = plots.layers_figure(_flow(data=None), _blobs())  # not standardised: centred at (10, -4)
    (x_lo, x_hi), (y_lo, y_hi) = fig.layout.xaxis.range, fig.layout.yaxis.range
    start = _points(fig.frames[0])
    assert x_lo < start[:, 0].min() and start[:, 0].max() < x_hi
    assert y_lo < start[:, 1].min() and start[:, 1].max() < y_hi
    assert x_hi - x_lo < 12  # a ring of radius 3 in a box, not ±14 around the origin


def test_forward_frames_give_the_log_det_of_the_step_into_them():
    data = _blobs(300)
    flow = _flow(data=data, layers=3)
    fig = plots.layers_figure(flow, data)
    means = [mean for _, mean in analysis.mean_layer_log_dets(flow, data)]
    titles = [frame.layout.title.text for frame in fig.frames]
    assert "standardis" in titles[0] and "same for every point" in titles[0]
    for title, mean in zip(titles, means, strict=True):
        assert _numbers(title.split("<br>")[1]) == [pytest.approx(mean, abs=1e-3)]
    assert titles[1].startswith("layer 1") and "→  z" in titles[-1]
    assert plots.frame_labels(fig) == ["standardised x", "layer 1", "layer 2", "layer 3 → z"]


def test_pull_back_starts_at_z_without_a_step_and_undoing_has_minus_the_layers_log_det():
    flow = _flow(layers=3)
    fig = plots.pull_back_figure(flow, n=400, seed=2)
    z, x = analysis.pull_back_samples(flow, n=400, seed=2)
    means = [mean for _, mean in analysis.mean_layer_log_dets(flow, x)]
    titles = [frame.layout.title.text for frame in fig.frames]
    assert titles[0].startswith("z ~ N(0, I)")
    assert "no step" in titles[0] and not _numbers(titles[0])  # the start has no log-det
    for title, undone in zip(titles[1:], [3, 2, 1], strict=True):
        assert title.startswith(f"undo layer {undone}")
        assert _numbers(title.split("<br>")[1]) == [pytest.approx(-means[undone], abs=1e-3)]
    assert "standardised x" in titles[-1]
    assert plots.frame_labels(fig) == ["z", "undo layer 3", "undo layer 2", "undo layer 1 → x"]
    np.testing.assert_allclose(_points(fig.frames[0]), z, atol=1e-5)


def test_the_page_still_has_no_controls_of_its_own_and_the_download_keeps_them():
    data = _blobs(200)
    fig = plots.layers_figure(_flow(data=data), data)
    assert fig.layout.sliders and fig.layout.updatemenus and len(fig.frames) == 4
    still = plots.show_frame(fig, "2: affine coupling")
    assert len(still.frames) == 0 and not still.layout.sliders and not still.layout.updatemenus
    np.testing.assert_array_equal(_points(still), _points(fig.frames[2]))
    assert still.layout.title.text == fig.frames[2].layout.title.text
    assert len(fig.frames) == 4 and fig.layout.sliders  # the original is untouched


def test_grid_latent_panel_has_only_lines_and_the_colour_bar_is_by_the_heatmap():
    fig = plots.grid_deformation_figure(_flow(), (-3, 3, -3, 3), lines=8)
    latent = [trace for trace in fig.data if trace.xaxis == "x2"]
    assert latent and all(trace.mode == "lines" for trace in latent)  # no unexplained dots
    (heat,) = [trace for trace in fig.data if isinstance(trace, go.Heatmap)]
    assert heat.xaxis == "x" and heat.coloraxis == "coloraxis"
    bar = fig.layout.coloraxis.colorbar
    assert fig.layout.xaxis.domain[1] < bar.x < fig.layout.xaxis2.domain[0]
    assert bar.xanchor == "left"
    # the latent panel is square: its z₁ range is not widened to fill a wide chart
    assert fig.layout.xaxis2.range == fig.layout.yaxis2.range
    assert fig.layout.xaxis2.constrain == fig.layout.yaxis2.constrain == "domain"


def _normal(x: np.ndarray) -> np.ndarray:
    return -0.5 * (x**2).sum(1) - math.log(2 * math.pi)


def test_truth_and_model_share_one_colour_scale_and_equal_aspect():
    flow = _flow()
    fig = plots.truth_figure(flow, _normal, (-4, 4, -2, 2), resolution=30)
    truth, model, _ = fig.data
    assert truth.coloraxis == model.coloraxis == "coloraxis"  # one scale, one range, one bar
    assert fig.layout.coloraxis.cmin < fig.layout.coloraxis.cmax
    for axis in ("xaxis", "xaxis2", "xaxis3"):
        assert fig.layout[axis].scaleanchor == "y" and fig.layout[axis].scaleratio == 1
        assert fig.layout[axis].constrain == "domain"
        assert list(fig.layout[axis].range) == [-4, 4]
    assert list(fig.layout.yaxis.range) == [-2, 2]
    square = plots.truth_figure(flow, _normal, (-4, 4, -4, 4), resolution=10)
    assert fig.layout.height < square.layout.height  # a wide box makes a lower figure
