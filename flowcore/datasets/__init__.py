r"""Datasets: the FFJORD toy densities with their true log densities, and the user's own data.

Every dataset has the interface of :class:`Dataset`: ``sample(n, seed)``, ``log_density(x)``,
``entropy()`` and ``entropy_se()``, where the last three return ``None`` when the true density is
not known. The modules:

- :mod:`~flowcore.datasets.base`: :class:`Dataset`, the limits and the boundary checks;
- :mod:`~flowcore.datasets.toys`: the recipes (:func:`names`, :func:`knobs`, :func:`get`);
- :mod:`~flowcore.datasets.densities`: the recipes' true densities;
- :mod:`~flowcore.datasets.tabular`: :func:`from_array`, :func:`from_csv`;
- :mod:`~flowcore.datasets.image`: :func:`from_image`, :func:`from_grid`;
- :mod:`~flowcore.datasets.files`: :func:`from_file`, large CSV and ``.npy`` files (the CLI);
- :mod:`~flowcore.datasets.real`: bundled real tables (:func:`real_names`); :func:`get` loads
  them too.

Example:
    >>> from flowcore import datasets
    >>> ds = datasets.get("moons", noise=0.05)
    >>> ds.sample(4, seed=0).shape
    (4, 2)
"""

from flowcore.datasets.base import (
    MAX_COLUMNS,
    MAX_CSV_BYTES,
    MAX_ROWS,
    MIN_ROWS,
    Dataset,
)
from flowcore.datasets.files import from_file
from flowcore.datasets.image import (
    IMAGE_HALF_WIDTH,
    IMAGE_MAX_SIDE,
    MAX_IMAGE_PIXELS,
    ImageDensity,
    from_grid,
    from_image,
)
from flowcore.datasets.real import RealDataset, get_real, real_names
from flowcore.datasets.tabular import PointCloud, from_array, from_csv
from flowcore.datasets.toys import ENTROPY_SE_TARGET, Knob, ToyDataset, knobs, names
from flowcore.datasets.toys import get as get_toy


def get(name: str, **params: float) -> Dataset:
    r"""Toy recipe ``name`` (:func:`names`) with its parameters, or bundled real dataset ``name``
    (:func:`real_names`, which take none).

    Example:
        >>> get("wine").dim
        13
    """
    if name in real_names():
        if params:
            raise ValueError(f"dataset {name!r} is a fixed table and takes no parameters; "
                             f"got {', '.join(sorted(params))}")
        return get_real(name)
    return get_toy(name, **params)


__all__ = [
    "ENTROPY_SE_TARGET",
    "IMAGE_HALF_WIDTH",
    "IMAGE_MAX_SIDE",
    "MAX_COLUMNS",
    "MAX_CSV_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_ROWS",
    "MIN_ROWS",
    "Dataset",
    "ImageDensity",
    "Knob",
    "PointCloud",
    "RealDataset",
    "ToyDataset",
    "from_array",
    "from_csv",
    "from_file",
    "from_grid",
    "from_image",
    "get",
    "get_real",
    "get_toy",
    "knobs",
    "names",
    "real_names",
]
