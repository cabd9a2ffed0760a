"""Figures for d > 2: corner plots, the latent corner plot, a pair's marginal, baseline lines."""

import numpy as np
import pytest

from flowcore import plots
from flowcore.baselines import Baseline


@pytest.fixture
def clouds():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 13)), rng.normal(size=(300, 13))


def test_corner_figure_draws_the_chosen_pairs_and_marginals(clouds):
    data, model = clouds
    names = [f"c{j}" for j in range(13)]
    fig = plots.corner_figure(data, model, columns=[0, 4, 12], names=names)
    kinds = [trace.type for trace in fig.data]
    assert kinds.count("histogram") == 3 * 2 and kinds.count("scatter") == 3 * 2
    scatter = next(t for t in fig.data if t.type == "scatter")
    assert scatter.x.dtype == np.float32
    np.testing.assert_array_equal(scatter.x, data[:, 0].astype(np.float32))  # column x, below
    np.testing.assert_array_equal(scatter.y, data[:, 4].astype(np.float32))
    titles = {axis.title.text for axis in fig.select_xaxes()} - {None}
    assert titles == {"c0", "c4", "c12"}


def test_corner_figure_defaults_to_eight_columns_and_refuses_more(clouds):
    fig = plots.corner_figure(*clouds)
    assert [t.type for t in fig.data].count("histogram") == 2 * plots.MAX_CORNER_COLUMNS
    with pytest.raises(ValueError, match="choose 1 to 8 columns"):
        plots.corner_figure(*clouds, columns=range(9))
    with pytest.raises(ValueError, match=r"in \[0, 12\]"):
        plots.corner_figure(*clouds, columns=[0, 13])


def test_corner_figure_leaves_out_non_finite_rows(clouds):
    data, model = clouds
    data = data.copy()
    data[0, 3] = np.nan
    fig = plots.corner_figure(data, model, columns=[0, 1])
    assert len(fig.data[0].x) == len(data) - 1


def test_latent_corner_compares_with_the_prior():
    z = np.random.default_rng(1).normal(size=(200, 3))
    fig = plots.latent_corner_figure(z)
    assert {t.name for t in fig.data} == {"z = f(x)", "N(0, I)"}
    assert "N(0, I)" in fig.layout.title.text


def test_marginal_density_says_it_is_estimated_from_samples(clouds):
    samples = clouds[1]
    fig = plots.marginal_density_figure(samples, pair=(2, 5), data=clouds[0], resolution=20)
    assert "estimated from 300 samples" in fig.layout.title.text
    heat = fig.data[0]
    assert heat.z.shape == (20, 20) and (heat.z >= 0).all()
    # A KDE of N(0, I) samples peaks near the origin.
    peak = np.unravel_index(np.argmax(heat.z), heat.z.shape)
    assert abs(heat.x[peak[1]]) < 1 and abs(heat.y[peak[0]]) < 1
    with pytest.raises(ValueError, match="two different columns"):
        plots.marginal_density_figure(samples, pair=(3, 3))


def test_nll_figure_draws_the_baselines_as_lines():
    history = [{"step": s, "train_nll": 3.0 - s / 100, "test_nll": 3.1 - s / 100}
               for s in (0, 50, 100)]
    baselines = [Baseline("gaussian", "Gaussian", 2.5, 0.1, 2.5),
                 Baseline("kde", "KDE", 2.4, 0.1, 2.4, 0.5)]
    fig = plots.nll_figure(history, baselines=baselines)
    lines = [t for t in fig.data if t.name and t.name.endswith(": test")]
    assert [float(t.y[0]) for t in lines] == pytest.approx([2.5, 2.4])
    assert [float(x) for x in lines[0].x] == [0.0, 100.0]


def test_corner_figure_shares_a_marker_budget_among_its_cells():
    rng = np.random.default_rng(2)
    data, model = rng.normal(size=(3000, 8)), rng.normal(size=(3000, 8))
    fig = plots.corner_figure(data, model)
    scatter = [t for t in fig.data if t.type == "scatter"]
    assert len(scatter) == 2 * 28  # 8 columns: 28 pairs, two clouds each
    assert sum(len(t.x) for t in scatter) <= plots.corner.CORNER_MARKERS
    assert min(len(t.x) for t in scatter) >= 200  # still a cloud in every cell
    # The diagonal's histograms keep more points than one scatter cell: they cost no markers.
    assert all(len(t.x) == plots.corner.CORNER_POINTS for t in fig.data if t.type == "histogram")
