r"""Fixed data: what every uploaded CSV gets, measured on the seed's 3000 moons (issue 11).

- ``goal``: ``flowcore train --data moons3000.csv --max-seconds S`` for each ``S`` of the
  profile (30 and 60 s in ``make bench``), run as a user runs it (a child process with the CLI's
  own threads). The file holds ``make_moons(3000, noise=0.05, random_state=0)``; the KL is that of
  the saved model (the weights chosen on the validation rows) on the external test set
  ``make_moons(20000, noise=0.05, random_state=1)`` under the true moons density
  (:func:`bench.common.external_kl`). Goal: KL ≤ 0.03 at 30 s, and 60 s no worse.
- ``table``: every architecture on the same 3000 rows, split as the CLI splits them, trained
  with the fixed-data recipe (:func:`flowcore.presets.fixed_data_preset`, the architecture's
  good size adapted to the data by the same rule), beside zuko's NSF at the parameter count of
  flowcore's NSF row, trained identically. Rows train in a round robin of time slices; at each
  time of :func:`bench.common.eval_times` the *kept* weights (chosen on validation so far) are
  scored on the external test set, so no figure was chosen by the test set.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import flowcore as fc
from bench import common
from bench.common import (
    GOOD_FLOWS,
    Profile,
    count_parameters,
    external_kl,
    log,
    markdown_table,
)
from bench.peers import match_hidden, peer_trainer
from bench.time_to_quality import Row, _Run, round_robin
from flowcore.presets import DEFAULT_PRESET, PRESETS, Preset, fixed_data_preset

THRESHOLDS = (0.06, 0.04, 0.03)


def write_task_csv(directory: Path) -> Path:
    """``moons3000.csv``: the seed task's 3000 points as a user would save them."""
    path = directory / "moons3000.csv"
    np.savetxt(path, common.task_points(), delimiter=",", header="x1,x2", comments="")
    return path


def cli_run(csv: Path, seconds: float, out: Path) -> dict[str, Any]:
    """``flowcore train --data CSV --max-seconds S --json`` in a child process, scored."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flowcore", "train", "--data", str(csv),
                           "--max-seconds", f"{seconds:g}", "--out", str(out), "--json"],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    kl, kl_se = external_kl(fc.load(out))
    return {"max_seconds": seconds, "steps": report["steps"], "train_seconds": report["seconds"],
            "best_step": report["best_step"], "recipe": report["recipe"],
            "split": report["split"], "kl": kl, "kl_se": kl_se,
            "wall_seconds": time.perf_counter() - started}


def goal(profile: Profile) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flowcore_fixed_") as tmp:
        csv = write_task_csv(Path(tmp))
        runs = []
        for seconds in profile.fixed_goal_seconds:
            runs.append(cli_run(csv, seconds, Path(tmp) / f"m{seconds:g}.safetensors"))
            r = runs[-1]
            log(f"fixed data: --max-seconds {seconds:g}: KL {r['kl']:.4f} ± {r['kl_se']:.4f} "
                f"({r['steps']} steps, kept step {r['best_step']})")
    return {"command": "flowcore train --data moons3000.csv --max-seconds S", "runs": runs,
            "goal_kl": 0.03, "stretch_kl": 0.025}


# -- the table -------------------------------------------------------------------------------
def training_rows(dataset) -> int:
    """The rows the CLI's split leaves to train on (the split does not depend on the flow)."""
    best = PRESETS[DEFAULT_PRESET]
    flow = dataclasses.replace(best.flow, dim=dataset.dim, layers=1, hidden=2)
    train = dataclasses.replace(best.train, data_mode="fixed")
    return fc.Trainer(flow, train, dataset).split_sizes["train"]


def _recipe(arch: str, n_train: int) -> Preset:
    """The fixed-data recipe with ``arch`` at its good size, adapted to ``n_train`` points."""
    best = PRESETS[DEFAULT_PRESET]
    base = Preset(arch, "", dataclasses.replace(GOOD_FLOWS[arch]), best.train)
    if arch == best.flow.arch:
        base = best  # the CLI's own recipe
    return fixed_data_preset(n_train, base)


def _trainer_config(preset: Preset, budget: float) -> fc.TrainConfig:
    # As the CLI runs the adapted recipe: its own step count, the time budget on top; the
    # Trainer's evaluations (validation, which chooses the kept weights) every eval_every steps.
    return dataclasses.replace(preset.train, max_seconds=budget, eval_seconds=0.0,
                               seed=common.SEED)


def _external(trainer: fc.Trainer, flow) -> tuple[float, float]:
    return external_kl(flow)


