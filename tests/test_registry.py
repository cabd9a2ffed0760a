"""flowcore.flows' registry and Layer protocol: adding an architecture is one register() call."""

import json

import numpy as np
import pytest
import torch
from helpers import rewrite_header

import flowcore as fc
from flowcore import analysis, flows
from flowcore.flows import FlowLayer


def test_the_builtin_architectures_are_registered_in_the_configs_order():
    assert flows.names() == fc.ARCHITECTURES
    labels = {arch.name: arch.label for arch in flows.architectures()}
    assert labels["realnvp"] == "RealNVP (affine coupling)"
    assert all(labels.values())


def test_an_unknown_architecture_is_refused_by_name():
    with pytest.raises(ValueError, match="elementwise"):
        fc.FlowConfig(arch="elementwise")
    with pytest.raises(ValueError, match="unknown architecture"):
        flows.architecture("elementwise")
    with pytest.raises(ValueError, match="built in"):
        flows.unregister("realnvp")


def test_a_registered_architecture_trains_saves_loads_and_shows_inside(tmp_path, elementwise):
    config = fc.FlowConfig(arch="elementwise", dim=2, layers=2)
    train = fc.TrainConfig(steps=60, lr=0.05, n_train=500, n_test=500, eval_every=20)
    trainer = fc.Trainer(config, train, fc.datasets.get("8gaussians"))
    before = trainer.test_nll()
    trainer.step(60)
    assert trainer.best_test_nll < before - 0.1  # it learned through the Trainer
    flow = trainer.best_flow()
    path = tmp_path / "elementwise.safetensors"
    fc.save(flow, path, info=trainer.info())
    loaded, info = fc.load_with_info(path)
    assert loaded.config == config and info["dataset"]["name"] == "8gaussians"
    x = torch.randn(50, 2, dtype=loaded.loc.dtype)
    assert torch.equal(loaded.log_prob(x), flow.to(loaded.loc.dtype).log_prob(x))
    # the inside views read its capabilities, not its class
    step = analysis.layer_at_point(loaded, 1, [0.1, 0.2])
    assert step.mask is None and step.scale is not None
    np.testing.assert_allclose(step.output, step.input * np.exp(step.scale) + step.shift)
    assert analysis.coupling_masks(loaded) == []


def test_a_file_smaller_than_its_architectures_rule_is_refused(elementwise):
    flow = fc.build_flow(fc.FlowConfig(arch="elementwise", dim=2, layers=2))

    def claim_32_layers(header):
        config = json.loads(header["__metadata__"]["config"])
        header["__metadata__"]["config"] = json.dumps({**config, "layers": 32})

    with pytest.raises(ValueError, match="needs at least 512"):  # 4 bytes x 2 x 32 x 2
        fc.load(rewrite_header(fc.to_bytes(flow), claim_32_layers))


def test_every_layer_declares_its_capabilities():
    for arch in fc.ARCHITECTURES:
        flow = fc.build_flow(fc.FlowConfig(arch=arch, dim=3, layers=2, hidden=8))
        for layer in flow.layers:
            assert isinstance(layer, FlowLayer) and layer.label
            mask = layer.coupling_mask()
            assert mask is None or mask.shape == (3,)
