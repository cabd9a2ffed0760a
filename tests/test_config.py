"""flowcore.config: one range check, and one string round trip for the CLI and shared links."""

import math

import numpy as np
import pytest

import flowcore as fc
from flowcore.cli import main
from flowcore.config import check_range


@pytest.mark.parametrize("config", [fc.FlowConfig(), fc.FlowConfig(arch="nsf", layers=3,
                                                                    shared_trunk=True),
                                    fc.TrainConfig(), fc.TrainConfig(lr=3e-4, schedule="cosine")])
def test_strings_round_trip(config):
    strings = config.to_strings()
    assert all(isinstance(v, str) for v in strings.values())
    assert type(config).from_strings(strings) == config


def test_from_strings_reads_only_its_fields_over_a_base():
    query = {"layers": "3", "lr": "0.01", "dataset": "moons", "noise": "0.1", "bins": None}
    base = fc.FlowConfig(hidden=32, bins=5)
    flow = fc.FlowConfig.from_strings(query, base=base)
    assert (flow.layers, flow.hidden, flow.bins) == (3, 32, 5)
    assert fc.TrainConfig.from_strings(query).lr == 0.01
    assert fc.FlowConfig.from_strings({"shared_trunk": "TRUE"}).shared_trunk is True


@pytest.mark.parametrize("strings, words", [
    ({"layers": "abc"}, ["FlowConfig.layers='abc'", "whole number in [1, 32]"]),
    ({"layers": "2.5"}, ["FlowConfig.layers=2.5", "whole number"]),
    ({"layers": "99"}, ["FlowConfig.layers=99", "out of range", "[1, 32]"]),
    ({"bound": "nan"}, ["FlowConfig.bound=nan", "[0.5, 16.0]"]),
    ({"arch": "flowy"}, ["'flowy'", "'realnvp'"]),
    ({"shared_trunk": "yes"}, ["shared_trunk", "true or false"]),
])
def test_from_strings_refuses_bad_text_by_field_and_range(strings, words):
    with pytest.raises(ValueError) as err:
        fc.FlowConfig.from_strings(strings)
    for word in words:
        assert word in str(err.value)


def test_the_cli_gives_the_same_message_as_from_strings(tmp_path, capsys):
    with pytest.raises(ValueError) as err:
        fc.FlowConfig.from_strings({"layers": "abc"})
    assert main(["train", "--layers", "abc", "--steps", "1",
                 "--out", str(tmp_path / "m.safetensors")]) == 2
    assert str(err.value) in capsys.readouterr().err


@pytest.mark.parametrize("value, whole, expected", [(6, True, 6), (6.0, True, 6),
                                                    (np.int64(3), True, 3), (0.5, False, 0.5)])
def test_check_range_accepts_numbers_in_range(value, whole, expected):
    out = check_range("v", value, 0, 10, whole=whole)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("value", [True, "3", None, math.nan, math.inf, 11, -1, 2.5])
def test_check_range_names_the_value_and_the_range(value):
    with pytest.raises(ValueError, match=r"^v=.* use a whole number in \[0, 10\] \(a note\)\.$"):
        check_range("v", value, 0, 10, whole=True, note=" (a note)")
