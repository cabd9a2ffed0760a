r"""Model files: ``.safetensors`` weights plus JSON metadata. Never unpickles anything.

The metadata holds the :class:`FlowConfig`, the standardisation, the flowcore version and file
format, and free-form ``info`` (dataset, training config, metrics). :func:`load` checks the header
(every key, shape and dtype, and the byte offsets) against a flow rebuilt from the config
*before* any weight is read, so malformed or hostile files fail with one clear sentence.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from flowcore.config import FlowConfig
from flowcore.flows import Flow, architecture, build_flow
from flowcore.version import FILE_FORMAT, __version__

MAX_FILE_BYTES = 256 * 2**20
MAX_HEADER_BYTES = 1 * 2**20
_ITEMSIZE = {"F32": 4, "F64": 8, "I64": 8}


def to_bytes(flow: Flow, info: dict[str, Any] | None = None) -> bytes:
    """Serialise a flow (weights, config, standardisation, ``info``) to safetensors bytes."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in flow.state_dict().items()}
    metadata = {
        "format": "flowcore",
        "file_format": str(FILE_FORMAT),
        "flowcore_version": __version__,
        "config": json.dumps(flow.config.to_dict()),
        "standardisation": json.dumps(
            {"loc": flow.loc.tolist(), "scale": flow.scale.tolist()}
        ),
        "info": json.dumps(info or {}),
    }
    return st_save(tensors, metadata=metadata)


def save(flow: Flow, path: str | os.PathLike, info: dict[str, Any] | None = None) -> None:
    r"""Write ``flow`` to a ``.safetensors`` file.

    Example:
        >>> import flowcore as fc
        >>> fc.save(fc.build_flow(fc.FlowConfig()), "/tmp/model.safetensors")
    """
    Path(path).write_bytes(to_bytes(flow, info))


def _read(source: str | os.PathLike | bytes | BinaryIO) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"No model file at {str(path)!r}.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"The file is larger than {MAX_FILE_BYTES // 2**20} MB: not a model.")
        data = path.read_bytes()
    return bytes(data)


def _header(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"The file is larger than {MAX_FILE_BYTES // 2**20} MB: not a model.")
    if len(data) < 8:
        raise ValueError("The file is too short to be a .safetensors model (truncated?).")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or n > len(data) - 8:
        raise ValueError("The file is not a valid .safetensors model (bad header length).")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError("The file is not a .safetensors model (its header is not JSON).") from None
    if not isinstance(header, dict):
        raise ValueError("The file is not a .safetensors model (its header is not a mapping).")
    return header


def _check_tensors(header: dict[str, Any], flow: Flow, data_len: int) -> None:
    expected = flow.state_dict()
    found = {k: v for k, v in header.items() if k != "__metadata__"}
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        raise ValueError(
            f"The model file does not match its config: missing {missing[:3]}, extra {extra[:3]}."
        )
    for name, tensor in expected.items():
        entry = found[name]
        if not isinstance(entry, dict):
            raise ValueError(f"The model file's entry for {name!r} is malformed.")
        allowed = ("I64",) if tensor.dtype == torch.int64 else ("F32", "F64")
        if entry.get("dtype") not in allowed:
            raise ValueError(f"Tensor {name!r} has dtype {entry.get('dtype')}, expected {allowed}.")
        if entry.get("shape") != list(tensor.shape):
            raise ValueError(
                f"Tensor {name!r} has shape {entry.get('shape')}, expected {list(tensor.shape)}."
            )
        offsets = entry.get("data_offsets")
        itemsize = _ITEMSIZE[entry["dtype"]]
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or offsets[1] - offsets[0] != tensor.numel() * itemsize
            or offsets[1] > data_len
        ):
            raise ValueError(f"Tensor {name!r} has bad byte offsets (truncated or corrupt file).")