def rows(dataset) -> list[Row]:
    """flowcore's architectures with the fixed-data recipe, and zuko's NSF beside its NSF."""
    n_train = training_rows(dataset)
    out = []
    for arch in GOOD_FLOWS:
        preset = _recipe(arch, n_train)
        flow = dataclasses.replace(preset.flow, dim=dataset.dim)

        def make(budget: float, flow=flow, preset=preset) -> fc.Trainer:
            return fc.Trainer(flow, _trainer_config(preset, budget), dataset)

        out.append(Row(f"flowcore_{arch}", f"flowcore {common.flow_label(flow)}", "flowcore",
                       preset.label, make, _external))
    nsf = _recipe("nsf", n_train)
    nsf_flow = dataclasses.replace(nsf.flow, dim=dataset.dim)
    try:
        hidden = match_hidden("zuko", "nsf", nsf_flow.layers,
                              count_parameters(fc.build_flow(nsf_flow)))
    except ImportError as err:
        log(f"fixed data: skipping zuko ({err})")
        return out

    def make_zuko(budget: float) -> fc.Trainer:
        return peer_trainer("zuko", "nsf", nsf_flow.layers, hidden,
                            _trainer_config(nsf, budget), dataset)

    out.append(Row("zuko_nsf", f"zuko nsf {nsf_flow.layers}×{hidden} (params of flowcore nsf)",
                   "zuko", "flowcore nsf's recipe", make_zuko, _external))
    return out


def table(profile: Profile) -> dict[str, Any]:
    budget = profile.fixed_table_seconds
    dataset = fc.datasets.from_array(common.task_points(), name="moons3000")
    runs = [_Run(row, profile, budget) for row in rows(dataset)]
    log(f"fixed data: {len(runs)} rows × {budget:g} training s, round robin")
    round_robin(runs, profile.ttq_slice)
    results = [r.result() for r in runs]
    for r in results:
        log(f"fixed data: {r['key']}: kept KL {r['best_kl']:.4f} (step {r['best_kl_step']} of "
            f"{r['steps']})")
    return {"budget_s": budget, "n_rows": len(dataset.data),
            "split": runs[0].trainer.split_sizes, "thresholds": list(THRESHOLDS),
            "rows": results}


def run(profile: Profile) -> dict[str, Any]:
    return {"what": "fixed 3000 moons as a CSV; KL of the weights chosen on validation, on "
                    "make_moons(20000, noise=0.05, random_state=1)",
            "load_average": common.machine()["load_average"],
            "goal": goal(profile), "table": table(profile)}


def render(fd: dict[str, Any] | None) -> list[str]:
    """The report's section (see :mod:`bench.report`)."""
    lines = ["## Fixed data: 3000 moons as a CSV", ""]
    if not fd:
        return lines + ["Not run (`--only fixed_data`).", ""]
    g = fd["goal"]
    lines += [
        "The path every uploaded CSV takes: `flowcore train --data moons3000.csv` with the "
        "file holding `make_moons(3000, noise=0.05, random_state=0)`. KL (nats) of the saved "
        "model, the weights chosen on the file's validation rows, on the external test set "
        "`make_moons(20000, noise=0.05, random_state=1)`: the mean of log p − log q under the "
        f"true moons density, ± its standard error. Goal: ≤ {g['goal_kl']} at 30 s (stretch "
        f"≤ {g['stretch_kl']}), and 60 s no worse. Load average at the start: "
        f"{' / '.join(f'{v:.2f}' for v in fd.get('load_average') or [])}.", ""]
    body = [[f"`--max-seconds {r['max_seconds']:g}`", f"{r['kl']:.4f} ± {r['kl_se']:.4f}",
             f"{r['steps']:,}", f"{r['best_step']:,}", f"{r['train_seconds']:.1f} s",
             r["recipe"]] for r in g["runs"]]
    lines += markdown_table(["Command", "KL", "Steps", "Kept step", "Training time", "Recipe"],
                          body, "lrrrrl")
    t = fd["table"]
    lines += [
        f"Every architecture on the same rows ({t['split']['train']:,} train / "
        f"{t['split']['validation']:,} validation / {t['split']['test']:,} test), each with the "
        f"fixed-data recipe for {t['split']['train']:,} points and a {t['budget_s']:g} s budget, "
        "beside zuko's NSF at the parameter count of flowcore's, trained by the same Trainer and "
        "recipe. A time is the first evaluation at which the kept weights (chosen on "
        "validation) reach the KL; *kept KL* is theirs at the end.", ""]
    body = []
    for r in t["rows"]:
        times = [r["time_to"].get(f"{th:.2f}") for th in t["thresholds"]]
        body.append([r["label"], f"{r['params'] / 1000:.1f}k", f"{r['steps']:,}",
                     *["—" if x is None else f"{x['time']:.1f} s" for x in times],
                     "—" if r["best_kl"] is None else
                     f"{r['best_kl']:.4f} ± {r['best_kl_se']:.4f}", f"{r['best_kl_step']:,}"])
    header = ["Row", "Params", "Steps", *[f"t(KL ≤ {th:.2f})" for th in t["thresholds"]],
              "Kept KL", "Kept step"]
    lines += markdown_table(header, body)
    return lines
