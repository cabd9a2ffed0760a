"""The bundled real datasets: shapes, fixed rows, no true density, reachable through get."""

import numpy as np
import pytest

from flowcore import datasets

DIMS = {"old_faithful": 2, "iris": 4, "wine": 13, "breast_cancer": 30, "digits": 64}


def test_real_names_are_separate_from_the_toys():
    assert set(datasets.real_names()) == set(DIMS)
    assert not set(datasets.real_names()) & set(datasets.names())


@pytest.mark.parametrize("name", sorted(DIMS))
def test_real_dataset_is_fixed_data_without_a_density(name):
    ds = datasets.get(name)
    assert ds.dim == DIMS[name] == len(ds.columns)
    assert not ds.can_sample_fresh
    assert ds.log_density(ds.data[:3]) is None and ds.entropy() is None
    assert ds.data.dtype == np.float32 and np.isfinite(ds.data).all()


def test_old_faithful_is_the_r_table():
    data = datasets.get("old_faithful").data
    assert data.shape == (272, 2)
    # R: mean(faithful$eruptions) = 3.487783, mean(faithful$waiting) = 70.89706
    np.testing.assert_allclose(data.mean(0), [3.487783, 70.89706], atol=1e-4)


def test_digits_are_dequantised_once_within_unit_cells():
    first, again = datasets.get("digits").data, datasets.get("digits").data
    np.testing.assert_array_equal(first, again)
    assert datasets.get("digits").dequantised
    assert (first >= 0).all() and (first < 17).all()
    assert np.unique(np.floor(first)).size == 17  # the integers 0..16 survive under the noise


def test_real_dataset_refuses_parameters():
    with pytest.raises(ValueError, match="takes no parameters"):
        datasets.get("iris", noise=0.1)
