"""Large files for the CLI: the block-by-block CSV reader (and its memory), .npy memory maps."""

import tracemalloc

import numpy as np
import pytest

from flowcore.datasets import files, from_file


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    return (rng.normal(size=(60_000, 16)) * rng.uniform(0.5, 50, size=16)).astype(np.float32)


@pytest.fixture
def big_csv_mode(monkeypatch):
    # The block reader takes files over MAX_CSV_BYTES; a small limit and small blocks test it
    # at a size a test can afford.
    monkeypatch.setattr(files, "MAX_CSV_BYTES", 1000)
    monkeypatch.setattr(files, "CSV_BLOCK_ROWS", 4096)


def test_large_csv_is_read_whole_and_exact(tmp_path, table, big_csv_mode):
    path = tmp_path / "big.csv"
    np.savetxt(path, table, delimiter=";", fmt="%.9g", header=";".join(f"c{j}" for j in range(16)),
               comments="")
    dataset = from_file(path)
    assert dataset.columns[:2] == ("c0", "c1") and dataset.data.dtype == np.float32
    np.testing.assert_array_equal(dataset.data, table)  # every row, none subsampled


def test_large_csv_holds_about_one_copy_of_the_numbers(tmp_path, table, big_csv_mode):
    path = tmp_path / "big.csv"
    np.savetxt(path, table, delimiter=",", fmt="%.9g")
    from_file(path)  # imports pandas and the csv sniffer, which would count as the reader's
    tracemalloc.start()
    dataset = from_file(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert dataset.data.shape == table.shape
    assert peak < 2.0 * table.nbytes, f"peak {peak / table.nbytes:.2f} copies of the table"


def test_large_csv_names_a_bad_cell_region(tmp_path, big_csv_mode):
    path = tmp_path / "bad.csv"
    rows = [f"{i},{i * 2}" for i in range(10_000)]
    rows[9000] = "1,oops"
    path.write_text("a,b\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError, match="not a table of numbers"):
        from_file(path)


def test_npy_is_memory_mapped(tmp_path, table):
    path = tmp_path / "big.npy"
    np.save(path, table)
    dataset = from_file(path)
    assert isinstance(dataset.data, np.memmap)
    np.testing.assert_array_equal(dataset.data[:5], table[:5])


def test_npy_refuses_non_finite_and_wrong_shapes(tmp_path, table):
    bad = table.copy()
    bad[123, 4] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    with pytest.raises(ValueError, match="data row 124, column 5"):
        from_file(tmp_path / "inf.npy")
    np.save(tmp_path / "flat.npy", table[:, 0])
    with pytest.raises(ValueError, match="shape"):
        from_file(tmp_path / "flat.npy")
