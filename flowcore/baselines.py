r"""Baselines for data without a true density: what a flow's test NLL should beat.

Both are fitted on the training split only; the KDE's bandwidth is chosen on the validation
split; both report on the test split, in nats (and bits/dim via :func:`bits_per_dim`):

- a full-covariance Gaussian (maximum likelihood mean and covariance);
- a Gaussian kernel density estimate whose kernel covariance is ``h² Σ`` (``Σ`` the training
  covariance, as in :class:`scipy.stats.gaussian_kde`), with ``h`` the best of a log-spaced grid
  on the validation NLL.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> train, val, test = (rng.normal(size=(n, 2)) for n in (400, 100, 100))
    >>> result = fit_baselines(train, val, test)
    >>> [b.name for b in result], abs(result[0].test_nll - 2.84) < 0.3
    (['gaussian', 'kde'], True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from flowcore.stats import mean_and_se

# KDE bandwidth factors tried on the validation split (Scott's factor is n^(-1/(d+4)), near
# 0.3..0.7 here; the grid reaches well past it both ways).
KDE_BANDWIDTHS = tuple(float(h) for h in np.geomspace(0.02, 2.0, 25))
_CHUNK = 512  # test rows per KDE block: a (512, train) matrix of float64 at a time
LN2 = math.log(2)


@dataclass(frozen=True)
class Baseline:
    r"""One baseline's held-out figures.

    Attributes:
        name: ``"gaussian"`` or ``"kde"``.
        label: how a chart or table names it.
        test_nll: mean negative log-likelihood of the test split, nats.
        test_nll_se: its standard error over the test points.
        val_nll: the same on the validation split.
        bandwidth: the KDE's chosen factor ``h`` (None for the Gaussian).
    """

    name: str
    label: str
    test_nll: float
    test_nll_se: float
    val_nll: float
    bandwidth: float | None = None

    def bits_per_dim(self, dim: int) -> float:
        """The test NLL in bits per dimension."""
        return bits_per_dim(self.test_nll, dim)


def bits_per_dim(nll_nats: float, dim: int) -> float:
    r"""Nats per point to bits per dimension.

    Example:
        >>> round(bits_per_dim(2 * math.log(2), 2), 6)
        1.0
    """
    return nll_nats / (dim * LN2)


def gaussian_log_density(train: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""Log density (nats) at the rows of ``x`` of the full-covariance Gaussian fitted to
    ``train`` by maximum likelihood."""
    train, x = np.asarray(train, np.float64), np.asarray(x, np.float64)
    mean = train.mean(0)
    cov = np.atleast_2d(np.cov(train, rowvar=False, bias=True))
    chol = _cholesky(cov)
    return _gaussian_log_density(x - mean, chol)


def kde_log_density(train: np.ndarray, x: np.ndarray, bandwidth: float) -> np.ndarray:
    r"""Log density (nats) at the rows of ``x`` of the Gaussian KDE on ``train`` whose kernel
    covariance is ``bandwidth² ×`` the training covariance."""
    train, x = np.asarray(train, np.float64), np.asarray(x, np.float64)
    cov = np.atleast_2d(np.cov(train, rowvar=False, bias=True))
    chol = _cholesky(cov) * bandwidth
    # Whiten once: the kernel becomes N(0, I) in the whitened coordinates.
    whiten = lambda a: np.linalg.solve(chol, a.T).T  # noqa: E731
    centres, points = whiten(train), whiten(x)
    log_norm = -0.5 * train.shape[1] * math.log(2 * math.pi) - np.log(np.diag(chol)).sum()
    sq_centres = (centres**2).sum(1)
    out = np.empty(len(points))
    for start in range(0, len(points), _CHUNK):
        block = points[start:start + _CHUNK]
        sq = (block**2).sum(1)[:, None] + sq_centres[None, :] - 2 * block @ centres.T
        out[start:start + _CHUNK] = logsumexp(-0.5 * np.maximum(sq, 0), axis=1)
    return out - math.log(len(train)) + log_norm


def fit_baselines(train: np.ndarray, validation: np.ndarray, test: np.ndarray) -> list[Baseline]:
    r"""The Gaussian and the KDE, fitted on ``train`` (KDE bandwidth chosen on ``validation``),
    evaluated on ``test``. Returns ``[gaussian, kde]``."""
    gauss_test = -gaussian_log_density(train, test)
    gauss_val = -gaussian_log_density(train, validation)
    best_h, best_val = KDE_BANDWIDTHS[0], math.inf
    for h in KDE_BANDWIDTHS:
        val = float(-kde_log_density(train, validation, h).mean())
        if val < best_val:
            best_h, best_val = h, val
    kde_test = -kde_log_density(train, test, best_h)
    return [
        Baseline("gaussian", "Gaussian (full covariance)", float(gauss_test.mean()),
                 mean_and_se(gauss_test)[1], float(gauss_val.mean())),
        Baseline("kde", f"KDE (h = {best_h:.3g}, chosen on validation)", float(kde_test.mean()),
                 mean_and_se(kde_test)[1], best_val, best_h),
    ]


def trainer_baselines(trainer) -> list[Baseline]:
    r""":func:`fit_baselines` on a :class:`~flowcore.train.Trainer`'s own split, so the
    baselines and the flow see the same training, validation and test points."""
    parts = (trainer.train_data, trainer.val_data, trainer.test_data)
    return fit_baselines(*(part.detach().cpu().double().numpy() for part in parts))


def _cholesky(cov: np.ndarray) -> np.ndarray:
    # A tiny ridge (relative to the variances) keeps near-collinear columns factorisable.
    ridge = 1e-9 * np.trace(cov) / len(cov)
    return np.linalg.cholesky(cov + ridge * np.eye(len(cov)))


def _gaussian_log_density(centred: np.ndarray, chol: np.ndarray) -> np.ndarray:
    white = np.linalg.solve(chol, centred.T).T
    dim = centred.shape[1]
    return (-0.5 * (white**2).sum(1) - np.log(np.diag(chol)).sum()
            - 0.5 * dim * math.log(2 * math.pi))
