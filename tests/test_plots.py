"""The figures: right numbers in the right places, never NaN/inf, and small enough to stream."""

import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch
from helpers import ARCHS, perturbed_flow

import flowcore as fc
from flowcore import analysis, datasets, plots
from flowcore.plots import style


def _moons(n: int = 2000, seed: int = 0) -> np.ndarray:
    """Two interleaved half circles with noise, float32 like the datasets module's samples."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, math.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return (np.column_stack([x, y]) + 0.05 * rng.normal(size=(n, 2))).astype(np.float32)


def _fitted_flow(arch: str = "realnvp", dim: int = 2, data: np.ndarray | None = None,
                 **kw) -> fc.Flow:
    flow = perturbed_flow(arch, dim, **kw)
    if data is not None:
        flow.set_standardisation(torch.as_tensor(data.mean(0)), torch.as_tensor(data.std(0)))
    return flow


def _numbers(obj):
    """Every number in a figure's JSON-ready dict: arrays and scalars, at any depth."""
    if isinstance(obj, np.ndarray):
        if np.issubdtype(obj.dtype, np.number):
            yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _numbers(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            yield from _numbers(value)
    elif isinstance(obj, float):
        yield np.array([obj])


def assert_all_finite(fig: go.Figure) -> None:
    spec = fig.to_plotly_json()
    for array in _numbers(spec):
        assert np.isfinite(array).all()
    text = pio.to_json(fig, validate=False)
    assert "NaN" not in text and "Infinity" not in text


def assert_float32_arrays(trace, keys=("x", "y")) -> None:
    for key in keys:
        value = trace[key]
        assert isinstance(value, np.ndarray), f"{key} is {type(value).__name__}, not an array"
        assert value.dtype == np.float32


def _axis_titles(fig: go.Figure, axis: str = "") -> tuple[str, str]:
    return fig.layout[f"xaxis{axis}"].title.text, fig.layout[f"yaxis{axis}"].title.text


# -- density ---------------------------------------------------------------------------------------
def test_density_grid_integrates_to_one_on_wide_bounds():
    flow = _fitted_flow(scale=0.2)
    flow.set_standardisation(torch.tensor([0.5, -0.3]), torch.tensor([0.8, 1.2]))
    bounds = (0.5 - 8 * 0.8, 0.5 + 8 * 0.8, -0.3 - 8 * 1.2, -0.3 + 8 * 1.2)
    xs, ys, log_p = plots.density_grid(flow, bounds, resolution=200)
    assert xs.shape == ys.shape == (200,) and log_p.shape == (200, 200)
    assert xs.dtype == ys.dtype == log_p.dtype == np.float32
    cell = (bounds[1] - bounds[0]) / 200 * (bounds[3] - bounds[2]) / 200
    assert abs(np.exp(log_p.astype(np.float64)).sum() * cell - 1) < 5e-3
    # cell centres tile the box exactly
    assert xs[0] == pytest.approx(bounds[0] + (bounds[1] - bounds[0]) / 400, rel=1e-5)
    assert ys[-1] == pytest.approx(bounds[3] - (bounds[3] - bounds[2]) / 400, rel=1e-5)


def test_density_grid_rows_are_y_and_a_slice_sits_at_the_anchor():
    flow = _fitted_flow("nsf", dim=3)
    anchor = np.array([0.0, 0.0, 0.7])
    xs, ys, log_p = plots.density_grid(flow, (-2, 2, -1, 3), resolution=7, anchor=anchor)
    i, j = 5, 2  # log_p[i, j] is at (xs[j], ys[i])
    point = torch.tensor([[float(xs[j]), float(ys[i]), 0.7]])
    assert log_p[i, j] == pytest.approx(float(flow.log_prob(point).detach()), abs=1e-5)


def test_density_grid_works_for_a_float32_flow():
    flow = _fitted_flow("glow", dtype=torch.float32)
    _, _, log_p = plots.density_grid(flow, (-3, 3, -3, 3), resolution=20)
    assert np.isfinite(log_p).all()


@pytest.mark.parametrize("bounds", [(0, 1, 0), (1, 0, 0, 1), (0, 1, 0, math.nan)])
def test_bad_bounds_are_rejected_by_name(bounds):
    with pytest.raises(ValueError, match="bounds"):
        plots.density_grid(_fitted_flow(), bounds)


def test_bad_resolution_is_rejected_by_name():
    with pytest.raises(ValueError, match="resolution"):
        plots.density_grid(_fitted_flow(), (-1, 1, -1, 1), resolution=1)


def test_density_figure_log_and_linear_colours_and_labels():
    data = _moons()
    flow = _fitted_flow(data=data)
    log_fig = plots.density_figure(flow, data, resolution=40)
    lin_fig = plots.density_figure(flow, data, resolution=40, log_scale=False)
    heat, overlay = log_fig.data
    assert isinstance(heat, go.Heatmap) and heat.z.shape == (40, 40)
    assert_float32_arrays(heat, ("x", "y", "z"))
    assert_float32_arrays(overlay)
    assert overlay.mode == "markers" and overlay.marker.size <= 4
    np.testing.assert_allclose(lin_fig.data[0].z, np.exp(heat.z), rtol=1e-5)
    assert heat.colorbar.title.text == "log p(x)"
    assert lin_fig.data[0].colorbar.title.text == "p(x)"
    assert _axis_titles(log_fig) == ("x₁", "x₂")
    assert log_fig.layout.uirevision == lin_fig.layout.uirevision == "density"
    # the heatmap spans the data's bounds, and these are the axis ranges
    x_lo, x_hi, y_lo, y_hi = plots.bounds_for(data)
    assert tuple(log_fig.layout.xaxis.range) == pytest.approx((x_lo, x_hi))
    assert heat.x.min() > x_lo and heat.x.max() < x_hi
    assert "slice" not in log_fig.layout.title.text


def test_density_is_floored_twelve_nats_below_its_maximum():
    flow = _fitted_flow()
    fig = plots.density_figure(flow, bounds=(-30, 30, -30, 30), resolution=60)
    z = fig.data[0].z
    assert z.min() == pytest.approx(z.max() - style.LOG_DENSITY_DEPTH)


def test_density_figure_for_dim_above_two_is_a_slice_through_the_data_mean():
    rng = np.random.default_rng(1)
    data = (rng.normal(size=(500, 4)) + [0, 0, 3, -2]).astype(np.float32)
    flow = _fitted_flow("maf", dim=4, data=data)
    fig = plots.density_figure(flow, data, resolution=30)
    assert "slice through the data mean" in fig.layout.title.text
    assert "x₃…x₄" in fig.layout.title.text
    # the heatmap is log p at (x₁, x₂, mean of x₃, mean of x₄)
    heat = fig.data[0]
    mean = data.astype(np.float64).mean(0)
    point = torch.tensor([[float(heat.x[3]), float(heat.y[7]), mean[2], mean[3]]])
    assert heat.z[7, 3] == pytest.approx(float(flow.log_prob(point).detach()), abs=1e-4)


def test_density_figure_without_data_uses_the_standardisation_box():
    flow = _fitted_flow()
    flow.set_standardisation(torch.tensor([10.0, -5.0]), torch.tensor([2.0, 0.5]))
    fig = plots.density_figure(flow, resolution=20)
    assert len(fig.data) == 1
    assert tuple(fig.layout.xaxis.range) == pytest.approx((2.0, 18.0))
    assert tuple(fig.layout.yaxis.range) == pytest.approx((-7.0, -3.0))


def test_density_figure_is_finite_when_the_flow_has_nan_weights():
    data = _moons(300)
    flow = _fitted_flow(data=data)
    with torch.no_grad():
        for p in flow.parameters():
            p.fill_(math.nan)
    for log_scale in (True, False):
        fig = plots.density_figure(flow, data, resolution=30, log_scale=log_scale)
        assert_all_finite(fig)
        assert "not finite at 900 of 900" in fig.layout.title.text


def test_density_figure_is_finite_with_infinite_and_nan_log_probs(monkeypatch):
    flow = _fitted_flow()
    real = flow.log_prob

    def broken(x):
        out = real(x).clone()
        out[::3], out[1::7], out[2::11] = -math.inf, math.inf, math.nan
        return out

    monkeypatch.setattr(flow, "log_prob", broken)
    _, _, raw = plots.density_grid(flow, (-3, 3, -3, 3), resolution=30)
    assert not np.isfinite(raw).all()  # the raw grid is honest ...
    fig = plots.density_figure(flow, bounds=(-3, 3, -3, 3), resolution=30)
    assert_all_finite(fig)  # ... and the figure is displayable
    z = fig.data[0].z
    assert z.max() - z.min() <= style.LOG_DENSITY_DEPTH + 1e-4
    assert "⚠" in fig.layout.title.text


def test_floor_log_density_counts_and_replaces_non_finite_values():
    shown, bad = plots.floor_log_density(np.array([0.0, -5.0, -40.0, -np.inf, np.nan, np.inf]))
    assert bad == 3
    np.testing.assert_array_equal(shown, np.array([0, -5, -12, -12, -12, -12], np.float32))
    shown, bad = plots.floor_log_density(np.full(4, np.nan))
    assert bad == 4 and np.isfinite(shown).all()


def test_bounds_for_pads_the_first_two_coordinates_and_ignores_bad_rows():
    data = np.array([[0.0, 10.0, 99.0], [2.0, 14.0, -99.0], [np.nan, 1e9, 0.0]])
    assert plots.bounds_for(data, margin=0.25) == pytest.approx((-0.5, 2.5, 9.0, 15.0))
    assert plots.bounds_for(np.array([[1.0, 1.0]])) == pytest.approx((0.0, 2.0, 0.0, 2.0))
    with pytest.raises(ValueError, match="data"):
        plots.bounds_for(np.full((3, 2), np.inf))
    with pytest.raises(ValueError, match="shape"):
        plots.bounds_for(np.zeros(5))


# -- samples ---------------------------------------------------------------------------------------
def test_samples_figure_overlays_model_on_data_with_a_legend():
    data = _moons(500)
    samples = _moons(400, seed=3) + 0.1
    fig = plots.samples_figure(samples, data)
    by_name = {trace.name: trace for trace in fig.data}
    assert set(by_name) == {"data", "model"}
    assert by_name["data"].marker.color != by_name["model"].marker.color
    assert by_name["data"].xaxis == by_name["model"].xaxis  # same axes, overlaid
    for trace in fig.data:
        assert_float32_arrays(trace)
    np.testing.assert_array_equal(by_name["model"].x, samples[:, 0])
    assert _axis_titles(fig) == ("x₁", "x₂")
    assert fig.layout.uirevision == "samples"
    assert tuple(fig.layout.xaxis.range) == pytest.approx(plots.bounds_for(data)[:2])


def test_samples_figure_drops_non_finite_samples_and_uses_two_coordinates():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(300, 5)).astype(np.float32)
    samples = rng.normal(size=(300, 5)).astype(np.float32)
    samples[:10, 0], samples[10:20, 4] = np.nan, np.inf
    fig = plots.samples_figure(samples, data)
    assert_all_finite(fig)
    model = next(t for t in fig.data if t.name == "model")
    assert len(model.x) == 280
    np.testing.assert_array_equal(model.y, samples[20:, 1])
    assert "of 5 dims" in fig.layout.title.text and "20 of 300" in fig.layout.title.text


