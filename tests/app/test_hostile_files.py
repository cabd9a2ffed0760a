"""Issue 6, model uploads: hostile .safetensors files through the Model page and flowcore.load.

Every hostile file gets exactly one clear error that names the file, the app raises nothing and
keeps working, no pickle payload ever runs, and memory stays bounded while a file claims huge
tensors.
"""

import json
import pickle
import struct

import numpy as np
import pytest
import torch
from app_helpers import (
    PeakRSS,
    chart_problems,
    messages,
    new_app,
    status,
    stop_all_jobs,
    upload,
)
from helpers import rewrite_header
from safetensors.torch import save as st_save

import flowcore as fc

pytestmark = pytest.mark.usefixtures("float32", "own_sessions")

KEY = "upload-model"
MEMORY_LIMIT = 64 * 2**20  # peak RSS growth allowed while the app rejects one hostile file


# -- building hostile files -----------------------------------------------------------------------
class Payload:
    """Unpickling this object writes ``path``: proof that a pickle payload ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').write('pwned')",)


def _trained() -> fc.Trainer:
    trainer = fc.Trainer(fc.FlowConfig(layers=2, hidden=8),
                         fc.TrainConfig(steps=10, eval_every=5, n_test=500),
                         fc.datasets.get("moons"))
    trainer.step(10)
    return trainer


TRAINER = _trained()
VALID = fc.to_bytes(TRAINER.best_flow(), info=TRAINER.info())
CONFIG = TRAINER.flow_config.to_dict()
# The largest config validation allows: building it allocates about 0.5 GB of weights.
LARGEST = {"arch": "nsf", "dim": 64, "layers": 32, "hidden": 512, "depth": 4, "bins": 32,
           "bound": 4.0, "shared_trunk": False}


def meta(key, value, data=VALID):
    def edit(header):
        header["__metadata__"][key] = value if isinstance(value, str) else json.dumps(value)
    return rewrite_header(data, edit)


def config(**changes):
    return meta("config", {**CONFIG, **changes})


def huge_weights() -> bytes:
    flow = TRAINER.best_flow()
    with torch.no_grad():
        for p in flow.parameters():
            p.fill_(1e30)
    return fc.to_bytes(flow, info=TRAINER.info())


def hostile_files(tmp_path):
    """(case, file name, bytes): each must be rejected with one clear error naming the file."""
    sentinel = tmp_path / "PWNED"
    torch_pickle = tmp_path / "torch.pt"
    torch.save({"weights": torch.zeros(3), "payload": Payload(sentinel)}, torch_pickle)
    tiny_header = {"__metadata__": {"format": "flowcore", "file_format": "1",
                                    "flowcore_version": "0.1.0", "config": json.dumps(LARGEST),
                                    "info": "{}"}}
    raw = json.dumps(tiny_header).encode()
    return [
        ("pickle", pickle.dumps({"weights": Payload(sentinel)})),
        ("torch.save", torch_pickle.read_bytes()),
        ("torch.save state_dict", _torch_save_state_dict(tmp_path)),
        ("empty", b""),
        ("truncated", VALID[: len(VALID) // 2]),
        ("truncated header", VALID[:40]),
        ("random bytes", np.random.default_rng(0).bytes(4096)),
        ("zeros", bytes(4096)),
        ("header length 2**62", struct.pack("<Q", 2**62) + b"{}"),
        ("tensor claims 2**40 bytes",
         rewrite_header(VALID, lambda h: h["loc"].update(data_offsets=[0, 2**40]))),
        ("tensor claims 2**40 elements",
         rewrite_header(VALID, lambda h: h["loc"].update(shape=[2**20, 2**20],
                                                  data_offsets=[0, 2**42]))),
        ("deeply nested header", struct.pack("<Q", 200_000) + b"[" * 200_000),
        ("not flowcore", st_save({"a": torch.zeros(2)})),
        ("unknown arch", config(arch="magic")),
        ("layers 10**6", config(layers=10**6)),
        ("hidden 10**9", config(hidden=10**9)),
        ("dim 10**6", config(dim=10**6)),
        ("negative layers", config(layers=-3)),
        ("config not a mapping", meta("config", [1, 2, 3])),
        ("config not json", meta("config", "{nope")),
        ("deeply nested config", meta("config", "[" * 100_000)),
        ("largest config, no weights", struct.pack("<Q", len(raw)) + raw),
        ("other file format", meta("flowcore_version", "9.9.9", meta("file_format", "99"))),
        ("nan weights", _nan_weights()),
    ]


def _torch_save_state_dict(tmp_path) -> bytes:
    path = tmp_path / "state.pt"
    torch.save(TRAINER.best_flow().state_dict(), path)
    return path.read_bytes()


def _nan_weights() -> bytes:
    flow = TRAINER.best_flow()
    with torch.no_grad():
        next(flow.parameters()).fill_(float("nan"))
    return fc.to_bytes(flow)


# Files flowcore.load may accept (they are well-formed) but whose odd metadata or weights the app
# must survive: no exception, no NaN in a panel (a clear error instead is fine too).
ODD_FILES = [
    ("info is a list", meta("info", [1, 2])),
    ("info dataset is a string", meta("info", {"dataset": "moons"})),
    ("info params is a list", meta("info", {"dataset": {"name": "moons", "params": [1]}})),
    ("info params out of range", meta("info", {"dataset": {"name": "moons",
                                                           "params": {"noise": 99}}})),
    ("info metrics is a string", meta("info", {"metrics": "<b>hi</b>"})),
    ("weights overflow to inf", huge_weights()),
]


# -- the app --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app():
    at = new_app()
    at.switch_page("pages/model.py").run()
    assert not at.exception
    yield at
    stop_all_jobs()


@pytest.fixture(scope="module")
def payload_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def hostile(payload_dir):
    return hostile_files(payload_dir)


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fail loudly if anything unpickles or torch.loads while a file is handled."""
    calls = []

    def spy(name, real):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(pickle, "loads", spy("pickle.loads", pickle.loads))
    monkeypatch.setattr(pickle, "load", spy("pickle.load", pickle.load))
    monkeypatch.setattr(torch, "load", spy("torch.load", torch.load))
    return calls


