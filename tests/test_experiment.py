"""flowcore.experiment: what a sidebar change does to a run, presets, Continue's budget."""

import dataclasses

import pytest

import flowcore as fc
from flowcore.experiment import Experiment, continued, matching_preset
from flowcore.presets import PRESETS


def test_only_a_learning_rate_change_keeps_the_model():
    seed = Experiment.from_preset("seed")
    faster = dataclasses.replace(seed, train=dataclasses.replace(seed.train, lr=2e-3))
    assert not faster.needs_new_model(seed)
    for change in ({"steps": 500}, {"batch_size": 64}, {"seed": 1}):
        other = dataclasses.replace(seed, train=dataclasses.replace(seed.train, **change))
        assert other.needs_new_model(seed), change
    assert dataclasses.replace(seed, dataset_name="circles").needs_new_model(seed)


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_is_recognised_and_a_changed_field_is_custom(name):
    preset = PRESETS[name]
    assert matching_preset(preset.flow, preset.train) == name
    wider = dataclasses.replace(preset.flow, hidden=preset.flow.hidden + 1)
    assert matching_preset(wider, preset.train) is None
    assert matching_preset(dataclasses.replace(preset.flow, dim=5), preset.train) == name


def test_continuing_adds_to_the_budget_within_its_range():
    assert continued(fc.TrainConfig(steps=700)).steps == 700 + 10_000
    most = int(fc.TrainConfig.limits("steps")[1])
    assert continued(fc.TrainConfig(steps=most)).steps == most
