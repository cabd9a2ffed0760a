r"""``python -m bench.entropies``: compute the toy datasets' entropy table once, and write it.

The entropy of a toy recipe at its default parameters is shown beside every NLL (the chart's
entropy line, the CLI's ``entropy``, the benchmark tables), so it is computed once, precisely,
and shipped as :data:`flowcore.datasets.entropy_table.ENTROPIES` instead of being estimated at
run time. Each entry is the Monte Carlo mean of ``-log p(x)`` over samples drawn by the recipe's
own sampler (:func:`flowcore.datasets.toys.monte_carlo_entropy`, seeds ``TABLE_SEED + i``),
continued until its standard error is below ``SE_TARGET``: ±0.0005 nats at two standard
errors. Exact entropies (checkerboard) need no entry. ``tests/test_datasets_entropy.py`` checks
the table against an independent estimate at a looser tolerance.

Examples::

    python -m bench.entropies                 # every recipe, writes the table module
    python -m bench.entropies --only moons    # recompute one entry, keep the others
    python -m bench.entropies --dry-run       # print, write nothing
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import flowcore as fc
from flowcore.datasets import entropy_table, toys

SE_TARGET = 0.00025  # nats
MAX_SAMPLES = 40_000_000  # a cap that no recipe reaches at SE_TARGET (pinwheel needs ~16M)
TABLE_SEED = 31_000_000  # far from the run-time estimate's seeds and from users' seeds
TABLE_PATH = Path(entropy_table.__file__)

HEADER = '''r"""The toy recipes' entropies at their default parameters, precomputed.

Written by ``python -m bench.entropies`` (see its docstring for the method); do not edit by hand.
Each entry: the parameters it holds for, the entropy in nats, its standard error, and the number
of samples behind it. :class:`flowcore.datasets.toys.ToyDataset` returns these for its default
parameters and estimates other parameters at run time.
"""

# Computed {date} with flowcore {version}: Monte Carlo over the recipes' own samples, batches of
# 20,000 seeded {seed} + i, until the standard error was below {target} nats.
ENTROPIES: dict[str, dict] = {{
'''


def compute(name: str) -> dict:
    """One table entry: the recipe ``name`` at its default parameters."""
    dataset = fc.datasets.get(name)
    started = time.perf_counter()
    entropy, se, samples = toys.monte_carlo_entropy(dataset, SE_TARGET, MAX_SAMPLES, TABLE_SEED)
    print(f"{name}: {entropy:.5f} ± {se:.5f} nats from {samples:,} samples "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    return {"params": dataset.params, "entropy": round(entropy, 6), "se": round(se, 7),
            "samples": samples}


def render(table: dict[str, dict]) -> str:
    header = HEADER.format(date=time.strftime("%Y-%m-%d"), version=fc.__version__,
                           seed=f"{TABLE_SEED:_}", target=SE_TARGET)
    lines = [f"    {name!r}: {{'params': {e['params']!r}, 'entropy': {e['entropy']!r}, "
             f"'se': {e['se']!r},\n        'samples': {e['samples']:_}}},"
             for name, e in table.items()]
    return header + "\n".join(lines) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.entropies",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated recipes to recompute")
    parser.add_argument("--dry-run", action="store_true", help="print the module, write nothing")
    args = parser.parse_args(argv)
    names = [n for n in fc.datasets.names() if toys.exact_entropy(n) is None]
    chosen = names if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        parser.error(f"no table entry for {', '.join(unknown)}; choose from {', '.join(names)}")
    table = dict(entropy_table.ENTROPIES)
    for name in chosen:
        table[name] = compute(name)
    table = {n: table[n] for n in names if n in table}  # the recipes' order
    text = render(table)
    if args.dry_run:
        print(text)
    else:
        TABLE_PATH.write_text(text)
        print(f"wrote {TABLE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
