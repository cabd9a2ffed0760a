r"""Configurations for flows and training, and their validation.

Every numeric field has one range, declared next to it. The dashboard reads the same ranges for
its widgets, so the UI and the API can never disagree about what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The built-in families, in the UI's order; flowcore.flows registers them (and checks this list).
ARCHITECTURES: tuple[str, ...] = ("realnvp", "nsf", "maf", "glow")


def _range(lo: float, hi: float) -> dict[str, Any]:
    return {"range": (lo, hi)}


def _choices(*options: str) -> dict[str, Any]:
    return {"choices": options}


def _registered_architectures() -> tuple[str, ...]:
    # The registry lives in flowcore.flows, which imports this module: look it up when checking.
    from flowcore.flows import names

    return names()


def check_range(name: str, value: Any, lo: float, hi: float, whole: bool = False,
                note: str = "") -> Any:
    r"""The one range check of flowcore: ``value`` as an ``int`` (``whole``) or ``float`` in
    ``[lo, hi]``, or a ValueError that names the argument, the value and the allowed range.

    Arguments:
        name: what the caller calls the value (``"n"``, ``"FlowConfig.layers"``).
        value: a number; ``bool`` and NaN are refused, and ``whole`` refuses ``2.5``.
        lo, hi: the closed range.
        note: a few words appended to the message, e.g. what the value means.

    Example:
        >>> check_range("layers", 6.0, 1, 32, whole=True)
        6
        >>> check_range("lr", 0.0, 1e-6, 10.0)
        Traceback (most recent call last):
        ...
        ValueError: lr=0.0 is out of range: use a number in [1e-06, 10.0].
    """
    kind = "whole number" if whole else "number"
    number = isinstance(value, int | float | np.integer | np.floating)
    if isinstance(value, bool | np.bool_) or not number or not math.isfinite(value) or (
            whole and value != int(value)):
        raise ValueError(f"{name}={value!r} is not allowed: use a {kind} in [{lo}, {hi}]{note}.")
    if not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} is out of range: use a {kind} in [{lo}, {hi}]{note}.")
    return int(value) if whole else float(value)


def _check_field(obj: Any, f: dataclasses.Field) -> None:
    value = getattr(obj, f.name)
    name = f"{type(obj).__name__}.{f.name}"
    if "choices" in f.metadata:
        choices = f.metadata["choices"]
        choices = choices() if callable(choices) else choices
        if value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise ValueError(f"{name} = {value!r} is not allowed; choose one of {allowed}.")
    elif "range" in f.metadata:
        lo, hi = f.metadata["range"]
        whole = f.type in ("int", int)
        object.__setattr__(obj, f.name, check_range(name, value, lo, hi, whole=whole))
    elif f.type in ("bool", bool) and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}.")


def _from_text(text: str, f: dataclasses.Field) -> Any:
    """A field's value from text; text that does not parse is returned for the check to refuse."""
    if f.type in ("bool", bool):
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    if "range" in f.metadata:
        try:
            return float(text)  # whole-number fields: check_range turns 6.0 into 6
        except ValueError:
            return text
    return text