def test_scatter_panels_thin_large_inputs_deterministically():
    data = np.random.default_rng(0).normal(size=(50_000, 2)).astype(np.float32)
    first = plots.samples_figure(data, data)
    second = plots.samples_figure(data, data)
    assert all(len(t.x) == plots.MAX_POINTS for t in first.data)
    np.testing.assert_array_equal(first.data[0].x, second.data[0].x)


def test_samples_figure_without_data_shows_the_model_alone():
    samples = _moons(300)
    fig = plots.samples_figure(samples, None)
    assert [t.name for t in fig.data] == ["model"]
    assert fig.layout.xaxis.range is None  # autorange on the samples
    assert fig.layout.title.text == "samples from the model"


def test_data_preview_is_a_small_finite_scatter():
    data = _moons(500).astype(np.float64)
    data[0] = np.nan
    fig = plots.data_preview_figure(data)
    (trace,) = fig.data
    assert len(trace.x) == 499 and trace.x.dtype == np.float32
    assert fig.layout.height <= 250 and fig.layout.margin.t <= 30
    assert _axis_titles(fig) == ("x₁", "x₂")
    assert fig.layout.uirevision == "data-preview"
    assert_all_finite(fig)


# -- latent ----------------------------------------------------------------------------------------
def test_latent_figure_draws_sigma_circles_of_radius_one_two_three():
    data = _moons(800)
    flow = _fitted_flow(data=data)
    z = flow(torch.as_tensor(data, dtype=torch.float64))[0].detach().numpy()
    fig = plots.latent_figure(z, data)
    circles = [s for s in fig.layout.shapes if s.type == "circle"]
    radii = sorted((s.x1 - s.x0) / 2 for s in circles)
    assert radii == [1, 2, 3]
    assert all(s.x0 == -s.x1 and s.y0 == -s.y1 == s.x0 for s in circles)  # centred at 0
    assert _axis_titles(fig) == ("z₁", "z₂")
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    assert fig.layout.uirevision == "latent"
    # Coloured by direction in data space: one trace (one colour) per sector of the angle.
    assert len(fig.data) == style.DIRECTION_SECTORS
    assert len({trace.marker.color for trace in fig.data}) == style.DIRECTION_SECTORS
    angle = plots.direction_colour(data)
    width = 2 * math.pi / style.DIRECTION_SECTORS
    drawn = []
    for k, trace in enumerate(fig.data):
        assert_float32_arrays(trace)
        lo, hi = -math.pi + k * width, -math.pi + (k + 1) * width
        inside = (angle >= lo - 1e-6) & (angle <= hi + 1e-6)
        mine = z[inside]
        assert len(trace.x) == len(mine)
        np.testing.assert_allclose(np.sort(trace.x), np.sort(mine[:, 0]), rtol=1e-6)
        drawn.append(len(trace.x))
    assert sum(drawn) == len(z)


