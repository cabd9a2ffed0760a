"""Baselines: the Gaussian and the KDE against scipy, and the validation-chosen bandwidth."""

import math

import numpy as np
import pytest
from scipy import stats

import flowcore as fc
from flowcore import baselines


@pytest.fixture
def points():
    rng = np.random.default_rng(1)
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 0.5]])
    return [rng.multivariate_normal([1, -2, 0], cov, size=n) for n in (300, 100, 200)]


def test_gaussian_matches_scipy(points):
    train, _, test = points
    expected = stats.multivariate_normal(train.mean(0), np.cov(train.T, bias=True)).logpdf(test)
    np.testing.assert_allclose(baselines.gaussian_log_density(train, test), expected, rtol=1e-7)


def test_kde_matches_a_mixture_of_scipy_gaussians(points):
    train, _, test = points
    train, test, h = train[:40], test[:5], 0.4
    kernel = h**2 * np.cov(train.T, bias=True)
    mixture = np.log(np.mean([stats.multivariate_normal(c, kernel).pdf(test) for c in train], 0))
    np.testing.assert_allclose(baselines.kde_log_density(train, test, h), mixture, rtol=1e-7)


def test_fit_baselines_chooses_the_bandwidth_on_validation(points):
    gaussian, kde = baselines.fit_baselines(*points)
    train, val, test = points
    vals = [-baselines.kde_log_density(train, val, h).mean() for h in baselines.KDE_BANDWIDTHS]
    assert kde.bandwidth == baselines.KDE_BANDWIDTHS[int(np.argmin(vals))]
    assert kde.val_nll == pytest.approx(min(vals))
    # Gaussian data: the Gaussian is the right model, so the KDE cannot beat it by much.
    assert gaussian.test_nll < kde.test_nll + 0.1
    assert gaussian.bits_per_dim(3) == pytest.approx(gaussian.test_nll / (3 * math.log(2)))
    assert gaussian.test_nll_se > 0 and gaussian.bandwidth is None


def test_trainer_baselines_use_the_trainers_split():
    trainer = fc.Trainer(fc.FlowConfig(dim=2, layers=1, hidden=8),
                         fc.TrainConfig(steps=1, eval_seconds=0), fc.datasets.get("old_faithful"))
    gaussian, kde = baselines.trainer_baselines(trainer)
    train = trainer.train_data.double().numpy()
    test = trainer.test_data.double().numpy()
    expected = -baselines.gaussian_log_density(train, test).mean()
    assert gaussian.test_nll == pytest.approx(expected)
    assert kde.test_nll < gaussian.test_nll  # Old Faithful is bimodal