def _check_size_before_building(header: dict[str, Any], config: FlowConfig, data_len: int) -> None:
    """Reject a file whose weights cannot fill its config, before allocating that config.

    The registry gives each architecture's fewest weights (:attr:`Architecture.min_weights`), at
    least 4 bytes each; a tiny file that claims a huge config is refused without building it.
    """
    declared = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) for o in offsets)):
            raise ValueError(f"Tensor {name!r} has bad byte offsets (truncated or corrupt file).")
        declared += offsets[1] - offsets[0]
    needed = 4 * architecture(config.arch).min_weights(config)
    if declared != data_len or declared < needed:
        raise ValueError(
            f"The model file holds {data_len} bytes of weights, but its header declares "
            f"{declared} and its config needs at least {needed}: it is truncated or corrupt."
        )


def read_metadata(source: str | os.PathLike | bytes | BinaryIO) -> dict[str, Any]:
    """The parsed metadata of a model file (config, standardisation, version, info)."""
    data = _read(source)
    return _metadata(_header(data))


def _metadata(header: dict[str, Any]) -> dict[str, Any]:
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != "flowcore":
        raise ValueError("This .safetensors file was not made by flowcore (no flowcore metadata).")
    if meta.get("file_format") != str(FILE_FORMAT):
        raise ValueError(
            f"This model was made with flowcore {meta.get('flowcore_version', 'unknown')} "
            f"(file format {meta.get('file_format')}); this flowcore {__version__} reads format "
            f"{FILE_FORMAT}. Re-export it with a matching flowcore version."
        )
    out: dict[str, Any] = {"flowcore_version": meta.get("flowcore_version")}
    for key in ("config", "standardisation", "info"):
        try:
            out[key] = json.loads(meta.get(key, "null"))
        except (json.JSONDecodeError, RecursionError, TypeError):
            raise ValueError(f"The model's {key} metadata is not valid JSON.") from None
    return out


def load(source: str | os.PathLike | bytes | BinaryIO) -> Flow:
    r"""Load a flow saved by :func:`save` (a path, bytes, or a binary file object).

    The file's ``info`` (dataset, training config, metrics) comes with :func:`load_with_info`.

    Raises:
        ValueError: one clear sentence for anything malformed: truncated or garbage bytes, a
            pickle renamed ``.safetensors``, missing or extra keys, wrong shapes or dtypes, bad
            metadata, or a config outside the valid ranges.

    Example:
        >>> import flowcore as fc
        >>> fc.save(fc.build_flow(fc.FlowConfig()), "/tmp/model.safetensors")
        >>> fc.load("/tmp/model.safetensors").config.arch
        'realnvp'
    """
    return load_with_info(source)[0]


def load_with_info(source: str | os.PathLike | bytes | BinaryIO) -> tuple[Flow, dict[str, Any]]:
    r"""Load a flow as :func:`load` does, and the free-form ``info`` saved beside it.

    Returns:
        ``(flow, info)``; ``info`` is ``{}`` when the file has none (or it is not a mapping).

    Example:
        >>> import flowcore as fc
        >>> fc.save(fc.build_flow(fc.FlowConfig()), "/tmp/model.safetensors", info={"a": 1})
        >>> flow, info = fc.load_with_info("/tmp/model.safetensors")
        >>> info
        {'a': 1}
    """
    data = _read(source)
    header = _header(data)
    meta = _metadata(header)
    try:
        config = FlowConfig.from_dict(meta["config"])
    except (ValueError, TypeError) as err:
        raise ValueError(f"The model's config is invalid: {err}") from None
    n = struct.unpack("<Q", data[:8])[0]
    _check_size_before_building(header, config, len(data) - 8 - n)
    flow = build_flow(config)
    _check_tensors(header, flow, len(data) - 8 - n)
    try:
        tensors = st_load(data)
    except Exception as err:  # safetensors raises its own error types for corrupt payloads
        raise ValueError(f"The model file is corrupt: {err}") from None
    dtype = tensors["loc"].dtype
    flow = flow.to(dtype)
    flow.load_state_dict(
        {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    )
    state = flow.state_dict()
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise ValueError("The model file holds non-finite weights (NaN, inf, or too large).")
    flow.eval()
    return flow, meta["info"] if isinstance(meta["info"], dict) else {}
