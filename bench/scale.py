r"""``python -m bench.scale``: large files and data-parallel training (issue 14).

- ``large_csv``: peak RSS of ``flowcore train --data big.csv`` on a CSV of 10⁶ rows × 64 columns
  (made here once, about 1.2 GB, under ``--workdir``), training a few steps on 100,000 rows;
  the target is under 3 GB. The same for the ``.npy`` copy (memory-mapped).
- ``ddp_throughput``: training steps/s of 1 process × 1 thread against ``torchrun`` with
  2 processes × 1 thread on the same global batch; the ratio is what data parallelism buys here.

Prints one JSON object; nothing is hard-coded, every figure is measured by this run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROWS, COLUMNS = 1_000_000, 64


def make_table(workdir: Path, rows: int = ROWS, columns: int = COLUMNS) -> tuple[Path, Path]:
    """A CSV and a .npy of correlated Gaussian rows (made once, in blocks, seed 0)."""
    csv, npy = workdir / f"big_{rows}x{columns}.csv", workdir / f"big_{rows}x{columns}.npy"
    if csv.exists() and npy.exists():
        return csv, npy
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(columns, columns)) / np.sqrt(columns)
    out = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=(rows, columns))
    with csv.open("w") as handle:
        handle.write(",".join(f"c{j + 1}" for j in range(columns)) + "\n")
        for start in range(0, rows, 50_000):
            block = (rng.normal(size=(min(50_000, rows - start), columns)) @ mixing)
            block = block.astype(np.float32)
            out[start: start + len(block)] = block
            np.savetxt(handle, block, delimiter=",", fmt="%.6g")
    out.flush()
    return csv, npy


def _peak_rss_of(command: list[str]) -> dict:
    """Runs ``command`` in a fresh child (the bench itself holds no table), returns its peak
    RSS and wall time."""
    probe = ("import resource, subprocess, sys, json, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(json.dumps({'rc': r.returncode, 'stderr': r.stderr[-500:], "
             "'wall_s': time.perf_counter() - t, "
             "'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))")
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def large_file(path: Path, workdir: Path, rows: int = ROWS) -> dict:
    out = workdir / f"model_{path.suffix[1:]}.safetensors"
    command = [sys.executable, "-m", "flowcore", "train", "--data", str(path), "--arch", "realnvp",
               "--layers", "4", "--hidden", "64", "--steps", "20", "--batch-size", "1024",
               "--n-train", str(min(rows, 100_000)), "--device", "cpu", "--out", str(out), "--json"]
    result = _peak_rss_of(command)
    result.update(file=path.name, file_mb=round(path.stat().st_size / 2**20, 1),
                  rows=rows, columns=COLUMNS,
                  table_mb_float32=round(rows * COLUMNS * 4 / 2**20, 1))
    return result


def ddp_throughput(workdir: Path, steps: int) -> dict:
    rng = np.random.default_rng(1)
    data = workdir / "ddp_16d.npy"
    np.save(data, (rng.normal(size=(40_000, 16)) @ rng.normal(size=(16, 16))).astype(np.float32))
    args = ["train", "--data", str(data), "--arch", "realnvp", "--layers", "6", "--hidden", "128",
            "--steps", str(steps), "--batch-size", "4096", "--n-train", "32000",
            "--device", "cpu", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for name, launcher in (("1_process", [sys.executable, "-m", "flowcore"]),
                           ("2_processes", [sys.executable, "-m", "torch.distributed.run",
                                            "--standalone", "--nproc-per-node", "2", "-m",
                                            "flowcore"])):
        out = workdir / f"ddp_{name}.safetensors"
        started = time.perf_counter()
        done = subprocess.run([*launcher, *args, "--out", str(out)], capture_output=True,
                              text=True, env=env, check=True)
        report = json.loads([line for line in done.stdout.splitlines()
                             if line.startswith("{")][-1])
        runs[name] = {"steps": report["steps"], "train_seconds": report["seconds"],
                      "steps_per_s": report["steps"] / report["seconds"],
                      "wall_s": round(time.perf_counter() - started, 1),
                      "test_nll": report["test_nll"]}
    ratio = runs["2_processes"]["steps_per_s"] / runs["1_process"]["steps_per_s"]
    return {"runs": runs, "ratio": round(ratio, 3), "global_batch": 4096,
            "note": "1 thread per process (the 1-process run too), same global batch"}


def measure(workdir: Path, only: set[str], rows: int = ROWS, ddp_steps: int = 100) -> dict:
    """The figures of the parts named in ``only``; the tables are made once under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    result: dict = {"machine": f"{platform.processor() or platform.machine()}, "
                               f"{os.cpu_count()} cores",
                    "load_average": list(os.getloadavg())}
    if only & {"large_csv", "large_npy"}:
        started = time.perf_counter()
        csv, npy = make_table(workdir, rows)
        result["table_made_s"] = round(time.perf_counter() - started, 1)
        for part, path in (("large_csv", csv), ("large_npy", npy)):
            if part in only:
                result[part] = large_file(path, workdir, rows)
    if "ddp_throughput" in only:
        result["ddp_throughput"] = ddp_throughput(workdir, ddp_steps)
    return result