def test_direction_colour_is_the_angle_around_the_standardised_mean():
    x = np.array([[10.0, 0.0], [0.0, 1.0], [-10.0, 0.0], [0.0, -1.0]])  # std 7.07 and 0.71
    np.testing.assert_allclose(plots.direction_colour(x), [0, math.pi / 2, math.pi, -math.pi / 2],
                               atol=1e-6)


def test_latent_figure_keeps_only_points_finite_in_both_spaces():
    rng = np.random.default_rng(0)
    x, z = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
    z[:5] = np.nan
    x[5:8] = np.inf
    fig = plots.latent_figure(z, x)
    assert sum(len(trace.x) for trace in fig.data) == 92
    assert_all_finite(fig)
    with pytest.raises(ValueError, match="same number of points"):
        plots.latent_figure(z[:10], x)


# -- NLL -------------------------------------------------------------------------------------------
HISTORY = [
    {"step": 0, "train_nll": 3.0, "test_nll": 3.1, "lr": 1e-3},
    {"step": 25, "train_nll": 2.5, "test_nll": None},
    {"step": 50, "train_nll": math.nan, "test_nll": 2.2},
    {"step": 75, "train_nll": 2.0, "test_nll": math.inf},
    {"step": 100, "train_nll": 1.9, "test_nll": 1.95},
    {"step": 125, "test_nll": 1.9},  # no train_nll at all
]


