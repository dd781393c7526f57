"""Choosing the engine for :meth:`Parser.from_pretrained <tryon_sdk.parser.Parser.from_pretrained>`.

Three ways lead to ONNX Runtime: an exported ``.onnx`` file (:func:`open_onnx_file`); a safetensors
checkpoint with ``runtime="auto"`` (the default) whose folder ships a ``model.onnx`` of the same weights,
on the CPU (:func:`auto_onnx_engine`; otherwise torch); or ``runtime="onnxruntime"``
(:func:`checkpoint_on_onnxruntime`: the folder's ``model.onnx``, else an export cached by the weights'
checksum; with ``precision="int8"`` the folder's ``model-int8.onnx``). Options ONNX Runtime cannot honour
are refused with a :class:`~tryon_sdk.errors.ConfigError` that names them, never dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import torch

from ..config import ModelConfig
from ..errors import CheckpointError, ConfigError
from .options import EngineOptions
from .torch_engine import Engine

if TYPE_CHECKING:
    from .onnx_engine import OnnxEngine

__all__ = [
    "ONNX_PRECISIONS",
    "check_expected",
    "checkpoint_on_onnxruntime",
    "auto_onnx_engine",
    "onnx_file",
    "open_onnx_file",
    "onnx_precision",
    "LoadedModel",
    "load_engine",
]

#: Precisions an ONNX model can have.
ONNX_PRECISIONS: tuple[str, ...] = ("fp32", "int8")


class LoadedModel(NamedTuple):
    """What :func:`load_engine` gives: the engine, and the torch network behind a non-torch engine
    (``None`` for a torch engine, whose ``.model`` it is, and for an ``.onnx`` file)."""

    engine: Engine
    module: torch.nn.Module | None


def check_expected(config: ModelConfig, source: Path, backbone: str | None, num_classes: int | None) -> None:
    """:class:`CheckpointError` when a checkpoint is not the model the caller expects (``None``: anything)."""
    if backbone is not None and config.backbone != backbone:
        raise CheckpointError(f"{source}: checkpoint has backbone {config.backbone!r}, expected {backbone!r}")
    if num_classes is not None and config.num_classes != num_classes:
        raise CheckpointError(f"{source}: checkpoint has {config.num_classes} classes, expected {num_classes}")


def onnx_precision(config: ModelConfig) -> str:
    """``"int8"`` for a model written by :func:`~tryon_sdk.engines.quantize.quantize_onnx`, else ``"fp32"``."""
    return "int8" if config.recipe.get("precision") == "int8" else "fp32"


def _refuse_torch_options(precision: str | None, channels_last: bool | None, compile: bool) -> None:
    """:class:`ConfigError` for options only the torch engine has."""
    if precision is not None and precision not in ONNX_PRECISIONS:
        raise ConfigError(
            f"precision {precision!r} cannot be honoured: fp16/bf16 are torch options (autocast); "
            f"ONNX Runtime takes precision {' or '.join(repr(p) for p in ONNX_PRECISIONS)}"
        )
    if channels_last:
        raise ConfigError("channels_last=True is a torch option: ONNX Runtime picks its own memory layout; drop it")
    if compile:
        raise ConfigError("compile=True is a torch option: ONNX Runtime optimises the graph itself; drop it")


def open_onnx_file(
    path: Path,
    *,
    device: str | torch.device,
    precision: str | None,
    channels_last: bool | None,
    compile: bool,
    verify: bool | None,
) -> "OnnxEngine":
    """The engine of an exported ``.onnx`` file, after refusing what it cannot honour.

    ``precision`` must be the file's own (``None``: whatever it is); ``verify=True`` is refused
    because an ``.onnx`` file records no checksum of its weights.
    """
    from .onnx_engine import OnnxEngine  # optional dependency

    _refuse_torch_options(precision, channels_last, compile)
    if verify:
        raise ConfigError(
            f"verify=True cannot be honoured for {path.name}: an .onnx file records no checksum of its weights; "
            "load it with verify=False (command line: --no-verify-checksum)"
        )
    engine = OnnxEngine(path, device=device)
    if precision is not None and precision != onnx_precision(engine.config):
        raise ConfigError(
            f"precision {precision!r} cannot be honoured: {path.name} is a {onnx_precision(engine.config)} model; "
            "pass that precision, or none"
        )
    return engine


def auto_onnx_engine(
    path: Path, config: ModelConfig, *, device: str | torch.device, precision: str, channels_last: bool | None, compile: bool
) -> "OnnxEngine | None":
    """The engine ``runtime="auto"`` runs a safetensors checkpoint on: ONNX Runtime, or ``None`` for torch.

    ONNX Runtime when that is the fastest correct path and costs nothing to set up: the device is the
    CPU, no torch-only option is asked for (fp16/bf16, channels_last, compile), ONNX Runtime is installed
    and the checkpoint folder ships a ``model.onnx`` exported from the same weights (its config records
    the weights' SHA-256; the bundled model does). On two Xeon cores ONNX Runtime runs the default
    model's forward pass about twice as fast as torch fp32, with the same labels (see the README).
    """
    import importlib.util

    from .torch_engine import resolve_device

    if resolve_device(device).type != "cpu" or precision != "fp32" or channels_last or compile:
        return None
    bundled = (path if path.is_dir() else path.parent) / "model.onnx"
    if config.sha256 is None or not bundled.is_file() or importlib.util.find_spec("onnxruntime") is None:
        return None
    from .onnx_engine import OnnxEngine

    try:
        engine = OnnxEngine(bundled, device=device)
    except CheckpointError:  # not a readable tryon_sdk export: the checkpoint itself still runs on torch
        return None
    return engine if engine.config.sha256 == config.sha256 else None


def onnx_file(folder: Path, model: torch.nn.Module, config: ModelConfig, precision: str) -> Path:
    """The ONNX file for a safetensors checkpoint: bundled beside it, or exported once into the cache."""
    folder = folder if folder.is_dir() else folder.parent
    if precision == "int8":
        path = folder / "model-int8.onnx"
        if not path.is_file():
            raise CheckpointError(
                f"{folder} has no model-int8.onnx; make one with tryon_sdk.engines.quantize.quantize_onnx "
                "(calibrated on photos like the ones you parse) or use precision 'fp32'"
            )
        return path
    bundled = folder / "model.onnx"
    if bundled.is_file():
        return bundled
    from ..models.registry import cache_dir
    from .export import export_onnx

    cached = cache_dir() / "onnx" / f"{config.sha256 or 'unverified'}.onnx"
    if config.sha256 is None or not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(model, config, cached)
    return cached


def checkpoint_on_onnxruntime(
    path: Path,
    model: torch.nn.Module,
    config: ModelConfig,
    *,
    device: str | torch.device,
    precision: str,
    channels_last: bool | None,
    compile: bool,
) -> "OnnxEngine":
    """An ONNX Runtime engine for a loaded safetensors checkpoint (``runtime="onnxruntime"``)."""
    from .onnx_engine import OnnxEngine  # optional dependency

    _refuse_torch_options(precision, channels_last, compile)
    return OnnxEngine(onnx_file(path, model, config, precision), device=device)


def load_engine(
    name_or_path: str | os.PathLike | None,
    options: EngineOptions,
    *,
    backbone: str | None = None,
    num_classes: int | None = None,
) -> LoadedModel:
    """The one way a model is loaded: a checkpoint folder, a ``.safetensors`` or ``.onnx`` file or a
    registered name (``None``: the bundled default) on the engine ``options`` ask for.

    ``backbone`` / ``num_classes``, when given, are what the caller expects; a checkpoint that differs is
    refused with a :class:`CheckpointError`. Safetensors are read without unpickling and checked against
    the checksum their config records (unless ``options.verify`` is ``False``).
    """
    from ..models.builders import build_model
    from ..models.checkpoint import load_checkpoint, load_weights_into
    from ..models.registry import resolve_checkpoint
    from .torch_engine import TorchEngine

    path = resolve_checkpoint(name_or_path)
    o = options
    if path.suffix == ".onnx":
        engine: Engine = open_onnx_file(
            path, device=o.device, precision=o.precision, channels_last=o.channels_last, compile=o.compile, verify=o.verify
        )
        check_expected(engine.config, path, backbone, num_classes)
        return LoadedModel(engine, None)
    precision = o.precision or "fp32"
    if precision == "int8" and o.runtime != "onnxruntime":
        raise ConfigError("precision 'int8' runs on ONNX Runtime: pass runtime='onnxruntime'")
    state, config = load_checkpoint(path, verify=o.verify is not False)
    check_expected(config, path, backbone, num_classes)
    model = build_model(config)
    load_weights_into(model, state, config, source=str(path))
    torch_options = dict(device=o.device, precision=precision, channels_last=o.channels_last, compile=o.compile)
    if o.runtime == "auto":
        auto = auto_onnx_engine(path, config, **torch_options)
        if auto is not None:
            return LoadedModel(auto, model.eval())
    elif o.runtime == "onnxruntime":
        return LoadedModel(checkpoint_on_onnxruntime(path, model, config, **torch_options), model.eval())
    return LoadedModel(TorchEngine(model, config, owned=True, **torch_options), None)
