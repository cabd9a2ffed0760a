"""flowcore.flows' registry and Layer protocol: adding an architecture is one register() call."""

import json

import numpy as np
import pytest
import torch
from helpers import rewrite_header

import flowcore as fc
from flowcore import analysis, flows
from flowcore.flows import Architecture, FlowLayer


class ElementwiseAffine(FlowLayer):
    r"""``z = x * exp(log_scale) + shift``, the same for every point: the smallest flow layer.
    It starts away from the identity, so training has something to undo."""

    label = "elementwise affine"

    def __init__(self, dim: int):
        super().__init__()
        self.log_scale = torch.nn.Parameter(torch.full((dim,), 0.5))
        self.shift = torch.nn.Parameter(torch.full((dim,), 0.3))

    def forward(self, x):
        return x * torch.exp(self.log_scale) + self.shift, self.log_scale.sum().expand(len(x))

    def inverse(self, z):
        return (z - self.shift) * torch.exp(-self.log_scale)

    def scale_shift(self, x):
        return self.log_scale.expand_as(x), self.shift.expand_as(x)


def build_elementwise(config: fc.FlowConfig) -> fc.Flow:
    return fc.Flow(config, [ElementwiseAffine(config.dim) for _ in range(config.layers)])


@pytest.fixture
def elementwise():
    """The one place the extra architecture is registered (and removed again)."""
    arch = flows.register(Architecture("elementwise", "Elementwise affine", build_elementwise,
                                       min_weights=lambda config: 2 * config.layers * config.dim))
    yield arch
    flows.unregister("elementwise")


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