def test_nll_figure_skips_missing_points_and_labels_nats():
    fig = plots.nll_figure(HISTORY)
    by_name = {trace.name: trace for trace in fig.data}
    assert set(by_name) == {"train", "test"}
    np.testing.assert_array_equal(by_name["train"].x, [0, 25, 75, 100])
    np.testing.assert_array_equal(by_name["train"].y, np.float32([3.0, 2.5, 2.0, 1.9]))
    np.testing.assert_array_equal(by_name["test"].x, [0, 50, 100, 125])
    for trace in fig.data:
        assert_float32_arrays(trace)
    assert _axis_titles(fig) == ("step", "NLL (nats)")
    assert fig.layout.uirevision == "nll"
    assert_all_finite(fig)


def test_nll_figure_shows_the_entropy_line_only_when_given():
    label = "true entropy (KL = gap)"
    assert label not in {t.name for t in plots.nll_figure(HISTORY).data}
    assert label not in {t.name for t in plots.nll_figure(HISTORY, entropy=math.nan).data}
    fig = plots.nll_figure(HISTORY, entropy=1.25)
    (line,) = [t for t in fig.data if t.name == label]
    assert line.line.dash == "dash"
    np.testing.assert_array_equal(line.y, [1.25, 1.25])
    np.testing.assert_array_equal(line.x, [0, 125])


