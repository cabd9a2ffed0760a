"""The precomputed entropy table (flowcore.datasets.entropy_table, written by bench/entropies.py):
complete, precise as it claims, used at the default parameters only, and in agreement with an
independent Monte Carlo estimate."""

import math

import pytest

from bench import entropies
from flowcore import datasets
from flowcore.datasets import toys
from flowcore.datasets.entropy_table import ENTROPIES

ESTIMATED = tuple(name for name in datasets.names() if toys.exact_entropy(name) is None)


def test_every_recipe_without_a_formula_has_an_entry_at_its_defaults():
    assert tuple(ENTROPIES) == ESTIMATED
    for name, entry in ENTROPIES.items():
        assert entry["params"] == datasets.get(name).params, name


@pytest.mark.parametrize("name", ESTIMATED)
def test_entry_is_as_precise_as_claimed(name):
    # ±0.0005 nats at two standard errors, from the samples the standard error implies.
    entry = ENTROPIES[name]
    assert 0 < entry["se"] <= entropies.SE_TARGET
    assert entry["samples"] >= 1_000_000


@pytest.mark.parametrize("name", ESTIMATED)
def test_default_parameters_read_the_table(name):
    ds = datasets.get(name)
    assert (ds.entropy(), ds.entropy_se()) == (ENTROPIES[name]["entropy"], ENTROPIES[name]["se"])


def test_other_parameters_are_estimated_at_run_time():
    ds = datasets.get("moons", noise=0.1)
    assert ds.entropy() != ENTROPIES["moons"]["entropy"]
    assert 0 < ds.entropy_se() < toys.ENTROPY_SE_TARGET
    # a wider noise spreads the density: more entropy
    assert ds.entropy() > ENTROPIES["moons"]["entropy"] + 0.3


@pytest.mark.parametrize("name", ESTIMATED)
def test_table_agrees_with_an_independent_estimate(name):
    # 200,000 fresh samples from seeds the table did not use; four combined standard errors.
    entry = ENTROPIES[name]
    entropy, se, n = toys.monte_carlo_entropy(datasets.get(name), se_target=0.0,
                                              max_samples=200_000, seed=91_000_000)
    assert n == 200_000
    assert abs(entropy - entry["entropy"]) < 4 * math.hypot(se, entry["se"])


def test_monte_carlo_entropy_stops_at_its_target_and_reports_its_samples():
    entropy, se, n = toys.monte_carlo_entropy(datasets.get("8gaussians"), se_target=0.01)
    assert se < 0.01 and n == 20_000 * math.ceil(n / 20_000)
    # fewer samples than one batch needs is still one batch
    assert toys.monte_carlo_entropy(datasets.get("8gaussians"), max_samples=10)[2] == 20_000


def test_the_script_writes_a_module_that_reads_back():
    namespace: dict = {}
    exec(entropies.render(ENTROPIES), namespace)  # noqa: S102 - our own generated source
    assert namespace["ENTROPIES"] == ENTROPIES
