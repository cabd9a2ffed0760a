r"""The user's own points, from an array or a CSV file.

:class:`csv.Sniffer` finds the separator and pandas' C reader reads the numbers; where it cannot,
the standard :mod:`csv` module reads the rows again so that the error names the row and column of
the first problem. What flowcore adds is only those checks.

Example:
    >>> rows = "x,y\n" + "\n".join(f"{i},{i * i % 7}" for i in range(12))
    >>> from_csv(rows.encode()).data.shape
    (12, 2)
"""

from __future__ import annotations

import csv
import io
from os import PathLike
from typing import Any

import numpy as np

from flowcore.datasets.base import (
    MAX_COLUMNS,
    MAX_ROWS,
    MIN_ROWS,
    Dataset,
    read_source,
)


class PointCloud(Dataset):
    r"""The user's own points: ``sample`` draws rows (without replacement while it can).

    Attributes:
        data: the rows, float32, shape ``(rows, dim)``.
        columns: the column names (from the CSV header, else ``x1, x2, ...``).
    """

    can_sample_fresh = False

    def __init__(self, data: np.ndarray, columns: tuple[str, ...], name: str, description: str,
                 notice: str | None):
        self.data, self.columns, self.name = data, columns, name
        self.dim = data.shape[1]
        self.params = {"rows": int(data.shape[0]), "columns": list(columns)}
        self.description, self.notice = description, notice

    def _draw(self, n: int, seed: int) -> np.ndarray:
        rng, rows = np.random.default_rng(seed), len(self.data)
        if n <= rows:
            return self.data[rng.choice(rows, size=n, replace=False)]
        return self.data[rng.integers(rows, size=n)]


def from_array(x: Any, name: str = "array") -> PointCloud:
    r"""Wraps an array of points (rows are points, columns are coordinates) as a dataset.

    Raises:
        ValueError: for NaN/inf or non-numbers (naming row and column, counted from 1), fewer than
            2 or more than ``MAX_COLUMNS`` columns, fewer than 10 rows, or a constant column.
            More than ``MAX_ROWS`` rows are subsampled.

    Example:
        >>> import numpy as np
        >>> from_array(np.random.default_rng(0).normal(size=(50, 3))).dim
        3
    """
    array = np.asarray(x)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array (rows x columns), got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        array = _numbers_from_cells(array)
    columns = tuple(f"x{j + 1}" for j in range(array.shape[1]))
    return _point_cloud(array.astype(np.float64), columns, np.arange(1, len(array) + 1),
                        header=False, name=name, source="an array", notices=[])


def _numbers_from_cells(array: np.ndarray) -> np.ndarray:
    values = np.empty(array.shape)
    for (i, j), cell in np.ndenumerate(array):
        number = _parse_number(cell) if isinstance(cell, (str, bytes)) else cell
        try:
            values[i, j] = float(number)
        except (TypeError, ValueError):
            message = f"row {i + 1}, column {j + 1}: {str(cell)!r} is not a number"
            raise ValueError(message) from None
    return values


