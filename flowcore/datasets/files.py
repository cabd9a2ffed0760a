r"""Large tables from disk, for the command line: CSV files of any size and ``.npy`` arrays.

The dashboard's uploads go through :func:`~flowcore.datasets.tabular.from_csv` (at most
``MAX_CSV_BYTES``, subsampled to ``MAX_ROWS``). The CLI trains on files far beyond that, so here:

- a ``.npy`` file is memory-mapped: rows are read from disk when a split or a shard takes them;
- a CSV file larger than ``MAX_CSV_BYTES`` is read by pandas' C reader in blocks of
  ``CSV_BLOCK_ROWS`` rows straight into one preallocated float32 array, so its numbers are held
  about once (plus one block), never as text plus a float64 copy;
- a smaller CSV goes through ``from_csv``, with its row-by-row messages.

No rows are dropped. The checks are those of the other readers: numbers only, finite, 2 to
``MAX_COLUMNS`` columns, at least ``MIN_ROWS`` rows, no constant column.

Example:
    >>> import tempfile, numpy as np
    >>> path = tempfile.mkdtemp() + "/points.npy"
    >>> np.save(path, np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32))
    >>> from_file(path).data.shape
    (20, 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flowcore.datasets.base import MAX_COLUMNS, MAX_CSV_BYTES, MIN_ROWS
from flowcore.datasets.tabular import PointCloud, _parse_number, _sniff_delimiter, from_csv

CSV_BLOCK_ROWS = 65_536
_CHECK_BLOCK = 1 << 16  # rows per block of the finiteness and spread checks


def from_file(path: str | Path) -> PointCloud:
    r"""The points in a ``.npy`` or CSV file, all rows, as a dataset (see the module notes).

    Raises:
        ValueError: for a missing file, another format, or data that fails the checks.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    if path.suffix.lower() == ".npy":
        return _from_npy(path)
    if path.stat().st_size <= MAX_CSV_BYTES:
        return from_csv(path)
    return _from_large_csv(path)


def _from_npy(path: Path) -> PointCloud:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ValueError(f"cannot read {path.name!r} as a .npy array: {error}") from None
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise ValueError(f"{path.name!r} holds a {array.dtype} array of shape {array.shape}; "
                         "expected numbers of shape (rows, columns)")
    if array.dtype != np.float32:
        array = array.astype(np.float32)  # one copy; a float32 file stays on disk
    columns = tuple(f"x{j + 1}" for j in range(array.shape[1]))
    return _checked(array, columns, path.stem, f"the file {path.name!r}")


def _from_large_csv(path: Path) -> PointCloud:
    import pandas as pd  # imported here: importing flowcore stays fast

    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        head = [line for line in (handle.readline() for _ in range(20)) if line.strip()]
    if not head:
        raise ValueError(f"the file {path.name!r} is empty")
    delimiter = _sniff_delimiter(head)
    first = head[0].rstrip("\r\n").split(delimiter)
    header = all(_parse_number(cell) is None for cell in first)
    columns = tuple(c.strip() for c in first) if header else tuple(
        f"x{j + 1}" for j in range(len(first)))
    rows = _count_lines(path) - int(header)
    data = np.empty((rows, len(columns)), dtype=np.float32)
    filled = 0
    try:
        blocks = pd.read_csv(path, sep=delimiter, header=None, skiprows=int(header),
                             dtype=np.float32, engine="c", chunksize=CSV_BLOCK_ROWS,
                             encoding="utf-8-sig")
        for block in blocks:
            values = block.to_numpy()
            if values.shape[1] != len(columns):
                raise ValueError(f"has {values.shape[1]} columns after row {filled + 1}, "
                                 f"but {len(columns)} before")
            data[filled: filled + len(values)] = values
            filled += len(values)
    except (ValueError, pd.errors.ParserError) as error:
        line = f" (near data row {filled + 1})" if filled else ""
        raise ValueError(f"the file {path.name!r} is not a table of numbers{line}: "
                         f"{str(error).splitlines()[0]}") from None
    return _checked(data[:filled], columns, path.stem, f"the file {path.name!r}")


def _count_lines(path: Path) -> int:
    r"""The number of lines, counted in 1 MB blocks of bytes."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _checked(data: np.ndarray, columns: tuple[str, ...], name: str, source: str) -> PointCloud:
    rows, cols = data.shape
    if not 2 <= cols <= MAX_COLUMNS:
        raise ValueError(f"{source} has {cols} columns; a flow models 2 to {MAX_COLUMNS} "
                         "coordinates, so keep only the columns you need")
    if rows < MIN_ROWS:
        raise ValueError(f"{source} has {rows} data row(s); a dataset needs at least {MIN_ROWS}")
    low = np.full(cols, np.inf, dtype=np.float32)
    high = np.full(cols, -np.inf, dtype=np.float32)
    for start in range(0, rows, _CHECK_BLOCK):
        block = np.asarray(data[start: start + _CHECK_BLOCK])
        finite = np.isfinite(block)
        if not finite.all():
            i, j = np.argwhere(~finite)[0]
            raise ValueError(f"{source}, data row {start + i + 1}, column {j + 1}: "
                             f"{block[i, j]} is not a finite number; fix or remove that row")
        low, high = np.minimum(low, block.min(0)), np.maximum(high, block.max(0))
    constant = np.flatnonzero(low == high)
    if constant.size:
        raise ValueError(f"{source}: column {constant[0] + 1} has the same value in every row; "
                         "a density needs spread in every column, so remove that column")
    description = f"{rows:,} points in {cols} dimensions from {source}."
    return PointCloud(data, columns, name, description, None)