def test_nll_figure_draws_every_steps_loss_smoothed_and_thinned():
    rng = np.random.default_rng(0)
    losses = [{"step": k, "train_nll": 2.0 + 0.3 * rng.standard_normal()}
              for k in range(1, 2001)]
    raw = plots.nll_figure(HISTORY, losses=losses, max_points=500)
    (train,) = [t for t in raw.data if t.name == "train"]
    assert len(train.x) == 500 and train.x[0] == 1 and train.x[-1] == 2000
    smooth = plots.nll_figure(HISTORY, losses=losses, smooth=0.9, max_points=5000)
    (curve,) = [t for t in smooth.data if t.name == "train (smoothed)"]
    assert curve.y[0] == pytest.approx(losses[0]["train_nll"], rel=1e-5)  # debiased start
    assert np.std(curve.y[100:]) < 0.3 * np.std([r["train_nll"] for r in losses])
    assert "%{y:.4f}" in curve.hovertemplate
    assert plots.nll_figure(HISTORY, log_steps=True).layout.xaxis.type == "log"
    with pytest.raises(ValueError, match="smooth"):
        plots.nll_figure(HISTORY, smooth=1.0)


def test_nll_figure_of_an_empty_history_is_empty_but_valid():
    fig = plots.nll_figure([], entropy=2.0)
    assert [len(t.x) for t in fig.data] == [0, 0, 2]
    assert_all_finite(fig)


def test_compare_nll_figure_overlays_each_runs_test_curve():
    runs = {"realnvp": HISTORY, "nsf": [{"step": 0, "test_nll": 2.0}, {"step": 10,
                                                                        "test_nll": 1.5}]}
    fig = plots.compare_nll_figure(runs, entropy=1.0)
    by_name = {trace.name: trace for trace in fig.data}
    assert set(by_name) == {"realnvp", "nsf", "true entropy (KL = gap)"}
    np.testing.assert_array_equal(by_name["realnvp"].x, [0, 50, 100, 125])
    np.testing.assert_array_equal(by_name["nsf"].y, np.float32([2.0, 1.5]))
    assert fig.layout.yaxis.title.text == "test NLL (nats)"
    assert fig.layout.uirevision == "compare"