def _case_names():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        return [name for name, _ in hostile_files(Path(d))]


@pytest.mark.parametrize("case", _case_names())
def test_hostile_model_upload_gets_one_clear_error(app, hostile, payload_dir, no_unpickling,
                                                   case):
    data = dict(hostile)[case]
    name = case.replace(" ", "_").replace("*", "") + ".safetensors"
    with PeakRSS() as peak:
        upload(app, KEY, name, data)
    assert not app.exception, f"{case}: {[e.value for e in app.exception]}"
    errors = messages(app)
    assert len(errors) == 1, f"{case}: expected one error, got {errors}"
    message = errors[0]
    assert name in message, f"{case}: the error does not name the file: {message}"
    assert "\n" not in message and len(message) < 400, f"{case}: not one clear sentence: {message}"
    assert "Traceback" not in message
    assert not (payload_dir / "PWNED").exists(), f"{case}: a pickle payload ran"
    assert not no_unpickling, f"{case}: {no_unpickling} was called on an uploaded file"
    assert peak.growth < MEMORY_LIMIT, (
        f"{case}: memory grew by {peak.growth / 2**20:.0f} MB while rejecting a "
        f"{len(data):,}-byte file")
    # Nothing was loaded: no model panels, and the uploader is still there for the next try.
    assert not [c for c in app.get("plotly_chart") if (c.key or "").startswith("model-")]
    assert [u for u in app.get("file_uploader") if u.key == KEY]


def test_other_version_names_the_version(app):
    upload(app, KEY, "old.safetensors",
           meta("flowcore_version", "9.9.9", meta("file_format", "99")))
    assert not app.exception
    assert "made with flowcore 9.9.9" in messages(app)[0]


@pytest.mark.parametrize("case", [name for name, _ in ODD_FILES])
def test_odd_but_wellformed_model_never_breaks_the_page(app, case):
    data = dict(ODD_FILES)[case]
    upload(app, KEY, "odd.safetensors", data)
    assert not app.exception, f"{case}: {[str(e.value) for e in app.exception]}"
    errors = messages(app)
    if errors:  # a clear rejection is fine
        assert len(errors) == 1 and "odd.safetensors" in errors[0], errors
    else:
        problems = chart_problems(app)
        assert not problems, f"{case}: {problems}"


def test_continue_training_a_model_with_the_largest_step_budget():
    """A model trained with the UI's largest step budget can be continued (no exception)."""
    app = new_app()
    app.switch_page("pages/model.py").run()
    info = TRAINER.info()
    info["train_config"] = {**info["train_config"], "steps": fc.TrainConfig.limits("steps")[1]}
    upload(app, KEY, "long.safetensors", meta("info", info))
    assert not app.exception and not app.error
    app.button(key="continue-training").click().run()
    assert not app.exception, [str(e.value) for e in app.exception]
    stop_all_jobs()


def test_the_app_keeps_working_after_hostile_uploads(app):
    upload(app, KEY, "good.safetensors", VALID)
    assert not app.exception and not app.error, messages(app)
    assert len([c for c in app.get("plotly_chart") if (c.key or "").startswith("model-")]) == 3
    assert not chart_problems(app)
    app.switch_page("pages/train.py").run()
    assert not app.exception and "step" in status(app)


# -- the same files straight through flowcore.load ------------------------------------------------
@pytest.mark.parametrize("case", _case_names())
def test_flowcore_load_rejects_with_a_value_error(hostile, payload_dir, no_unpickling, case):
    data = dict(hostile)[case]
    with PeakRSS() as peak, pytest.raises(ValueError) as err:
        fc.load(data)
    message = str(err.value)
    assert message and "\n" not in message and len(message) < 300, message
    assert not (payload_dir / "PWNED").exists() and not no_unpickling
    assert peak.growth < MEMORY_LIMIT, f"{case}: grew {peak.growth / 2**20:.0f} MB"


@pytest.mark.parametrize("case", [name for name, _ in ODD_FILES])
def test_flowcore_load_gives_info_as_a_mapping(case):
    try:
        _, info = fc.load_with_info(dict(ODD_FILES)[case])
    except ValueError:
        return
    assert isinstance(info, dict), f"{case}: info is {type(info).__name__}"
