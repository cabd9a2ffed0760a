"""The maths of every architecture: invertibility, exact log-dets, normalisation, gradients."""

import math

import pytest
import torch
from helpers import ARCHS, perturbed_flow
from hypothesis import given, settings
from hypothesis import strategies as st

import flowcore as fc
from flowcore.flows.base import standard_normal_log_prob

DIMS = (2, 3, 5)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dim", DIMS)
def test_inverse_undoes_forward_float64(arch, dim):
    flow = perturbed_flow(arch, dim)
    x = 2 * torch.randn(256, dim)
    z, _ = flow(x)
    assert (flow.inverse(z) - x).abs().max() < 1e-10


@pytest.mark.parametrize("arch", ARCHS)
def test_inverse_undoes_forward_float32(arch):
    flow = perturbed_flow(arch, 3, dtype=torch.float32)
    x = 2 * torch.randn(256, 3, dtype=torch.float32)
    z, log_det = flow(x)
    assert z.dtype == log_det.dtype == torch.float32
    assert (flow.inverse(z) - x).abs().max() < 1e-4


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dim", DIMS)
def test_log_det_matches_autograd_jacobian(arch, dim):
    flow = perturbed_flow(arch, dim)
    flow.set_standardisation(torch.randn(dim), torch.rand(dim) + 0.5)
    x = 2 * torch.randn(8, dim)
    _, log_det = flow(x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], x[i])
        assert abs(torch.linalg.slogdet(jac).logabsdet - log_det[i]) < 1e-8


@pytest.mark.parametrize("arch", ARCHS)
def test_log_prob_is_base_plus_log_det(arch):
    flow = perturbed_flow(arch, 3)
    x = torch.randn(64, 3)
    z, log_det = flow(x)
    expected = -0.5 * (z**2).sum(1) - 1.5 * math.log(2 * math.pi) + log_det
    torch.testing.assert_close(flow.log_prob(x), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(standard_normal_log_prob(z) + log_det, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_density_integrates_to_one(arch):
    flow = perturbed_flow(arch, 2, scale=0.2)
    flow.set_standardisation(torch.tensor([0.5, -0.3]), torch.tensor([0.8, 1.2]))
    edge = torch.linspace(-9, 9, 451)
    cell = (edge[1] - edge[0]) ** 2
    grid = torch.cartesian_prod(edge, edge)
    with torch.no_grad():
        mass = flow.log_prob(grid).exp().sum() * cell
    assert abs(mass.item() - 1) < 0.01


@pytest.mark.parametrize("arch", ARCHS)
def test_untrained_flow_is_identity_after_standardisation(arch):
    flow = fc.build_flow(fc.FlowConfig(arch=arch, dim=3, layers=3, hidden=8))
    loc, scale = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([2.0, 0.5, 1.0])
    flow.set_standardisation(loc, scale)
    x = torch.randn(32, 3)
    z, log_det = flow(x)
    torch.testing.assert_close(z, (x - loc) / scale)
    torch.testing.assert_close(log_det, -torch.log(scale).sum().expand(32))


@pytest.mark.parametrize("arch", ARCHS)
def test_gradients_reach_every_parameter(arch):
    flow = perturbed_flow(arch, 3)
    flow.log_prob(torch.randn(64, 3)).mean().backward()
    for name, p in flow.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"


@pytest.mark.parametrize("arch", ARCHS)
def test_trace_ends_in_z_and_sums_to_log_det(arch):
    flow = perturbed_flow(arch, 2)
    x = torch.randn(16, 2)
    steps = flow.trace(x)
    z, log_det = flow(x)
    torch.testing.assert_close(steps[0].value, (x - flow.loc) / flow.scale)
    torch.testing.assert_close(steps[-1].value, z)
    torch.testing.assert_close(sum(s.log_det for s in steps), log_det)
    assert len(steps) == len(flow.layers) + 1


@pytest.mark.parametrize("arch", ARCHS)
def test_sample_shape_dtype_and_generator(arch):
    flow = perturbed_flow(arch, 3)
    a = flow.sample(100, generator=torch.Generator().manual_seed(1))
    b = flow.sample(100, generator=torch.Generator().manual_seed(1))
    assert a.shape == (100, 3) and a.dtype == torch.float64
    torch.testing.assert_close(a, b)


def test_realnvp_masks_alternate_and_cover_every_coordinate():
    flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=5, layers=4, hidden=8))
    masks = [layer.mask for layer in flow.layers]
    assert masks[0].tolist() == [1, 1, 1, 0, 0]
    for a, b in zip(masks, masks[1:], strict=False):
        assert ((1 - a) + (1 - b) == 1).all()  # two consecutive layers transform everything once


@pytest.mark.parametrize("arch", ARCHS)
def test_torch_init_starts_away_from_the_identity_and_stays_exact(arch):
    cfg = fc.FlowConfig(arch=arch, dim=3, layers=3, hidden=16, init="torch")
    flow = fc.build_flow(cfg, dtype=torch.float64)
    x = torch.randn(64, 3, dtype=torch.float64)
    z, log_det = flow(x)
    assert (z - x).abs().max() > 1e-3  # PyTorch's default init: a random bend, not the identity
    assert (flow.inverse(z) - x).abs().max() < 1e-10
    jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], x[0])
    assert abs(torch.linalg.slogdet(jac).logabsdet - log_det[0]) < 1e-8