# -- layer by layer --------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_layer_frames_start_standardised_and_end_at_z(arch):
    data = _moons(200)
    flow = _fitted_flow(arch, data=data)
    frames = analysis.layer_frames(flow, data)
    assert len(frames) == len(flow.layers) + 1
    assert [frame.layer for frame in frames] == list(range(len(flow.layers) + 1))
    assert [frame.name for frame in frames] == [s.name for s in flow.trace(torch.as_tensor(
        data, dtype=torch.float64))]
    x = torch.as_tensor(data, dtype=torch.float64)
    np.testing.assert_allclose(frames[0].values, ((x - flow.loc) / flow.scale).numpy(), atol=1e-5)
    np.testing.assert_allclose(frames[-1].values, flow(x)[0].detach().numpy(), atol=1e-5)
    assert all(values.dtype == np.float32 and values.shape == (200, 2) for *_, values in frames)


def test_layers_figure_has_a_frame_per_layer_a_slider_and_play():
    data = _moons(300)
    flow = _fitted_flow("realnvp", data=data, layers=4)
    fig = plots.layers_figure(flow, data)
    assert len(fig.frames) == len(flow.layers) + 1 == 5
    (slider,) = fig.layout.sliders
    assert [list(step.args[0]) for step in slider.steps] == [[f.name] for f in fig.frames]
    assert [step.label for step in slider.steps] == [
        "standardised x", "layer 1", "layer 2", "layer 3", "layer 4 → z"]
    (menu,) = fig.layout.updatemenus
    assert any("play" in b.label and b.method == "animate" for b in menu.buttons)
    # every frame moves the points but keeps their colour: frames carry positions only
    frames = analysis.layer_frames(flow, data)
    for frame, (*_, values) in zip(fig.frames, frames, strict=True):
        (trace,) = frame.data
        assert_float32_arrays(trace)
        np.testing.assert_array_equal(trace.x, values[:, 0])
        assert trace.marker.color is None
    np.testing.assert_allclose(fig.data[0].marker.color, plots.direction_colour(frames[0].values))
    assert fig.layout.uirevision == "layers"
    assert fig.layout.yaxis.scaleanchor == "x"
    assert_all_finite(fig)


def test_layers_figure_names_what_each_coupling_layer_passes_and_transforms():
    flow = _fitted_flow("realnvp", layers=2)
    fig = plots.layers_figure(flow, _moons(100))
    titles = [frame.layout.title.text for frame in fig.frames]
    assert "standardised" in titles[0]
    assert "passes x₁, transforms x₂" in titles[1]  # the first mask is [1, 0]
    assert "passes x₂, transforms x₁" in titles[2]
    assert "→  z" in titles[2]
    maf = plots.layers_figure(_fitted_flow("maf", layers=2), _moons(100))
    assert not any("passes" in frame.layout.title.text for frame in maf.frames)


def test_layers_figure_colour_by_and_non_finite_points():
    data = _moons(200).astype(np.float64)
    data[:3] = np.nan
    flow = _fitted_flow("glow", layers=2)
    fig = plots.layers_figure(flow, data, colour_by=np.arange(200.0))
    np.testing.assert_array_equal(fig.data[0].marker.color, np.arange(3, 200, dtype=np.float32))
    assert all(len(frame.data[0].x) == 197 for frame in fig.frames)
    assert_all_finite(fig)
    with pytest.raises(ValueError, match="colour_by"):
        plots.layers_figure(flow, data, colour_by=np.arange(5.0))