def from_csv(source: str | PathLike | bytes | Any, name: str | None = None) -> PointCloud:
    r"""Reads points from a CSV file: a path, bytes, or a file-like object (a Streamlit upload).

    The header row is optional (a first row with no number in it is a header). Separators ``,``
    ``;`` and tab are detected; a UTF-8 byte order mark is fine. Rows are numbered as in a
    spreadsheet (the header is row 1, blank lines count), columns from 1.

    Raises:
        ValueError: for an empty, header-only or non-UTF-8 file, ragged rows, text or NaN/inf
            cells, fewer than 2 or more than ``MAX_COLUMNS`` columns, fewer than 10 rows, a
            constant column, or more than ``MAX_CSV_BYTES`` bytes.

    Example:
        >>> rows = "x,y\n" + "\n".join(f"{i},{i * i % 7}" for i in range(12))
        >>> from_csv(rows.encode()).columns
        ('x', 'y')
    """
    raw, default_name = read_source(source)
    text = _decode(raw) if isinstance(raw, bytes) else raw.removeprefix("\ufeff")
    name = name or default_name
    source_label = f"the file {name!r}"
    # (spreadsheet row number, line) of every line that is not blank
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip()]
    if not lines:
        raise ValueError("the CSV file is empty")
    delimiter = _sniff_delimiter([line for _, line in lines[:20]])
    if lines[0][1].count(delimiter) >= 4 * MAX_COLUMNS:  # don't split a huge line into cells
        _check_column_count(lines[0][1].count(delimiter) + 1, source_label)
    first = next(csv.reader([lines[0][1]], delimiter=delimiter))
    header = all(_parse_number(cell) is None for cell in first)
    notices: list[str] = []
    if header:
        columns = _unique_names([cell.strip() or f"column {j + 1}"
                                 for j, cell in enumerate(first)], notices)
        if len(lines) == 1:
            names = ", ".join(columns)
            raise ValueError(f"the CSV file has a header row ({names}) but no data rows")
    else:
        columns = tuple(f"x{j + 1}" for j in range(len(first)))
    if len(columns) < 2:
        raise ValueError(
            f"the CSV file has 1 column; a dataset needs at least 2 (one per coordinate). "
            f"Separate the columns with a comma, a semicolon or a tab (row {lines[0][0]}: "
            f"{lines[0][1][:60]!r})"
        )
    _check_column_count(len(columns), source_label)
    body = lines[int(header):]
    numbers = np.array([number for number, _ in body])
    values = _plain_numbers(body, delimiter, len(columns))
    if values is None:
        values = _numbers(_read_rows(body, delimiter), numbers, columns, header)
    return _point_cloud(values, columns, numbers, header, name, source_label, notices)


def _plain_numbers(body: list[tuple[int, str]], delimiter: str, width: int) -> np.ndarray | None:
    r"""Every cell by pandas' C reader (a million rows in a tenth of a second), when each line
    is one row of ``width`` finite numbers; anything else returns None, and :func:`_numbers`
    reads the rows again with the :mod:`csv` module to name the first problem."""
    import pandas as pd  # imported here: importing flowcore stays fast

    text = "\n".join(line for _, line in body)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, header=None, dtype=np.float64,
                            engine="c", skip_blank_lines=False)
    except (ValueError, pd.errors.ParserError):
        return None
    values = frame.to_numpy()
    if values.shape != (len(body), width) or not np.isfinite(values).all():
        return None
    return values


def _sniff_delimiter(lines: list[str]) -> str:
    r"""The separator :class:`csv.Sniffer` finds in the first lines: tab or semicolon before the
    comma, because ``1,5;2,5`` uses the comma as a decimal mark; a comma if none is found (a
    file of one column)."""
    sample = "\n".join(lines)
    for candidates in ("\t;", ","):
        try:
            return csv.Sniffer().sniff(sample, delimiters=candidates).delimiter
        except csv.Error:
            continue
    return ","


def _read_rows(lines: list[tuple[int, str]], delimiter: str) -> list[list[str]]:
    r"""The cells of every line. A quote left open would make the reader join the next lines
    into one cell; that is refused, naming the row where the quote opened."""
    reader = csv.reader((line for _, line in lines), delimiter=delimiter)
    rows: list[list[str]] = []
    for cells in reader:
        if reader.line_num != len(rows) + 1:
            raise ValueError(f"row {lines[len(rows)][0]} has a quote (\") that is never closed; "
                             "remove it or close it within the row")
        rows.append(cells)
    return rows