class _Validated:
    """Shared behaviour of the config dataclasses: validation and a JSON round trip."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_field(self, f)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__} must be a mapping, got {type(data).__name__}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no field(s) {', '.join(unknown)}; "
                f"known fields: {', '.join(sorted(known))}."
            )
        return cls(**data)

    def to_strings(self) -> dict[str, str]:
        r"""Every field as text, as a URL query or a shell holds it (``true``/``false`` for
        booleans); :meth:`from_strings` reads it back.

        Example:
            >>> FlowConfig(layers=4).to_strings()["layers"]
            '4'
            >>> FlowConfig.from_strings(FlowConfig(layers=4).to_strings()) == FlowConfig(layers=4)
            True
        """
        return {name: str(value).lower() if isinstance(value, bool) else str(value)
                for name, value in self.to_dict().items()}

    @classmethod
    def from_strings(cls, strings: Mapping[str, str | None], base: Any = None):
        r"""The config with the fields named in ``strings`` parsed from text and the others from
        ``base`` (default: the defaults). Keys that are not fields (another config's, a
        dataset's) and ``None`` values are skipped, so a URL query or a parsed command line can
        be passed whole. Validation and its messages are :meth:`__post_init__`'s: text that is
        not a number reaches the range check as it is, and is refused there by name.

        Example:
            >>> FlowConfig.from_strings({"layers": "4", "dataset": "moons"}).layers
            4
            >>> TrainConfig.from_strings({"lr": "fast"})
            Traceback (most recent call last):
            ...
            ValueError: TrainConfig.lr='fast' is not allowed: use a number in [1e-06, 10.0].
        """
        values = (base if base is not None else cls()).to_dict()
        for f in dataclasses.fields(cls):
            text = strings.get(f.name)
            if text is not None:
                values[f.name] = _from_text(str(text), f)
        return cls(**values)

    @classmethod
    def limits(cls, name: str) -> tuple[float, float]:
        """The allowed ``(low, high)`` of a numeric field, for widgets and messages."""
        return next(f for f in dataclasses.fields(cls) if f.name == name).metadata["range"]


@dataclass(frozen=True)
class FlowConfig(_Validated):
    r"""What a flow is made of.

    Arguments:
        arch: a registered architecture (:func:`flowcore.flows.names`; the built-in ones are
            :data:`ARCHITECTURES`).
        dim: number of data dimensions.
        layers: number of flow layers (coupling / autoregressive / Glow steps).
        hidden: width of every hidden layer of the conditioner networks.
        depth: number of hidden layers in each conditioner network.
        shared_trunk: RealNVP only. One network outputs both ``s`` and ``t`` (faster) instead of
            the seed's two separate networks.
        bins: NSF only. Number of spline bins.
        bound: NSF only. The spline acts on ``[-bound, bound]`` and is the identity outside.
        init: how the last layer of every conditioner network starts. ``"identity"``: at zero,
            so a fresh flow is exactly the identity after standardisation. ``"torch"``:
            PyTorch's default (Kaiming-uniform) initialisation, as in the seed tutorial; the
            fresh flow is then a small random bend. On the seed task (RealNVP 6×128, Adam 1e-3,
            full batch, constant rate) ``"torch"`` learns about twice as fast; see the seed
            preset in :mod:`flowcore.presets` for the measured curves.
        mask_order: coupling flows (realnvp, nsf, glow). Which half the first coupling layer
            passes through unchanged: ``"first"`` (x₁ passes, x₂ is transformed) or ``"last"``
            (x₂ passes, x₁ is transformed: the tutorial's order). Later layers alternate.

    Example:
        >>> FlowConfig(arch="realnvp", dim=2, layers=6, hidden=128).layers
        6
    """

    arch: str = field(default="realnvp", metadata={"choices": _registered_architectures})
    dim: int = field(default=2, metadata=_range(2, 64))
    layers: int = field(default=6, metadata=_range(1, 32))
    hidden: int = field(default=128, metadata=_range(1, 512))
    depth: int = field(default=2, metadata=_range(1, 4))
    shared_trunk: bool = False
    bins: int = field(default=8, metadata=_range(2, 32))
    bound: float = field(default=4.0, metadata=_range(0.5, 16.0))
    init: str = field(default="identity", metadata=_choices("identity", "torch"))
    mask_order: str = field(default="first", metadata=_choices("first", "last"))


@dataclass(frozen=True)
class TrainConfig(_Validated):
    r"""How a flow is trained.

    Arguments:
        optimizer: ``"adam"`` or ``"adamw"``.
        lr: learning rate.
        batch_size: points per step; 0 means the full training sample (the seed's choice).
        steps: the step budget (also the length of the cosine schedule).
        max_seconds: a wall-clock budget for training, 0 for none. With a cosine schedule the
            decay follows whichever budget runs out first.
        stop_at: a quality target that ends training before the budget: ``"none"``,
            ``"kl"`` (the KL to the true density, for datasets that know it) or ``"nll"``. It is
            judged on the validation sample, never the test sample, so the test figures of a
            run that stopped at its target stay honest.
        stop_below: the target: training finishes at the first evaluation whose validation KL
            (or NLL) is at or below this many nats.
        schedule: ``"constant"`` or ``"cosine"`` (cosine decays to zero at the budget).
        warmup: steps of linear warm-up at the start of either schedule.
        clip_grad: gradient-norm clip; 0 turns it off.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay.
        jitter: with fixed data, Gaussian noise added to every training batch, in units of each
            column's standard deviation: a smoothing regulariser for a sample the flow would
            otherwise memorise. Validation and test points get none; 0 turns it off.
        data_mode: ``"fixed"`` (a fixed training sample of ``n_train`` points) or ``"fresh"``
            (new samples every step, for datasets that can sample).
        n_train: size of the fixed training sample.
        n_val: size of the validation sample, which chooses the weights that are kept. For user
            data at most a tenth of the rows.
        n_test: size of the test sample, which only reports (test NLL, KL). For user data at
            most a tenth of the rows.
        eval_seconds: seconds of training between evaluations (history records), so a live
            curve gains about one point a second at any speed; 0 = every ``eval_every`` steps
            instead (deterministic: the CLI and the tests use it).
        eval_every: steps between evaluations when ``eval_seconds`` is 0.
        seed: seeds the data, the initial weights and the batches.
        device: where training runs: ``"auto"`` (a CUDA GPU when torch sees one, else the
            CPU), ``"cpu"`` or ``"cuda"``. Saved files do not depend on it.
    """

    optimizer: str = field(default="adam", metadata=_choices("adam", "adamw"))
    lr: float = field(default=1e-3, metadata=_range(1e-6, 10.0))
    batch_size: int = field(default=0, metadata=_range(0, 100_000))
    steps: int = field(default=10_000, metadata=_range(1, 1_000_000))
    max_seconds: float = field(default=0.0, metadata=_range(0.0, 86_400.0))
    stop_at: str = field(default="none", metadata=_choices("none", "kl", "nll"))
    stop_below: float = field(default=0.0, metadata=_range(-1e6, 1e6))
    schedule: str = field(default="constant", metadata=_choices("constant", "cosine"))
    warmup: int = field(default=0, metadata=_range(0, 100_000))
    clip_grad: float = field(default=0.0, metadata=_range(0.0, 1e6))
    weight_decay: float = field(default=0.0, metadata=_range(0.0, 1.0))
    jitter: float = field(default=0.0, metadata=_range(0.0, 1.0))
    data_mode: str = field(default="fixed", metadata=_choices("fixed", "fresh"))
    n_train: int = field(default=3000, metadata=_range(10, 1_000_000))
    n_test: int = field(default=10_000, metadata=_range(10, 1_000_000))
    n_val: int = field(default=5000, metadata=_range(10, 1_000_000))
    eval_seconds: float = field(default=1.0, metadata=_range(0.0, 3600.0))
    eval_every: int = field(default=25, metadata=_range(1, 100_000))
    seed: int = field(default=0, metadata=_range(0, 2**31 - 1))
    device: str = field(default="auto", metadata=_choices("auto", "cpu", "cuda"))
