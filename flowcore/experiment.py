r"""What the dashboard and the CLI set up: an :class:`Experiment`, the presets that fill one in,
the Compare page's recipe, and the rules for what a change of settings means for a run.

Example:
    >>> from flowcore.experiment import Experiment, matching_preset
    >>> e = Experiment.from_preset("seed")
    >>> e.dataset_name, matching_preset(e.flow, e.train)
    ('moons', 'seed')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from flowcore.config import FlowConfig, TrainConfig
from flowcore.presets import PRESETS

# The training settings a running job takes as they change (the learning rate and the stop
# target); any other change needs a new model.
LIVE_FIELDS = ("lr", "stop_at", "stop_below")
# Steps a continued model gets on top of the budget it was trained with.
CONTINUE_STEPS = 10_000


@dataclass(frozen=True)
class Experiment:
    r"""A dataset (by name and parameters) with the flow and the training to fit it.

    Arguments:
        dataset_name: a :func:`flowcore.datasets.names` entry, or a user dataset's name.
        dataset_params: the dataset's knobs as sorted ``(name, value)`` pairs.
        flow: the :class:`FlowConfig`.
        train: the :class:`TrainConfig`.
    """

    dataset_name: str
    dataset_params: tuple[tuple[str, Any], ...]
    flow: FlowConfig
    train: TrainConfig

    @classmethod
    def from_preset(cls, name: str, dataset_name: str = "moons") -> Experiment:
        preset = PRESETS[name]
        return cls(dataset_name, (), preset.flow, preset.train)

    def needs_new_model(self, other: Experiment) -> bool:
        """True when going from ``other`` to this needs a new model: any change but those of
        :data:`LIVE_FIELDS`, which a running job takes live."""
        def fixed(e: Experiment) -> tuple:
            live = {name: getattr(TrainConfig(), name) for name in LIVE_FIELDS}
            return e.dataset_name, e.dataset_params, e.flow, dataclasses.replace(e.train, **live)

        return fixed(self) != fixed(other)


def matching_preset(flow: FlowConfig, train: TrainConfig) -> str | None:
    """The preset whose flow and training equal these (any data dimension), else None."""
    for name, preset in PRESETS.items():
        if dataclasses.replace(preset.flow, dim=flow.dim) == flow and preset.train == train:
            return name
    return None


def continued(train: TrainConfig) -> TrainConfig:
    """The training config for going on with a saved model (whose step count and clock go on,
    see :meth:`flowcore.Trainer.resume`): its step budget plus CONTINUE_STEPS, and a time budget
    twice as long, so that either budget has room left.

    Example:
        >>> continued(TrainConfig(steps=800, max_seconds=30)).steps
        10800
    """
    most_steps, most_seconds = TrainConfig.limits("steps")[1], TrainConfig.limits("max_seconds")[1]
    return dataclasses.replace(train, steps=int(min(most_steps, train.steps + CONTINUE_STEPS)),
                               max_seconds=min(most_seconds, 2 * train.max_seconds))


def compare_recipe(arch: str, steps: int, dim: int = 2) -> tuple[FlowConfig, TrainConfig]:
    """The Compare page's recipe: one size and one training for every architecture."""
    flow = FlowConfig(arch=arch, dim=dim, layers=6, hidden=64)
    train = TrainConfig(optimizer="adamw", lr=2e-3, batch_size=512, steps=steps,
                        schedule="cosine", warmup=min(100, steps // 10), clip_grad=10.0,
                        data_mode="fresh", n_test=5000, eval_every=max(5, steps // 80), seed=0)
    return flow, train
