r"""``python -m bench.run``: run the benchmark sections, write JSON, regenerate the report.

Examples::

    python -m bench.run --profile quick                      # make bench-quick
    python -m bench.run --profile full --report docs/benchmarks.md   # make bench
    python -m bench.run --profile quick --only throughput,sampling
    python -m bench.run --profile full --table-seconds 60    # the KL table at 60 s a cell

Results go to ``bench/results/<profile>/<section>.json`` (one file per section, rewritten as
each section finishes), then :mod:`bench.report` renders every JSON file found there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from bench import (
    common,
    dashboard,
    fixed_data,
    kl_table,
    live_view,
    real_data,
    report,
    sampling,
    scale,
    seed_curve,
    throughput,
    time_to_quality,
)
from flowcore.job import configure_threads

SECTIONS = {
    "throughput": throughput.run,
    "sampling": sampling.run,
    "dashboard": dashboard.run,
    "live_view": live_view.run,
    "time_to_quality": time_to_quality.run,
    "kl_table": kl_table.run,
    "seed_curve": seed_curve.run,
    "fixed_data": fixed_data.run,
    "real_data": real_data.run,
    "scale": scale.run,
}
# Rough wall-clock cost of the parts that are not fixed training budgets, per profile
# (sampling, figures, warm-ups, memory probe, worker start-up, entropies) on a 2-core machine.
_OVERHEAD_S = {"quick": 60.0, "full": 150.0}
_TTQ_ROWS, _EVAL_OVERHEAD = 9, 1.12


def planned_seconds(profile: common.Profile, sections: list[str]) -> float:
    """An estimate of the run's wall time from its budgets, printed before it starts."""
    total = _OVERHEAD_S.get(profile.name, 150.0)
    if "time_to_quality" in sections:
        total += _TTQ_ROWS * profile.ttq_seconds * _EVAL_OVERHEAD
    if "kl_table" in sections:
        cells = len(kl_table.COLUMNS) * len(kl_table.MODES) * len(kl_table.datasets_with_entropy())
        total += cells * profile.table_seconds * 1.1 / max(1, profile.table_workers)
    if "seed_curve" in sections:
        total += 2 * 800 / 13.0  # two curves of 800 full-batch steps at the seed's ~13 steps/s
    if "throughput" in sections:
        total += 2 * 17 * profile.throughput_rounds * profile.throughput_window
    if "fixed_data" in sections:  # the CLI runs (plus start-up), then the table's six rows
        total += sum(s + 5 for s in profile.fixed_goal_seconds)
        total += 6 * profile.fixed_table_seconds * _EVAL_OVERHEAD
    if "real_data" in sections:
        total += sum(max(1.0, real_data.PLAN[n][0] * profile.real_data_scale) * len(
            real_data.PLAN[n][1]) + 5 for n in profile.real_data_names)
    if "scale" in sections:  # writing the table (about 1 min per 10^6 rows), 2 CLI runs, DDP
        total += 60 * profile.scale_rows / 1e6 + 2 * 45 * profile.scale_rows / 1e6 + 20
        total += 2 * profile.ddp_steps / 8.0
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", choices=sorted(common.PROFILES), default="quick")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--results", type=Path, help="default: bench/results/<profile>")
    parser.add_argument("--report", type=Path,
                        help="where to write the Markdown (default: <results>/benchmarks.md)")
    parser.add_argument("--threads", type=int,
                        help="torch threads (default: flowcore's own choice, as users get it)")
    parser.add_argument("--ttq-seconds", type=float)
    parser.add_argument("--table-seconds", type=float)
    args = parser.parse_args(argv)

    profile = common.with_overrides(common.PROFILES[args.profile], ttq_seconds=args.ttq_seconds,
                                    table_seconds=args.table_seconds)
    sections = list(SECTIONS) if not args.only else [s.strip() for s in args.only.split(",")]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    results = args.results or common.RESULTS_ROOT / profile.name
    report_path = args.report or results / "benchmarks.md"

    if args.threads:
        torch.set_num_threads(args.threads)
    else:
        configure_threads()
    started = time.perf_counter()
    planned = planned_seconds(profile, sections)
    machine = common.machine()
    common.log(f"profile {profile.name}: sections {', '.join(sections)}; "
               f"planned about {planned / 60:.1f} min; torch {machine['torch']}, "
               f"{machine['torch_threads']} thread(s), {machine['cores']} core(s)")
    load = (machine["load_average"] or [0.0])[0]
    if load > 0.75 * (machine["cores"] or 1):
        common.log(f"warning: the machine is busy (load {load:.1f} on {machine['cores']} cores); "
                   "rates will be low and the run slower than planned")
    run_info = {"profile": profile.name, "budgets": profile.__dict__, "sections": sections,
                "planned_seconds": planned, "machine": machine, "status": "running"}
    common.write_result(results, "run", run_info)

    timings = {}
    for name in sections:
        section_started = time.perf_counter()
        payload = SECTIONS[name](profile)
        timings[name] = time.perf_counter() - section_started
        payload["wall_seconds"] = timings[name]
        payload["profile"] = profile.name
        common.write_result(results, name, payload)
        common.log(f"{name}: {timings[name]:.0f} s")

    run_info.update(status="finished", wall_seconds=time.perf_counter() - started,
                    section_seconds=timings,
                    load_average_end=common.machine()["load_average"])
    common.write_result(results, "run", run_info)
    report.write(results, report_path)
    common.log(f"done in {run_info['wall_seconds'] / 60:.1f} min; wrote {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
