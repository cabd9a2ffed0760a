"""The command line: train, eval and sample, their JSON output, and one-line errors."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import flowcore as fc
from flowcore.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowcore", *args], capture_output=True,
                          text=True, timeout=300)


def test_help_explains_every_command():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("train", "eval", "sample"):
        assert command in out.stdout
    train_help = run_cli("train", "--help").stdout
    for option in ("--dataset", "--arch", "--preset", "--max-seconds", "--data", "--out"):
        assert option in train_help


def test_train_eval_sample_round_trip(tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    assert main(["train", "--dataset", "8gaussians", "--steps", "100", "--layers", "2",
                 "--hidden", "16", "--out", str(model), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["steps"] == 100 and trained["kl"] is not None
    assert fc.load(model).config.layers == 2

    assert main(["eval", str(model), "--json", "-n", "5000"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["dataset"] == "8gaussians"
    # Paired KL (mean of log p - log q): within noise of the NLL minus the entropy.
    noise = 4 * (evaluated["kl_se"] + evaluated["entropy_se"])
    assert 0 < evaluated["kl_se"] < 0.05
    assert abs(evaluated["kl"] - (evaluated["test_nll"] - evaluated["entropy"])) < noise
    assert trained["kl_se"] > 0 and trained["split"]["validation"] == 5000
    assert evaluated["bits_per_dim"] == pytest.approx(evaluated["test_nll"] / (2 * np.log(2)))

    samples = tmp_path / "s.csv"
    assert main(["sample", str(model), "-n", "50", "--out", str(samples), "--json"]) == 0
    data = np.loadtxt(samples, delimiter=",", skiprows=1)
    assert data.shape == (50, 2) and np.isfinite(data).all()


def test_eval_of_a_table_scores_only_the_test_rows_of_the_models_split(tmp_path, capsys):
    rows = np.random.default_rng(0).normal(size=(400, 2)) @ [[1.0, 0.5], [0.0, 0.7]]
    csv = tmp_path / "table.csv"
    np.savetxt(csv, rows, delimiter=",", header="a,b", comments="")
    model = tmp_path / "t.safetensors"
    assert main(["train", "--data", str(csv), "--steps", "30", "--layers", "2", "--hidden", "16",
                 "--out", str(model), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert main(["eval", str(model), "--data", str(csv), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    # The same 40 test rows and the same kept weights: the training run's own test NLL.
    assert evaluated["n"] == trained["split"]["test"] == 40
    assert evaluated["test_nll"] == pytest.approx(trained["test_nll"], abs=1e-4)
    assert evaluated["points"] == "the test rows of the model's split"


def test_preset_seed_is_the_seed_configuration(tmp_path, capsys):
    model = tmp_path / "seed.safetensors"
    assert main(["train", "--preset", "seed", "--steps", "2", "--out", str(model), "--json"]) == 0
    meta = fc.read_metadata(model)
    assert meta["config"]["arch"] == "realnvp" and meta["config"]["layers"] == 6
    assert meta["config"]["hidden"] == 128 and meta["config"]["shared_trunk"] is False
    train = meta["info"]["train_config"]
    assert train["batch_size"] == 0 and train["lr"] == 1e-3 and train["n_train"] == 3000


def test_max_seconds_is_respected(tmp_path, capsys):
    started = time.perf_counter()
    assert main(["train", "--max-seconds", "2", "--out", str(tmp_path / "m.safetensors"),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # The budget is checked before every step, so it overshoots by at most one step (well under
    # a second here, even on a loaded machine).
    assert 2.0 <= result["seconds"] < 3.5
    assert time.perf_counter() - started < 20  # set-up and saving included


def test_train_on_a_csv(tmp_path, capsys):
    points = np.random.default_rng(0).normal(size=(300, 3))
    csv = tmp_path / "points.csv"
    np.savetxt(csv, points, delimiter=",", header="a,b,c", comments="")
    model = tmp_path / "m.safetensors"
    assert main(["train", "--data", str(csv), "--steps", "20", "--out", str(model),
                 "--json"]) == 0
    assert fc.load(model).config.dim == 3
    result = json.loads(capsys.readouterr().out)
    # Fixed data: the defaults adapt (3/4 of the layers, a schedule that ends).
    from flowcore.presets import PRESETS

    assert fc.load(model).config.layers == 3 * PRESETS["best"].flow.layers // 4
    assert "adapted to 240 fixed points" in result["recipe"]
    assert result["split"] == {"train": 240, "validation": 30, "test": 30}
    assert result["kl"] is None and result["val_nll"] is not None
    assert main(["train", "--data", str(csv), "--steps", "5", "--out", str(model)]) == 0
    out = capsys.readouterr()
    assert "240 train / 30 validation (chooses the kept weights) / 30 test" in out.err
    assert "split: train 240, validation 30, test 30" in out.out


@pytest.mark.parametrize("args, needle", [
    (["train", "--dataset", "nope"], "unknown dataset"),
    (["train", "--data", "/nonexistent.csv"], "no such file"),
    (["eval", "/nonexistent.safetensors"], "No model file"),
    (["train", "--layers", "0", "--steps", "1"], "layers"),
    (["train", "--lr", "-1", "--steps", "1"], "lr"),
])
def test_errors_are_one_line_without_traceback(args, needle):
    out = run_cli(*args)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_a_garbage_model_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04garbage")
    out = run_cli("sample", str(bad))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