# -- grid deformation ------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["realnvp", "nsf"])
def test_grid_deformation_colours_are_the_log_det_at_cell_centres(arch):
    flow = _fitted_flow(arch, scale=0.3)
    grid = analysis.grid_deformation(flow, (-2, 2, -1, 3), lines=6)
    assert grid.log_det.shape == (5, 5) and grid.centres.shape == (25, 2)
    _, log_det = flow(torch.as_tensor(grid.centres))
    np.testing.assert_allclose(grid.log_det.ravel(), log_det.detach().numpy(), atol=1e-12)
    # centres are row-major: row i at cell_ys[i], column j at cell_xs[j]
    np.testing.assert_allclose(grid.centres[7], [grid.cell_xs[2], grid.cell_ys[1]])
    fig = plots.grid_deformation_figure(flow, (-2, 2, -1, 3), lines=6)
    heat = next(t for t in fig.data if isinstance(t, go.Heatmap))
    np.testing.assert_allclose(heat.z, grid.log_det, atol=1e-6)
    assert heat.xaxis == "x"
    assert _axis_titles(fig, "") == ("x₁", "x₂") and _axis_titles(fig, "2") == ("z₁", "z₂")
    assert fig.layout.uirevision == "grid"
    assert_all_finite(fig)


def test_grid_deformation_paths_cover_every_grid_line_and_map_through_f():
    flow = _fitted_flow("maf", scale=0.3)
    grid = analysis.grid_deformation(flow, (-2, 2, -1, 3), lines=5, points_per_line=20)
    rows, columns = grid.data_paths
    for level in np.linspace(-1, 3, 5):
        on_line = rows[np.isclose(rows[:, 1], level)]
        assert on_line[:, 0].min() == pytest.approx(-2) and on_line[:, 0].max() == pytest.approx(2)
    for level in np.linspace(-2, 2, 5):
        on_line = columns[np.isclose(columns[:, 0], level)]
        assert on_line[:, 1].min() == pytest.approx(-1) and on_line[:, 1].max() == pytest.approx(3)
    z, _ = flow(torch.as_tensor(rows))
    np.testing.assert_allclose(grid.latent_paths[0], z.detach().numpy(), atol=1e-12)


def test_grid_deformation_figure_is_finite_for_a_broken_flow():
    flow = _fitted_flow("realnvp")
    with torch.no_grad():
        for p in flow.parameters():
            p.fill_(math.inf)
    fig = plots.grid_deformation_figure(flow, (-1, 1, -1, 1), lines=4)
    assert_all_finite(fig)


# -- one point -------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_point_inspection_sums_layer_log_dets_to_log_prob(arch):
    flow = _fitted_flow(arch, dim=3)
    flow.set_standardisation(torch.tensor([0.3, -1.0, 2.0]), torch.tensor([0.5, 2.0, 1.5]))
    point = [0.4, -0.2, 2.5]
    info = analysis.point_inspection(flow, point)
    x = torch.tensor([point])
    with torch.no_grad():
        z, log_det = flow(x)
        log_prob = flow.log_prob(x)
    assert info.log_p_x == pytest.approx(float(log_prob), abs=1e-10)
    assert info.log_det == pytest.approx(float(log_det), abs=1e-10)
    assert info.log_det == pytest.approx(sum(ld for _, ld in info.layer_log_dets))
    assert [name for name, _ in info.layer_log_dets] == [s.name for s in flow.trace(x)]
    assert info.layer_log_dets[0][1] == pytest.approx(-math.log(0.5 * 2.0 * 1.5))
    np.testing.assert_allclose(info.z, z[0].detach().numpy(), atol=1e-12)
    assert info.log_p_z == pytest.approx(
        float(-0.5 * (z**2).sum() - 1.5 * math.log(2 * math.pi)), abs=1e-10)


def test_point_inspection_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match="x_point"):
        analysis.point_inspection(_fitted_flow(), [1.0, 2.0, 3.0])


# -- truth vs model --------------------------------------------------------------------------------
def _standard_normal_log_density(x: np.ndarray) -> np.ndarray:
    return -0.5 * (x**2).sum(1) - x.shape[1] / 2 * math.log(2 * math.pi)


