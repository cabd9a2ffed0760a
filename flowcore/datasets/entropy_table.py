r"""The toy recipes' entropies at their default parameters, precomputed.

Written by ``python -m bench.entropies`` (see its docstring for the method); do not edit by hand.
Each entry: the parameters it holds for, the entropy in nats, its standard error, and the number
of samples behind it. :class:`flowcore.datasets.toys.ToyDataset` returns these for its default
parameters and estimates other parameters at run time.
"""

# Computed 2026-12-01 with flowcore 0.1.0: Monte Carlo over the recipes' own samples, batches of
# 20,000 seeded 31_000_000 + i, until the standard error was below 0.00025 nats.
ENTROPIES: dict[str, dict] = {
    'moons': {'params': {'noise': 0.05}, 'entropy': 0.289257, 'se': 0.00025,
        'samples': 8_600_000},
    '8gaussians': {'params': {'noise': 0.5}, 'entropy': 2.832071, 'se': 0.0002499,
        'samples': 15_220_000},
    'circles': {'params': {'noise': 0.08}, 'entropy': 3.268086, 'se': 0.00025,
        'samples': 9_600_000},
    'rings': {'params': {'noise': 0.08}, 'entropy': 2.623259, 'se': 0.0002498,
        'samples': 12_380_000},
    'pinwheel': {'params': {}, 'entropy': 2.318008, 'se': 0.0002498,
        'samples': 15_200_000},
    '2spirals': {'params': {'noise': 0.1}, 'entropy': 2.645233, 'se': 0.0002498,
        'samples': 8_140_000},
    'swissroll': {'params': {'noise': 1.0}, 'entropy': 2.669687, 'se': 0.00025,
        'samples': 9_500_000},
}
