"""Safe checkpoints: ``model.safetensors`` + ``config.json``.

Nothing here unpickles. The weights file is safetensors (a JSON header and
raw tensor bytes); the :class:`~tryon_sdk.config.ModelConfig` is stored both
as ``config.json`` beside it and inside the safetensors header metadata, so a
lone ``.safetensors`` file still loads. A SHA-256 over the tensors
(:func:`weights_checksum`) is recorded at save time and checked at load time.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..config import ModelConfig
from ..errors import CheckpointError
from ..outputs import atomic_path

__all__ = [
    "WEIGHTS_NAME",
    "CONFIG_NAME",
    "save_checkpoint",
    "load_checkpoint",
    "load_config",
    "weights_checksum",
    "load_weights_into",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
_META_KEY = "tryon_sdk_config"
_MAX_HEADER = 100 * 2**20  # the safetensors format's own limit on the header size


def weights_checksum(state_dict: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over tensor names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(
    model_or_state: nn.Module | Mapping[str, torch.Tensor],
    config: ModelConfig,
    directory: str | os.PathLike,
    *,
    dtype: torch.dtype | None = None,
) -> ModelConfig:
    """Write ``directory/model.safetensors`` and ``directory/config.json``.

    ``dtype`` (e.g. ``torch.float16``) converts floating-point tensors to save
    space; they are cast back to float32 on load. Returns the config with its
    ``sha256`` filled in. Both files are written to temporary names first, so
    an interrupted save never leaves a file that looks complete.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(f"cannot create checkpoint folder {directory}: {exc}") from exc
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else dict(model_or_state)
    tensors: dict[str, torch.Tensor] = {}
    for name, t in state.items():
        t = t.detach().cpu()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        tensors[name] = t.contiguous()
    config = config.replace(sha256=weights_checksum(tensors))
    text = config.to_json()
    try:
        with atomic_path(directory / WEIGHTS_NAME) as tmp:
            save_file(tensors, tmp, metadata={_META_KEY: text})
        with atomic_path(directory / CONFIG_NAME) as tmp:
            tmp.write_text(text + "\n")
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint to {directory}: {exc}") from exc
    return config


def _weights_path(path: Path) -> Path:
    if path.is_dir():
        weights = path / WEIGHTS_NAME
        if not weights.is_file():
            raise CheckpointError(f"{path} has no {WEIGHTS_NAME}; expected a folder written by save_pretrained")
        return weights
    if path.is_file():
        return path
    raise CheckpointError(f"checkpoint not found: {path}")


def _read_header(weights: Path) -> dict:
    """Parse the safetensors header, telling pickles and truncated files apart."""
    size = weights.stat().st_size
    with open(weights, "rb") as f:
        head = f.read(8)
        if head[:2] == b"PK" or head[:1] == b"\x80":
            raise CheckpointError(
                f"{weights} is a pickle/torch.save file; tryon_sdk never unpickles checkpoints. "
                "Convert it with save_pretrained (safetensors) in a trusted environment."
            )
        if weights.suffix == ".onnx":
            raise CheckpointError(
                f"{weights} is an ONNX model, not a safetensors checkpoint; Parser.from_pretrained() and the "
                "command line's --model run it on ONNX Runtime, tryon_sdk.engines.onnx_engine.load_onnx_config() reads its config"
            )
        if len(head) < 8:
            raise CheckpointError(f"{weights} is not a safetensors file (only {size} bytes)")
        (n,) = struct.unpack("<Q", head)
        opening = f.read(1)
        if opening != b"{" or n > _MAX_HEADER:
            # a safetensors file starts with the length of its JSON header, then the header itself
            raise CheckpointError(f"{weights} is not a safetensors file (it does not start with a safetensors header)")
        if n > size - 8:
            raise CheckpointError(f"{weights} is truncated: its header alone needs {n} bytes, the file has {size}")
        try:
            header = json.loads(opening + f.read(n - 1))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{weights} is not a safetensors file (its header is not JSON: {exc})") from exc
        if not isinstance(header, dict):
            raise CheckpointError(f"{weights} is not a safetensors file (its header is not a JSON object)")
    try:
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (TypeError, KeyError, IndexError, ValueError):
        raise CheckpointError(f"{weights} is not a safetensors file (its header lists no tensor offsets)") from None
    if 8 + n + max(ends, default=0) > size:
        raise CheckpointError(f"{weights} is truncated: {size} bytes, tensors need {8 + n + max(ends)}")
    return header


def load_config(path: str | os.PathLike) -> ModelConfig:
    """Read the :class:`ModelConfig` of a checkpoint folder or file without loading weights."""
    path = Path(path)
    weights = _weights_path(path)
    cfg_file = weights.parent / CONFIG_NAME
    if cfg_file.is_file() and (path.is_dir() or weights.name == WEIGHTS_NAME):
        return ModelConfig.from_json(cfg_file.read_text())
    meta = _read_header(weights).get("__metadata__") or {}
    if _META_KEY not in meta:
        raise CheckpointError(f"{weights} has no {CONFIG_NAME} beside it and no tryon_sdk config in its header")
    return ModelConfig.from_json(meta[_META_KEY])


def load_checkpoint(path: str | os.PathLike, *, verify: bool = True) -> tuple[dict[str, torch.Tensor], ModelConfig]:
    """Load ``(state_dict, config)`` from a folder or a ``.safetensors`` file.

    Raises :class:`CheckpointError` for a missing, pickled, truncated or
    tampered file (checksum mismatch when ``verify``).
    """
    path = Path(path)
    weights = _weights_path(path)
    _read_header(weights)
    config = load_config(path)
    try:
        state = load_file(weights)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {weights}: {exc}") from exc
    if verify:
        if not config.sha256:
            raise CheckpointError(
                f"{weights}: config has no sha256 checksum of the weights; if you trust the file, load it anyway "
                "with verify=False (command line: --no-verify-checksum)"
            )
        found = weights_checksum(state)
        if found != config.sha256:
            raise CheckpointError(
                f"{weights}: weights checksum mismatch (found {found[:12]}…, config says {config.sha256[:12]}…); "
                "the file is corrupt or was modified"
            )
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return state, config


def load_weights_into(model: nn.Module, state: Mapping[str, torch.Tensor], config: ModelConfig, source: str = "checkpoint") -> None:
    """``model.load_state_dict(state)`` with errors that say what was found and expected."""
    expected = model.state_dict()
    cls_key = next((k for k in ("classifier.4.weight", "classifier.high_classifier.weight") if k in expected), None)
    if cls_key and cls_key in state and state[cls_key].shape[0] != expected[cls_key].shape[0]:
        raise CheckpointError(
            f"{source}: classifier has {state[cls_key].shape[0]} classes, expected {expected[cls_key].shape[0]} "
            f"({config.architecture}/{config.backbone} with {config.num_classes} classes)"
        )
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shape_bad = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or shape_bad:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shape_bad:
            k = shape_bad[0]
            detail.append(f"{len(shape_bad)} with other shapes (e.g. {k}: found {tuple(state[k].shape)}, expected {tuple(expected[k].shape)})")
        raise CheckpointError(
            f"{source}: weights do not match a {config.architecture}/{config.backbone} network with "
            f"{config.num_classes} classes: " + "; ".join(detail)
        )
    model.load_state_dict(state, strict=True)