def _numbers(body: list[list[str]], numbers: np.ndarray, columns: tuple[str, ...],
             header: bool) -> np.ndarray:
    r"""The cells as float64, or a ValueError naming the first ragged row or the first cell
    that is not a number."""
    width = len(columns)
    ragged = next((i for i, cells in enumerate(body) if len(cells) != width), None)
    if ragged is not None:
        raise ValueError(
            f"row {numbers[ragged]} has {len(body[ragged])} cells but the "
            f"{'header' if header else 'first row'} has {width}; every row needs one value "
            "per column"
        )
    try:
        return np.array(body, dtype=np.float64).reshape(len(body), width)
    except ValueError:
        pass  # find the first cell that is not a number, to name it
    for i, cells in enumerate(body):
        for j, cell in enumerate(cells):
            if _parse_number(cell) is None:
                raise ValueError(f"row {numbers[i]}, {_column_label(j, columns, header)}: "
                                 + _why_not_a_number(cell))
    raise AssertionError("unreachable: numpy refused a cell that float() accepts")


def _check_column_count(columns: int, source: str) -> None:
    if columns > MAX_COLUMNS:
        raise ValueError(f"{source} has {columns} columns; a flow models at most {MAX_COLUMNS} "
                         "coordinates, so keep only the columns you need")


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")  # drops a byte order mark
    except UnicodeDecodeError as error:
        raise ValueError(
            f"the file is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "save it as 'CSV UTF-8' or plain text"
        ) from None
    if "\x00" in text:
        raise ValueError("the file contains NUL bytes: it looks binary, not like CSV text")
    return text


def _parse_number(cell: str | bytes) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _why_not_a_number(cell: str) -> str:
    if not cell.strip():
        return "the cell is empty; fill it or delete the row"
    decimal_comma = _parse_number(cell.replace(",", ".")) is not None
    hint = " (use a dot as the decimal mark)" if decimal_comma else ""
    return f"{cell.strip()[:40]!r} is not a number{hint}"


def _unique_names(names: list[str], notices: list[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    unique = []
    for j, column in enumerate(names):
        new, k = column, 2
        while new in seen:
            new, k = f"{column}_{k}", k + 1
        if new != column:
            notices.append(f"Column {j + 1} repeats the name {column!r}; here it is {new!r}.")
        seen.add(new)
        unique.append(new)
    return tuple(unique)


def _column_label(j: int, columns: tuple[str, ...], header: bool) -> str:
    return f"column {j + 1} ({columns[j]!r})" if header else f"column {j + 1}"


def _point_cloud(values: np.ndarray, columns: tuple[str, ...], row_numbers: np.ndarray,
                 header: bool, name: str, source: str, notices: list[str]) -> PointCloud:
    rows, cols = values.shape
    if cols < 2:
        raise ValueError(f"{source} has {cols} column(s); a dataset needs at least 2")
    _check_column_count(cols, source)
    if rows < MIN_ROWS:
        raise ValueError(f"{source} has {rows} data row(s); a dataset needs at least {MIN_ROWS}")
    with np.errstate(over="ignore"):
        data = values.astype(np.float32)
    bad = ~np.isfinite(data)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        what = "is not a finite number" if not np.isfinite(values[i, j]) else "is beyond float32"
        more = f" ({bad.sum() - 1} more such cells)" if bad.sum() > 1 else ""
        raise ValueError(f"row {row_numbers[i]}, {_column_label(j, columns, header)}: "
                         f"{float(values[i, j])} {what}{more}; fix or remove those rows")
    constant = np.flatnonzero(data.min(axis=0) == data.max(axis=0))
    if constant.size:
        j = constant[0]
        raise ValueError(
            f"{_column_label(j, columns, header)} has the same value ({data[0, j]:g}) in every "
            "row; a density needs spread in every column, so remove that column"
        )
    if rows > MAX_ROWS:
        keep = np.sort(np.random.default_rng(0).choice(rows, size=MAX_ROWS, replace=False))
        data = data[keep]
        notices.append(f"The data has {rows:,} rows; a random {MAX_ROWS:,} of them (seed 0) "
                       "are used, to keep training responsive.")
    description = f"{len(data):,} points in {cols} dimensions from {source}."
    return PointCloud(data, columns, name, description, " ".join(notices) or None)

