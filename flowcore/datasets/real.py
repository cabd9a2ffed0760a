r"""Real datasets that ship with flowcore's dependencies: no download, fixed rows, no true density.

- ``old_faithful``: the Old Faithful geyser's eruption durations and waiting times (272 rows,
  2-D), from R's ``datasets::faithful``, shipped as ``data/old_faithful.csv`` (its source is named
  in the file's header);
- ``iris`` (4-D), ``wine`` (13-D), ``breast_cancer`` (30-D): scikit-learn's bundled tables;
- ``digits`` (64-D): scikit-learn's 8×8 digits, pixel values 0..16. They are integers, so they are
  dequantised once (seed 0) with uniform noise on ``[0, 1)``: a density on the dequantised points,
  in bits per dimension, is an upper bound on the code length of the integer pixels.

These are :class:`~flowcore.datasets.tabular.PointCloud` s (``can_sample_fresh`` is False,
``log_density`` is None): report a flow's test NLL beside :mod:`flowcore.baselines`.

Example:
    >>> ds = get_real("iris")
    >>> ds.dim, len(ds.data), ds.can_sample_fresh
    (4, 150, False)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flowcore.datasets.tabular import PointCloud, from_array

DATA_DIR = Path(__file__).parent / "data"
DEQUANTISATION_SEED = 0

# name -> (scikit-learn loader or None for the shipped CSV, description)
_REAL = {
    "old_faithful": (None, "Old Faithful geyser: eruption time and waiting time to the next "
                           "eruption, in minutes (272 eruptions; R's datasets::faithful)."),
    "iris": ("load_iris", "Iris flowers: 4 measurements in cm of 150 flowers (scikit-learn)."),
    "wine": ("load_wine", "Wine: 13 chemical measurements of 178 Italian wines (scikit-learn)."),
    "breast_cancer": ("load_breast_cancer", "Breast cancer (Wisconsin): 30 features of 569 "
                                            "cell-nucleus images (scikit-learn)."),
    "digits": ("load_digits", "Digits: 1,797 handwritten 8×8 digits, pixels 0..16 dequantised "
                              "with uniform noise; report bits/dim (scikit-learn)."),
}


class RealDataset(PointCloud):
    r"""A bundled real table: fixed rows, no true density.

    Attributes:
        dequantised: whether integer values had uniform noise on ``[0, 1)`` added (digits).
    """

    dequantised = False


def real_names() -> tuple[str, ...]:
    r"""The names of the bundled real datasets, 2-D first then by dimension."""
    return tuple(_REAL)


def get_real(name: str) -> RealDataset:
    r"""Loads bundled real dataset ``name`` (see :func:`real_names`).

    Raises:
        ValueError: for an unknown name.
    """
    if name not in _REAL:
        raise ValueError(f"unknown real dataset {name!r}; choose one of {', '.join(_REAL)}")
    loader, description = _REAL[name]
    if loader is None:
        table = np.loadtxt(DATA_DIR / f"{name}.csv", delimiter=",", skiprows=3)
        columns: tuple[str, ...] = ("eruptions", "waiting")
    else:
        import sklearn.datasets  # imported here: importing flowcore stays fast

        bunch = getattr(sklearn.datasets, loader)()
        table = bunch.data.astype(np.float64)
        columns = tuple(str(column) for column in bunch.feature_names)
    if name == "digits":  # some border pixels are 0 in every image: only the noise spreads them
        table = table + np.random.default_rng(DEQUANTISATION_SEED).random(table.shape)
    cloud = from_array(table, name=name)
    dataset = RealDataset(cloud.data, columns, name, description, None)
    dataset.dequantised = name == "digits"
    dataset.params = {"rows": int(len(dataset.data)), "columns": list(columns)}
    return dataset
