"""Data-parallel training under torchrun (gloo, 2 processes × 1 thread) and the device choice."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import flowcore as fc
from flowcore import distributed

HERE = Path(__file__).parent
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
            "2"]
ENV = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}


def _run(command, timeout=240):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV,
                          cwd=HERE.parent)


def test_two_processes_follow_the_one_process_loss_curve(tmp_path):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert _run([sys.executable, str(HERE / "ddp_worker.py"), str(one)]).returncode == 0
    done = _run(TORCHRUN + [str(HERE / "ddp_worker.py"), str(two)])
    assert done.returncode == 0, done.stderr[-2000:]
    single, pair = json.loads(one.read_text()), json.loads(two.read_text())
    assert (single["world_size"], pair["world_size"]) == (1, 2)
    assert len(single["loss"]) == len(pair["loss"]) == 50
    # Same global full batch: the curves agree to float32 rounding, step for step.
    np.testing.assert_allclose(pair["loss"], single["loss"], rtol=0, atol=1e-4)
    assert single["loss"][-1] < single["loss"][0] - 0.01  # and it did learn


def test_glow_starts_from_rank_0s_data_dependent_actnorm_on_every_rank(tmp_path):
    out = tmp_path / "glow.json"
    env = {**ENV, "ARCH": "glow", "EVERY_RANK": "1", "STEPS": "2"}
    done = subprocess.run(TORCHRUN + [str(HERE / "ddp_worker.py"), str(out)], env=env,
                          capture_output=True, text=True, timeout=240, cwd=HERE.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    rank0, rank1 = (json.loads(Path(f"{out}.rank{r}").read_text()) for r in (0, 1))
    actnorm = [key for key in rank0 if key.endswith("log_scale")]
    assert actnorm and any(np.abs(rank0[key]).max() > 0 for key in actnorm)  # data-dependent
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)


def _table(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savetxt(path, rng.normal(size=(400, 3)), delimiter=",", header="a,b,c", comments="")
    return path


def test_torchrun_cli_saves_once_with_world_size(tmp_path):
    out = tmp_path / "model.safetensors"
    done = _run(TORCHRUN + ["-m", "flowcore", "train", "--data", str(_table(tmp_path / "t.csv")),
                            "--layers", "2", "--hidden", "16", "--steps", "30", "--device",
                            "cpu", "--out", str(out), "--json"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert len([line for line in done.stdout.splitlines() if line.startswith("{")]) == 1
    info = fc.read_metadata(out.read_bytes())["info"]
    info = json.loads(info) if isinstance(info, str) else info
    assert info["world_size"] == 2 and info["split_sizes"]["train"] == 320
    assert fc.load(out).log_prob(torch.zeros(1, 3)).isfinite().all()
    assert list(tmp_path.glob("*.partial")) == []


def test_a_dying_rank_stops_the_run_and_nothing_is_saved(tmp_path):
    out = tmp_path / "model.safetensors"
    done = _run(TORCHRUN + [str(HERE / "dying_rank.py"), "train", "--data",
                            str(_table(tmp_path / "t.csv")), "--layers", "2", "--hidden", "16",
                            "--steps", "1000000", "--batch-size", "64", "--device", "cpu",
                            "--out", str(out)])
    assert done.returncode != 0
    assert "rank" in done.stderr.lower()  # torchrun or flowcore names the failed process
    assert not out.exists() and list(tmp_path.glob("*.partial")) == []


def test_device_auto_is_the_cpu_without_cuda_and_cuda_is_refused_clearly():
    assert fc.TrainConfig().device == "auto"
    if not torch.cuda.is_available():
        assert distributed.resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            distributed.resolve_device("cuda")
    with pytest.raises(ValueError, match="device"):
        fc.TrainConfig(device="tpu")


def _small_trainer(device: str) -> fc.Trainer:
    return fc.Trainer(fc.FlowConfig(dim=2, layers=2, hidden=16),
                      fc.TrainConfig(steps=20, eval_seconds=0, eval_every=10, n_train=200,
                                     n_val=100, n_test=100, device=device),
                      fc.datasets.get("moons"))


def test_cpu_trainer_saves_a_file_that_records_its_device(tmp_path):
    trainer = _small_trainer("cpu")
    trainer.step(20)
    assert trainer.info()["device"] == "cpu" and trainer.info()["world_size"] == 1
    fc.save(trainer.best_flow(), tmp_path / "m.safetensors", trainer.info())
    assert math.isfinite(fc.load(tmp_path / "m.safetensors").log_prob(torch.zeros(1, 2)).item())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_a_gpu_trained_model_loads_on_the_cpu(tmp_path):
    trainer = _small_trainer("cuda")
    trainer.step(20)
    assert next(trainer.flow.parameters()).is_cuda
    flow = trainer.best_flow()
    assert not next(flow.parameters()).is_cuda
    fc.save(flow, tmp_path / "m.safetensors", trainer.info())
    loaded = fc.load(tmp_path / "m.safetensors")
    x = torch.randn(5, 2)
    torch.testing.assert_close(loaded.log_prob(x), flow.log_prob(x))
