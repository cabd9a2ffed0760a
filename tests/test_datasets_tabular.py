"""datasets.tabular: user data from arrays and CSV files, and the messages naming the row and
column of a problem."""

import io

import numpy as np
import pytest

from flowcore import datasets


def csv_bytes(text: str) -> bytes:
    return text.encode("utf-8")


ROWS = "\n".join(f"{i},{(i * i) % 7}" for i in range(12))  # 12 rows, both columns vary


# --- user data: arrays and CSV ------------------------------------------------------------------


def test_from_array_resamples_rows():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(40, 3))
    ds = datasets.from_array(data)
    assert ds.dim == 3 and not ds.can_sample_fresh and ds.notice is None
    assert ds.data.dtype == np.float32 and np.array_equal(ds.data, data.astype(np.float32))
    assert ds.log_density(data) is None and ds.entropy() is None and ds.entropy_se() is None
    drawn = ds.sample(40, seed=1)
    assert drawn.dtype == np.float32 and drawn.shape == (40, 3)
    assert len(np.unique(drawn, axis=0)) == 40  # without replacement: every row once
    more = ds.sample(100, seed=1)  # with replacement: only rows of the data, some twice
    assert more.shape == (100, 3) and len(np.unique(more, axis=0)) < 100
    assert np.isin(more[:, 0], ds.data[:, 0]).all()
    assert np.array_equal(ds.sample(25, seed=7), ds.sample(25, seed=7))


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda a: np.where(np.arange(a.size).reshape(a.shape) == 13, np.nan, a),
         ["row 7", "column 2", "nan"]),
        (lambda a: np.where(np.arange(a.size).reshape(a.shape) == 8, np.inf, a),
         ["row 5", "column 1", "inf"]),
        (lambda a: np.array([[str(v) for v in row] for row in a[:, :2]] + [["1", "oops"]],
                            dtype=object), ["row 21", "column 2", "'oops'"]),
        (lambda a: a[:, :1], ["1 column", "at least 2"]),
        (lambda a: a[:9], ["9 data row", "at least 10"]),
        (lambda a: np.column_stack([a, np.full(len(a), 3.5)]), ["column 3", "same value", "3.5"]),
        (lambda a: a[:, 0], ["2-D", "(20,)"]),
    ],
)
def test_from_array_rejects_bad_data(make, words):
    base = np.random.default_rng(1).normal(size=(20, 2))
    with pytest.raises(ValueError) as error:
        datasets.from_array(make(base))
    for word in words:
        assert word in str(error.value)


def test_too_many_rows_are_subsampled_with_a_notice():
    rows = datasets.MAX_ROWS + 1
    data = np.random.default_rng(2).normal(size=(rows, 2))
    first, second = datasets.from_array(data), datasets.from_array(data)
    assert first.data.shape == (datasets.MAX_ROWS, 2)
    assert np.array_equal(first.data, second.data)  # seeded
    assert f"{rows:,}" in first.notice and f"{datasets.MAX_ROWS:,}" in first.notice


@pytest.mark.parametrize(
    "text",
    [
        "x,y\n" + ROWS,
        "\ufeffx,y\n" + ROWS,  # byte order mark, as Excel writes it
        "x;y\n" + ROWS.replace(",", ";"),
        "x\ty\n" + ROWS.replace(",", "\t"),
        "x,y\n\n" + ROWS + "\n\n",  # blank lines
        '"x","y"\n' + ROWS,
    ],
)
def test_from_csv_reads_headers_and_separators(text):
    ds = datasets.from_csv(csv_bytes(text))
    assert ds.columns == ("x", "y") and ds.dim == 2 and ds.data.shape == (12, 2)
    assert ds.data[5].tolist() == [5.0, 4.0]


def test_from_csv_without_header_and_with_more_columns(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("\n".join(f"{i},{i % 3},{i * 0.5}" for i in range(15)))
    for source in (path, str(path), io.BytesIO(path.read_bytes()), io.StringIO(path.read_text())):
        ds = datasets.from_csv(source)
        assert ds.dim == 3 and len(ds.data) == 15 and ds.columns == ("x1", "x2", "x3")
    assert datasets.from_csv(path).name == "points"


def test_from_csv_renames_duplicate_columns():
    ds = datasets.from_csv(csv_bytes("x,x\n" + ROWS))
    assert ds.columns == ("x", "x_2")
    assert "'x'" in ds.notice and "x_2" in ds.notice


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", ["empty"]),
        (b"\n  \n", ["empty"]),
        (b"x,y\n", ["header", "no data rows"]),
        (bytes(range(128, 256)) * 4, ["not UTF-8", "0x80"]),
        ("x,y\n1,2\ncaf\xe9,3\n".encode("latin-1"), ["not UTF-8", "0xe9"]),
        (b"x,y\n" + ROWS.encode() + b"\n3,abc", ["row 14", "column 2 ('y')", "'abc'"]),
        (b"x,y\n" + ROWS.encode() + b"\n3,", ["row 14", "column 2 ('y')", "empty"]),
        (b"x,y\n" + ROWS.replace("5,4", "5,nan").encode(), ["row 7", "column 2 ('y')", "nan"]),
        (b"x,y\n" + ROWS.replace("5,4", "-inf,4").encode(), ["row 7", "column 1 ('x')", "inf"]),
        (b"x,y\n" + ROWS.encode() + b"\n1,2,3", ["row 14", "3 cells", "2"]),
        (b"x;y\n" + b"\n".join(b"%d,5;%d" % (i, i) for i in range(12)), ["row 2", "decimal"]),
        (b"x\n" + b"\n".join(b"%d" % i for i in range(12)), ["1 column", "at least 2"]),
        (b"x,y\n1,2\n3,4\n5,6\n", ["3 data row", "at least 10"]),
        (b"a,b\n" + b"\n".join(b"%d,7" % i for i in range(12)), ["column 2 ('b')", "same value"]),
        (b"1,2\n" + b"\n".join(b"%d,abc" % i for i in range(12)), ["row 2", "column 2", "'abc'"]),
    ],
)
def test_from_csv_rejects_bad_files_naming_the_place(data, words):
    with pytest.raises(ValueError) as error:
        datasets.from_csv(data)
    for word in words:
        assert word in str(error.value)


def test_from_csv_rejects_csv_text_given_as_a_path():
    with pytest.raises(ValueError, match="path"):
        datasets.from_csv("x,y\n" + ROWS)


def test_quoted_and_plain_cells_read_the_same_numbers():
    plain = datasets.from_csv(csv_bytes("x,y\n" + ROWS))
    quoted = datasets.from_csv(csv_bytes('"x","y"\n' + "\n".join(
        f'"{a}",{b}' for a, b in (row.split(",") for row in ROWS.splitlines()))))
    np.testing.assert_array_equal(plain.data, quoted.data)


def test_a_quote_left_open_is_named_by_its_row():
    with pytest.raises(ValueError, match=r"row 14 has a quote"):
        datasets.from_csv(csv_bytes("x,y\n" + ROWS + '\n"3,4\n5,6\n7,8'))


def test_rows_are_numbered_as_in_a_spreadsheet_with_blank_lines():
    with pytest.raises(ValueError, match=r"row 17, column 2 \('y'\): 'oops'"):
        datasets.from_csv(csv_bytes("x,y\n\n" + ROWS + "\n\n\n3,oops"))