@pytest.mark.parametrize("arch", ["realnvp", "nsf", "glow"])
def test_mask_order_last_transforms_the_first_half_first(arch):
    first = fc.build_flow(fc.FlowConfig(arch=arch, dim=2, layers=3, hidden=8))
    last = fc.build_flow(fc.FlowConfig(arch=arch, dim=2, layers=3, hidden=8, mask_order="last"))
    masks = [[m.tolist() for name, m in f.named_buffers() if name.endswith(".mask")]
             for f in (first, last)]
    assert masks[0] == [[1, 0], [0, 1], [1, 0]]
    assert masks[1] == [[0, 1], [1, 0], [0, 1]]  # the tutorial's: x2 passes, x1 is transformed


def test_old_configs_without_init_fields_load_as_before():
    old = fc.FlowConfig().to_dict()
    del old["init"], old["mask_order"]
    cfg = fc.FlowConfig.from_dict(old)
    assert (cfg.init, cfg.mask_order) == ("identity", "first")


def test_realnvp_seed_configuration_networks():
    flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=6, hidden=128))
    layer = flow.layers[0]
    shapes = [tuple(p.shape) for p in layer.scale_net.parameters()]
    assert shapes == [(128, 2), (128,), (128, 128), (128,), (2, 128), (2,)]
    assert len(flow.layers) == 6 and not hasattr(layer, "net")


def test_spline_is_identity_outside_its_bound():
    flow = perturbed_flow("nsf", 2, scale=0.5)
    layer = flow.layers[0]
    x = torch.tensor([[0.3, 7.0], [-0.2, -5.0]])  # transformed coordinate outside [-4, 4]
    z, log_det = layer(x)
    torch.testing.assert_close(z, x)
    assert (log_det == 0).all()


def test_glow_actnorm_data_init_whitens_first_batch():
    flow = fc.build_flow(fc.FlowConfig(arch="glow", dim=2, layers=2, hidden=8))
    x = torch.randn(500, 2) * torch.tensor([3.0, 0.2]) + 5
    flow.data_init(x)
    out = flow.layers[0](x)[0]  # standardisation is the identity here
    torch.testing.assert_close(out.mean(0), torch.zeros(2), atol=1e-9, rtol=0)
    torch.testing.assert_close(out.std(0), torch.ones(2), atol=1e-9, rtol=0)


def test_shapes_are_checked_at_the_boundary():
    flow = fc.build_flow(fc.FlowConfig(dim=3))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        flow(torch.randn(4, 2))


@pytest.mark.parametrize(
    "kwargs, field",
    [({"arch": "flowy"}, "arch"), ({"dim": 1}, "dim"), ({"layers": 0}, "layers"),
     ({"hidden": 0}, "hidden"), ({"layers": 2.5}, "layers"), ({"bins": 1}, "bins")],
)
def test_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        fc.FlowConfig(**kwargs)


def test_config_json_round_trip():
    cfg = fc.FlowConfig(arch="nsf", dim=3, layers=5, hidden=32, bins=10)
    assert fc.FlowConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="no field"):
        fc.FlowConfig.from_dict({**cfg.to_dict(), "colour": "red"})


@settings(max_examples=25, deadline=None)
@given(
    arch=st.sampled_from(ARCHS),
    dim=st.integers(2, 6),
    layers=st.integers(1, 4),
    hidden=st.integers(1, 24),
    seed=st.integers(0, 10_000),
    spread=st.floats(0.1, 5.0),
    init=st.sampled_from(["identity", "torch"]),
    mask_order=st.sampled_from(["first", "last"]),
)
def test_property_invertible_with_consistent_log_det(arch, dim, layers, hidden, seed, spread,
                                                     init, mask_order):
    torch.set_default_dtype(torch.float64)
    cfg = fc.FlowConfig(arch=arch, dim=dim, layers=layers, hidden=hidden, init=init,
                        mask_order=mask_order)
    flow = fc.build_flow(cfg, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
    x = spread * torch.randn(32, dim, generator=generator)
    z, log_det = flow(x)
    assert z.shape == x.shape and log_det.shape == (32,)
    assert torch.isfinite(z).all() and torch.isfinite(log_det).all()
    assert (flow.inverse(z) - x).abs().max() < 1e-8 * max(1.0, spread)
    # The inverse's log-det is minus the forward's: check through the inverse's own Jacobian.
    jac = torch.autograd.functional.jacobian(lambda v: flow.inverse(v[None])[0], z[0])
    assert abs(torch.linalg.slogdet(jac).logabsdet + log_det[0]) < 1e-7


def test_inputs_are_computed_in_the_flows_dtype():
    flow = fc.build_flow(fc.FlowConfig(layers=2, hidden=8), dtype=torch.float32)
    x64 = torch.randn(5, 2, dtype=torch.float64)
    lp = flow.log_prob(x64)
    assert lp.dtype == torch.float32
    torch.testing.assert_close(lp, flow.log_prob(x64.float()))
    with pytest.raises(ValueError, match="tensor of shape"):
        flow.log_prob([[0.0, 1.0]])
