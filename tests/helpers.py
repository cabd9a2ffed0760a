"""Helpers the flowcore tests share (fixtures live in conftest.py)."""

import json
import struct

import torch

import flowcore as fc
from flowcore.flows import FlowLayer

ARCHS = fc.ARCHITECTURES


def perturbed_flow(arch: str, dim: int = 2, layers: int = 4, hidden: int = 16, scale: float = 0.1,
                   seed: int = 0, dtype=torch.float64) -> fc.Flow:
    """A flow pushed away from the identity, so the checks are not trivially true."""
    flow = fc.build_flow(fc.FlowConfig(arch=arch, dim=dim, layers=layers, hidden=hidden),
                         dtype=dtype)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return flow


def rewrite_header(data: bytes, edit) -> bytes:
    """Apply ``edit`` to the parsed header of safetensors bytes and re-serialise."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    edit(header)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]


# An extra architecture, registered by conftest's `elementwise` fixture (tests/test_registry.py,
# tests/app/test_registry_app.py).
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
