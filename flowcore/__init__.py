r"""flowcore: normalizing flows with exact math, for learning and exploring.

Example:
    >>> import flowcore as fc, torch
    >>> flow = fc.build_flow(fc.FlowConfig(arch="realnvp", dim=2, layers=6, hidden=128))
    >>> flow.log_prob(torch.randn(3, 2)).shape
    torch.Size([3])
"""

from flowcore import datasets
from flowcore.config import ARCHITECTURES, FlowConfig, TrainConfig
from flowcore.flows import Flow, TraceStep, build_flow
from flowcore.io import load, load_with_info, read_metadata, save, to_bytes
from flowcore.job import Snapshot, TrainingJob
from flowcore.train import Trainer
from flowcore.version import __version__

__all__ = [
    "ARCHITECTURES",
    "Flow",
    "Snapshot",
    "Trainer",
    "TrainingJob",
    "FlowConfig",
    "TrainConfig",
    "TraceStep",
    "__version__",
    "build_flow",
    "datasets",
    "load",
    "load_with_info",
    "read_metadata",
    "save",
    "to_bytes",
]
