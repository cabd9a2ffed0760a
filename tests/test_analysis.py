"""flowcore.analysis (one layer at one point, masks, per-layer log-dets, panel data) and the
inside views of flowcore.plots built on it (frames, the pull-back, the click grid)."""

import base64

import numpy as np
import pytest
import torch
from helpers import ARCHS, perturbed_flow

from flowcore import analysis, plots

POINT = [0.4, -0.7]


def values(array) -> np.ndarray:
    """A Plotly array as NumPy (the figure may hold a typed-array dict or a NumPy array)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def test_coupling_masks_alternate_and_skip_layers_without_a_mask():
    realnvp = analysis.coupling_masks(perturbed_flow("realnvp", layers=3))
    assert [m.layer for m in realnvp] == [1, 2, 3]
    assert [m.mask.tolist() for m in realnvp] == [[1, 0], [0, 1], [1, 0]]
    glow = analysis.coupling_masks(perturbed_flow("glow", layers=2))
    assert [(m.layer, m.label) for m in glow] == [(3, "affine coupling"), (6, "affine coupling")]
    assert [m.label for m in analysis.coupling_masks(perturbed_flow("nsf"))] == [
        "spline coupling"] * 4
    assert analysis.coupling_masks(perturbed_flow("maf")) == []


def test_affine_coupling_at_a_point_follows_the_notes():
    flow = perturbed_flow("realnvp", layers=4, scale=0.3)
    for k in range(1, 5):
        step = analysis.layer_at_point(flow, k, POINT)
        b, u, s, t = step.mask, step.input, step.scale, step.shift
        assert np.all(s[b == 1] == 0) and np.all(t[b == 1] == 0)  # passed through untouched
        assert np.abs(s).max() > 1e-3  # a perturbed layer does something
        np.testing.assert_allclose(step.output, u * np.exp(s) + t, rtol=1e-12)
        assert step.log_det == pytest.approx(s.sum(), abs=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_layer_steps_chain_and_their_log_dets_sum_to_the_flows(arch):
    flow = perturbed_flow(arch, layers=2)
    info = analysis.point_inspection(flow, POINT)
    previous = (np.asarray(POINT) - flow.loc.numpy()) / flow.scale.numpy()
    total = -np.log(flow.scale.numpy()).sum()
    for k in range(1, len(flow.layers) + 1):
        step = analysis.layer_at_point(flow, k, POINT)
        np.testing.assert_allclose(step.input, previous, rtol=1e-12, atol=1e-12)
        previous = step.output
        total += step.log_det
    np.testing.assert_allclose(previous, info.z, rtol=1e-12, atol=1e-12)
    assert total == pytest.approx(info.log_det, abs=1e-10)


def test_only_affine_coupling_layers_report_s_and_t():
    spline = analysis.layer_at_point(perturbed_flow("nsf"), 1, POINT)
    assert spline.mask is not None and spline.scale is None and spline.shift is None
    maf = analysis.layer_at_point(perturbed_flow("maf"), 1, POINT)
    assert maf.mask is None and maf.scale is None
    assert maf.label == "autoregressive affine"


@pytest.mark.parametrize("layer", [0, 5, 1.5, True])
def test_layer_at_point_rejects_a_bad_layer_by_name(layer):
    with pytest.raises(ValueError, match=r"layer=.* whole number in \[1, 4\]"):
        analysis.layer_at_point(perturbed_flow("realnvp"), layer, POINT)


def test_layer_at_point_rejects_a_bad_point():
    with pytest.raises(ValueError, match="x_point must be 2 finite numbers"):
        analysis.layer_at_point(perturbed_flow("realnvp"), 1, [0.0, np.nan])


def test_mean_layer_log_dets_are_the_trace_means_ignoring_broken_rows():
    flow = perturbed_flow("realnvp", layers=2)
    x = np.random.default_rng(0).normal(size=(50, 2))
    means = analysis.mean_layer_log_dets(flow, np.vstack([x, [[np.nan, 0.0]]]))
    steps = flow.trace(torch.as_tensor(x))
    assert [name for name, _ in means] == [step.name for step in steps]
    for (_, mean), step in zip(means, steps, strict=True):
        assert mean == pytest.approx(step.log_det.mean().item(), abs=1e-12)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        analysis.mean_layer_log_dets(flow, np.zeros((3, 3)))


def test_show_frame_moves_points_title_and_slider_and_leaves_the_original():
    flow = perturbed_flow("realnvp", layers=3)
    fig = plots.layers_figure(flow, np.random.default_rng(1).normal(size=(80, 2)))
    before = values(fig.data[0].x).copy()
    shown = plots.show_frame(fig, "2: affine coupling")
    frame = fig.frames[2]
    np.testing.assert_array_equal(values(shown.data[0].x), values(frame.data[0].x))
    np.testing.assert_array_equal(values(shown.data[0].y), values(frame.data[0].y))
    assert shown.layout.title.text == frame.layout.title.text
    assert not shown.layout.sliders and len(shown.frames) == 0 and len(fig.frames) == 4
    np.testing.assert_array_equal(values(fig.data[0].x), before)
    with pytest.raises(ValueError, match="name must be one of the figure's frames"):
        plots.show_frame(fig, "9: nothing")


@pytest.mark.parametrize("arch", ["realnvp", "glow"])
def test_pull_back_runs_from_z_to_standardised_samples(arch):
    flow = perturbed_flow(arch, layers=2)
    fig = plots.pull_back_figure(flow, n=200, seed=3)
    forward_names = [step.name for step in flow.trace(torch.zeros(1, 2))]
    assert [frame.name for frame in fig.frames] == forward_names[::-1]
    z = torch.randn(200, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    first = np.column_stack([values(fig.frames[0].data[0].x), values(fig.frames[0].data[0].y)])
    np.testing.assert_allclose(first, z.numpy(), atol=1e-5)  # float32 in the figure
    x = flow.inverse(z).detach()
    standardised = ((x - flow.loc) / flow.scale).numpy()
    last = np.column_stack([values(fig.frames[-1].data[0].x), values(fig.frames[-1].data[0].y)])
    np.testing.assert_allclose(last, standardised, atol=1e-4)
    assert fig.layout.title.text.startswith("z ~ N(0, I)")
    assert "→  standardised x" in fig.frames[-1].layout.title.text
    np.testing.assert_allclose(values(fig.data[0].marker.color),
                               plots.direction_colour(z.numpy()), atol=1e-6)
    assert [step.label for step in fig.layout.sliders[0].steps][0] == "z"


def test_clickable_density_adds_a_grid_of_targets_and_marks_the_point():
    flow = perturbed_flow("realnvp", layers=2)
    bounds = (-2.0, 3.0, -1.0, 1.0)
    plain = plots.density_figure(flow, bounds=bounds, resolution=30)
    fig = plots.clickable_density_figure(flow, bounds=bounds, resolution=30,
                                                point=POINT, targets=12)
    np.testing.assert_array_equal(values(fig.data[0].z), values(plain.data[0].z))
    targets = fig.data[-1]
    assert targets.name == "click targets" and targets.marker.opacity == 0
    tx, ty = values(targets.x), values(targets.y)
    assert len(tx) == 144 and tx.min() > -2 and tx.max() < 3 and ty.min() > -1 and ty.max() < 1
    marker = fig.data[-2]
    assert marker.name == "inspected point"
    np.testing.assert_allclose([values(marker.x)[0], values(marker.y)[0]], POINT, rtol=1e-6)
    assert fig.layout.clickmode == "event+select"


def test_panel_data_is_the_first_points_their_push_forward_and_seeded_samples():
    flow = perturbed_flow("realnvp")
    data = np.random.default_rng(0).normal(size=(30, 2))
    panels = analysis.panel_data(flow, data, n=20, seed=4)
    assert all(a.dtype == np.float32 and a.shape == (20, 2) for a in panels)
    np.testing.assert_allclose(panels.data, data[:20], rtol=1e-6)
    z, _ = flow(torch.as_tensor(data[:20]))
    np.testing.assert_allclose(panels.z, z.detach().numpy(), rtol=1e-5, atol=1e-6)
    again = analysis.panel_data(flow, None, n=20, seed=4)
    assert again.data is None and again.z is None
    np.testing.assert_array_equal(again.samples, panels.samples)
