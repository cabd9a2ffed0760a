"""Model files: round trips, and rejection of everything malformed or hostile."""

import json
import pickle
import struct

import pytest
import torch
from helpers import ARCHS, perturbed_flow, rewrite_header
from safetensors.torch import save as st_save

import flowcore as fc


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_gives_identical_log_prob(tmp_path, arch, dtype):
    flow = perturbed_flow(arch, 3, dtype=dtype)
    flow.set_standardisation(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 2.0, 1.5]))
    path = tmp_path / "m.safetensors"
    fc.save(flow, path, info={"dataset": {"name": "moons"}})
    loaded, info = fc.load_with_info(path)
    assert loaded.config == flow.config
    assert info == {"dataset": {"name": "moons"}}
    assert not hasattr(loaded, "info")  # the metadata travels beside the flow, not on it
    x = torch.randn(100, 3, dtype=dtype)
    assert torch.equal(loaded.log_prob(x), flow.log_prob(x))
    assert fc.read_metadata(path)["standardisation"]["scale"] == [0.5, 2.0, 1.5]


def test_load_accepts_bytes_and_file_objects(tmp_path):
    flow = perturbed_flow("nsf", 2)
    data = fc.to_bytes(flow)
    x = torch.randn(10, 2)
    assert torch.equal(fc.load(data).log_prob(x), flow.log_prob(x))
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        assert torch.equal(fc.load(fh).log_prob(x), flow.log_prob(x))


def _valid_bytes() -> bytes:
    return fc.to_bytes(perturbed_flow("realnvp", 2, layers=2, hidden=4))


def _meta_edit(key, value):
    def edit(header):
        header["__metadata__"][key] = value
    return edit


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


def _hostile_files():
    valid = _valid_bytes()
    config = fc.FlowConfig(layers=2, hidden=4).to_dict()
    yield "empty", b""
    yield "truncated", valid[: len(valid) // 2]
    yield "random bytes", bytes(range(256)) * 8
    yield "pickle", pickle.dumps({"weights": _Boom()})
    yield "huge header length", struct.pack("<Q", 2**62) + b"{}"
    yield "header not json", struct.pack("<Q", 4) + b"nope"
    yield "header is a list", struct.pack("<Q", 2) + b"[]"
    yield "no flowcore metadata", st_save({"a": torch.zeros(2)})
    yield "bad config json", rewrite_header(valid, _meta_edit("config", "{not json"))
    yield "unknown arch", rewrite_header(valid, _meta_edit("config", json.dumps({**config,
                                                                            "arch": "magic"})))
    yield "absurd layers", rewrite_header(valid, _meta_edit("config", json.dumps({**config,
                                                                             "layers": 10**6})))
    yield "absurd hidden", rewrite_header(valid, _meta_edit("config", json.dumps({**config,
                                                                             "hidden": 10**9})))
    yield "other version", rewrite_header(valid, _meta_edit("file_format", "99"))
    yield "missing key", rewrite_header(valid, lambda h: h.pop("layers.0.mask"))
    yield "wrong shape", rewrite_header(valid, lambda h: h["loc"].update(shape=[3]))
    yield "wrong dtype", rewrite_header(valid, lambda h: h["loc"].update(dtype="I8"))
    yield "huge tensor claim", rewrite_header(
        valid, lambda h: h["loc"].update(data_offsets=[0, 2**40]))
    yield "extra key", rewrite_header(valid, lambda h: h.update(
        extra={"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}))
    yield "nan weights", fc.to_bytes(_nan_flow())


def _nan_flow():
    flow = perturbed_flow("realnvp", 2, layers=2, hidden=4)
    with torch.no_grad():
        next(flow.parameters()).fill_(float("nan"))
    return flow


@pytest.mark.parametrize("name, data", list(_hostile_files()), ids=lambda v: v
                         if isinstance(v, str) else "")
def test_malformed_files_are_rejected_with_one_sentence(tmp_path, monkeypatch, name, data):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    with pytest.raises(ValueError) as err:
        fc.load(path)
    message = str(err.value)
    assert message and "\n" not in message and len(message) < 300
    assert not (tmp_path / "PWNED").exists(), "a pickle payload ran"


def test_version_mismatch_names_the_version():
    data = rewrite_header(_valid_bytes(), _meta_edit("file_format", "99"))
    data = rewrite_header(data, _meta_edit("flowcore_version", "9.9.9"))
    with pytest.raises(ValueError, match="made with flowcore 9.9.9"):
        fc.load(data)


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="No model file"):
        fc.load(tmp_path / "nope.safetensors")
