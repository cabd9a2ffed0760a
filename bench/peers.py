r"""The peer libraries (zuko, normflows) behind flowcore's own Trainer.

A peer model is wrapped in :class:`PeerFlow`, which adds flowcore's fixed standardisation (counted
in the log-density, so NLLs are in the data's units) and the ``log_prob`` / ``sample`` interface.
:func:`peer_trainer` then hands it to :class:`flowcore.Trainer`, so a peer gets the same data,
batches, optimiser, schedule, gradient clip, clock and held-out set as flowcore, by construction:
the only thing that differs between two rows is the model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

import flowcore as fc
from bench.common import SEED, count_parameters
from flowcore.train import split_dataset

LIBRARIES = ("zuko", "normflows")


class PeerFlow(nn.Module):
    r"""A peer's flow on standardised data, exposed in flowcore's units and interface.

    Arguments:
        model: the peer's module (trained through this wrapper).
        loc, scale: the standardisation ``u = (x - loc) / scale``.
        config: a :class:`flowcore.FlowConfig` describing it (the Trainer reads ``dim``).
        label: how tables name it.
    """

    library = "peer"

    def __init__(self, model: nn.Module, loc: Tensor, scale: Tensor, config: fc.FlowConfig,
                 label: str):
        super().__init__()
        self.model, self.config, self.label = model, config, label
        self.register_buffer("loc", torch.as_tensor(loc, dtype=torch.float32).clone())
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).clone())

    def latent_log_prob(self, u: Tensor) -> Tensor:
        raise NotImplementedError

    def latent_sample(self, n: int) -> Tensor:
        raise NotImplementedError

    def log_prob(self, x: Tensor) -> Tensor:
        return self.latent_log_prob((x - self.loc) / self.scale) - torch.log(self.scale).sum()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.latent_sample(n) * self.scale + self.loc


class ZukoFlow(PeerFlow):
    library = "zuko"

    def latent_log_prob(self, u: Tensor) -> Tensor:
        return self.model().log_prob(u)

    def latent_sample(self, n: int) -> Tensor:
        return self.model().sample((n,))


class NormflowsFlow(PeerFlow):
    library = "normflows"

    def latent_log_prob(self, u: Tensor) -> Tensor:
        return self.model.log_prob(u)

    def latent_sample(self, n: int) -> Tensor:
        return self.model.sample(n)[0]


# -- builders: (layers, hidden) -> the peer's module ------------------------------------------
def _zuko(arch: str, dim: int, layers: int, hidden: int, bins: int = 8) -> nn.Module:
    import zuko

    hidden_features = (hidden, hidden)
    if arch == "realnvp":
        return zuko.flows.RealNVP(features=dim, transforms=layers, hidden_features=hidden_features)
    if arch == "nsf":
        return zuko.flows.NSF(features=dim, transforms=layers, bins=bins,
                              hidden_features=hidden_features)
    if arch == "maf":
        return zuko.flows.MAF(features=dim, transforms=layers, hidden_features=hidden_features)
    raise ValueError(f"zuko has no {arch!r} here; choose realnvp, nsf or maf.")


def _normflows(arch: str, dim: int, layers: int, hidden: int, bins: int = 8) -> nn.Module:
    import normflows as nf

    flows = []
    for i in range(layers):
        if arch == "realnvp":
            # The seed's architecture exactly: separate s (ending in tanh) and t MLPs.
            mask = (torch.arange(dim) % 2 == i % 2).float()
            s = nf.nets.MLP([dim, hidden, hidden, dim], init_zeros=True, output_fn="tanh")
            t = nf.nets.MLP([dim, hidden, hidden, dim], init_zeros=True)
            flows.append(nf.flows.MaskedAffineFlow(mask, t, s))
        elif arch == "nsf":
            flows.append(nf.flows.CoupledRationalQuadraticSpline(
                dim, num_blocks=1, num_hidden_channels=hidden, num_bins=bins, tail_bound=4.0,
                reverse_mask=i % 2 == 1))
        else:
            raise ValueError(f"normflows has no {arch!r} here; choose realnvp or nsf.")
    return nf.NormalizingFlow(nf.distributions.DiagGaussian(dim, trainable=False), flows)


_BUILDERS: dict[str, tuple[Callable[..., nn.Module], type[PeerFlow]]] = {
    "zuko": (_zuko, ZukoFlow),
    "normflows": (_normflows, NormflowsFlow),
}


def match_hidden(library: str, arch: str, layers: int, target: int, dim: int = 2) -> int:
    """The hidden width whose parameter count is closest to ``target`` (counts grow with it)."""
    build = _BUILDERS[library][0]

    def count(h: int) -> int:
        return count_parameters(build(arch, dim, layers, h))

    lo, hi = 1, 1024
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) <= target else (lo, mid)
    return min((lo, hi), key=lambda h: abs(count(h) - target))


def build_peer(library: str, arch: str, layers: int, hidden: int, loc: Tensor, scale: Tensor,
               dim: int = 2, seed: int = SEED) -> PeerFlow:
    build, wrapper = _BUILDERS[library]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(arch, dim, layers, hidden)
    config = fc.FlowConfig(arch=arch, dim=dim, layers=layers, hidden=hidden)
    return wrapper(model, loc, scale, config, f"{library} {arch} {layers}×{hidden}").float()


def standardisation(dataset, train_config: fc.TrainConfig) -> tuple[Tensor, Tensor]:
    """The loc and scale flowcore's Trainer would fix for this data: the training sample's."""
    train = split_dataset(dataset, train_config).train
    train = torch.from_numpy(np.ascontiguousarray(train, dtype=np.float32))
    return train.mean(0), train.std(0)


def peer_trainer(library: str, arch: str, layers: int, hidden: int,
                 train_config: fc.TrainConfig, dataset) -> fc.Trainer:
    """A :class:`flowcore.Trainer` that trains the peer's model instead of a flowcore flow."""
    loc, scale = standardisation(dataset, train_config)
    flow = build_peer(library, arch, layers, hidden, loc, scale, dim=dataset.dim)
    return fc.Trainer(flow.config, train_config, dataset, flow=flow)


def describe(flow: nn.Module) -> str:
    n = count_parameters(flow)
    return f"{n / 1000:.1f}k params" if n < 1e6 else f"{n / 1e6:.2f}M params"

