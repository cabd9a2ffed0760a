"""Helpers the flowcore tests share (fixtures live in conftest.py)."""

import json
import struct

import torch

import flowcore as fc

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