def test_truth_figure_of_an_exact_model_shows_no_difference():
    flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))  # identity
    fig = plots.truth_figure(flow, _standard_normal_log_density, (-4, 4, -4, 4), resolution=50)
    true, model, ratio = fig.data
    assert all(isinstance(t, go.Heatmap) and t.z.shape == (50, 50) for t in fig.data)
    np.testing.assert_allclose(true.z, model.z, atol=1e-5)
    assert np.abs(ratio.z).max() < 1e-5
    assert true.coloraxis == model.coloraxis != ratio.coloraxis  # one scale for both densities
    assert [a.text for a in fig.layout.annotations][:3] == [
        "true log p*(x)", "model log p(x)", "log p(x) − log p*(x)"]
    assert fig.layout.uirevision == "truth"
    assert_all_finite(fig)


def test_truth_figure_shows_where_the_model_is_wrong():
    flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=2, hidden=8))
    flow.set_standardisation(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]))  # shifted model
    fig = plots.truth_figure(flow, _standard_normal_log_density, (-3, 3, -3, 3), resolution=30)
    ratio = fig.data[2]
    # log N(x; (1, 0), I) - log N(x; 0, I) = x₁ - 1/2: positive to the right, negative to the left
    x1 = np.broadcast_to(ratio.x, (30, 30))
    np.testing.assert_allclose(ratio.z, x1 - 0.5, atol=1e-5)


def test_truth_figure_needs_a_known_density():
    with pytest.raises(ValueError, match="not known"):
        plots.truth_figure(_fitted_flow(), lambda x: None, (-1, 1, -1, 1), resolution=10)


# -- size of what is streamed ----------------------------------------------------------------------
def test_panels_at_the_defaults_are_compact():
    data = _moons(3000)
    flow = _fitted_flow(data=data, layers=2, hidden=8)  # the sizes do not depend on the flow
    samples = flow.sample(2000).numpy()
    z = flow(torch.as_tensor(data[:2000], dtype=torch.float64))[0].detach().numpy()
    history = [{"step": 25 * i, "train_nll": 3 - i / 500, "test_nll": 3 - i / 400}
               for i in range(400)]
    figures = {
        "density": plots.density_figure(flow, data),
        "samples": plots.samples_figure(samples, data),
        "latent": plots.latent_figure(z, data[:2000]),
        "nll": plots.nll_figure(history, entropy=1.2),
    }
    sizes = {name: len(pio.to_json(fig, validate=False)) for name, fig in figures.items()}
    assert sizes["density"] < 400_000  # 200 x 200 float32 heatmap in base64, plus 2,000 points
    assert sizes["samples"] < 100_000 and sizes["latent"] < 100_000 and sizes["nll"] < 30_000
    for fig in figures.values():
        text = pio.to_json(fig, validate=False)
        assert '"bdata"' in text  # arrays travel as base64 typed arrays, not number lists
        # our small template, not Plotly's 6.5 kB default
        assert len(pio.to_json(fig.layout.template, validate=False)) < 2000
        assert fig.layout.margin.t <= 60 and fig.layout.margin.l <= 60


# -- drawing a dataset -----------------------------------------------------------------------------
def test_a_drawn_cell_becomes_the_density_around_its_canvas_point():
    side = 16
    grid = plots.drawing_grid(side)
    assert grid.shape == (side * side, 2)
    for k in (0, 17, side * side - 1, 5 * side + 11):
        ds = datasets.from_grid(plots.drawn_weights(side, {k}))
        x = ds.sample(500, seed=k)
        # Every sample lies in the cell (width 8 / side) centred on the selected canvas point.
        assert np.abs(x - grid[k]).max() <= 0.5 * 8 / side + 1e-6
    fig = plots.drawing_figure(side, {3, 4, 999_999})  # an index off the canvas is ignored
    canvas, drawn = fig.data
    assert len(canvas.x) == side * side and len(drawn.x) == 2
    assert fig.layout.dragmode == "lasso" and fig.layout.title.text == "2 cells drawn"