def run(profile) -> dict:
    """``bench.run``'s section: the profile's table size and steps."""
    workdir = Path("/tmp/flowcore_bench_scale")
    return measure(workdir, {"large_csv", "large_npy", "ddp_throughput"}, profile.scale_rows,
                   profile.ddp_steps)


def render(sc: dict | None) -> list[str]:
    """The report's section (see :mod:`bench.report`)."""
    from bench.common import markdown_table

    lines = ["## 7. Large files and two processes", ""]
    if not sc:
        return lines + ["Not run (`--only scale`).", ""]
    files = [sc[k] for k in ("large_csv", "large_npy") if k in sc]
    if files:
        f0 = files[0]
        lines += [f"`flowcore train --data FILE --n-train {min(f0['rows'], 100_000):,} --steps 20 "
                  f"--batch-size 1024` (RealNVP 4×64) on a {f0['rows']:,} × {f0['columns']} "
                  f"table (float32: {f0['table_mb_float32']:.0f} MB), peak RSS of the process "
                  "(`getrusage` of the child). Target for 10⁶ × 64: under 3 GB. The RSS "
                  "includes Python, torch and pandas themselves.", ""]
        body = [[f["file"], f"{f['file_mb']:,.0f} MB", f"**{f['peak_rss_mb']:,.0f} MB**",
                 f"{f['wall_s']:.0f} s"] for f in files]
        lines += markdown_table(["File", "Size on disk", "Peak RSS", "Wall time"], body, "lrrr")
    ddp = sc.get("ddp_throughput")
    if ddp:
        runs = ddp["runs"]
        lines += [f"RealNVP 6×128 on 16-D data, global batch {ddp['global_batch']}, "
                  f"{runs['1_process']['steps']} steps, 1 thread per process, training time "
                  f"only; load average at the start {sc['load_average'][0]:.2f} (up to 2× is "
                  "possible on 2 idle cores).", ""]
        body = [["1 process", f"{runs['1_process']['steps_per_s']:.2f}"],
                ["2 processes (torchrun, DDP, gloo)", f"{runs['2_processes']['steps_per_s']:.2f}"],
                ["**ratio**", f"**{ddp['ratio']:.2f}×**"]]
        lines += markdown_table(["Run", "Steps/s"], body)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/flowcore_bench_scale")
    parser.add_argument("--ddp-steps", type=int, default=100)
    parser.add_argument("--only", default="large_csv,large_npy,ddp_throughput")
    args = parser.parse_args()
    result = measure(Path(args.workdir), set(args.only.split(",")), ROWS, args.ddp_steps)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
