"""flowcore.export: the bytes a user downloads (model file, samples CSV)."""

import numpy as np
import pytest
from helpers import perturbed_flow

import flowcore as fc
from flowcore import datasets, export


def test_model_bytes_load_back_with_their_info():
    flow = perturbed_flow("nsf")
    loaded, info = fc.load_with_info(export.model_bytes(flow, {"metrics": {"step": 3}}))
    assert loaded.config == flow.config and info == {"metrics": {"step": 3}}


def test_samples_csv_is_seeded_and_reads_back_as_a_dataset():
    flow = perturbed_flow("realnvp", dim=3)
    first = export.samples_csv(flow, n=40, seed=1)
    assert first == export.samples_csv(flow, n=40, seed=1)
    assert first.decode().splitlines()[0] == "x1,x2,x3"
    ds = datasets.from_csv(first)
    assert ds.columns == ("x1", "x2", "x3") and ds.data.shape == (40, 3)
    assert np.isfinite(ds.data).all()


@pytest.mark.parametrize("n", [0, -1, 2.5, export.MAX_CSV_SAMPLES + 1])
def test_samples_csv_refuses_a_bad_count_by_name(n):
    with pytest.raises(ValueError, match="n="):
        export.samples_csv(perturbed_flow("maf"), n=n)
