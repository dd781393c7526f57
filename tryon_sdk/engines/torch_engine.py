"""The torch engine: runs the segmentation network in eval mode.

:class:`TorchEngine` runs a network from
:func:`~tryon_sdk.models.builders.build_model` on a device with the chosen
precision; it takes a normalised batch and returns logits, and knows nothing
about images, letterboxing or classes. Any object with the same ``__call__``
(see :class:`Engine`) can stand in for it, e.g. an ONNX Runtime engine.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError

__all__ = ["Engine", "TorchEngine", "resolve_device", "PRECISIONS"]

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16")
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else CPU; other names are checked."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} was asked for but CUDA is not available; use device='cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device type {dev.type!r} is not supported; valid: auto, cpu, cuda")
    return dev


@runtime_checkable
class Engine(Protocol):
    """What the parser needs from an inference backend."""

    config: ModelConfig
    device: torch.device

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Normalised ``B x 3 x H x W`` float32 on :attr:`device` -> logits ``B x C x H x W`` float32."""
        ...


def _runs_as_is(model: nn.Module, device: torch.device, channels_last: bool) -> bool:
    """Would eval mode, ``device`` and the memory format leave ``model`` exactly as it is?"""
    if any(m.training for m in model.modules()):
        return False
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for t in (*model.parameters(), *model.buffers()):
        if t.device.type != device.type or (device.index is not None and t.device.index != device.index):
            return False
        if t.dim() == 4 and not t.is_contiguous(memory_format=fmt):
            return False
    return True


class TorchEngine:
    """Runs a torch segmentation network in eval mode.

    Args:
        model: a module from :func:`build_model` (weights already loaded).
        config: the model's config.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        precision: ``"fp32"``; ``"fp16"`` (CUDA only) or ``"bf16"`` run under autocast.
        channels_last: NHWC memory format; ``None`` means on for CUDA, off on CPU.
        compile: wrap the network in ``torch.compile``.
        owned: ``model`` is the engine's to change (a module built just for it). Otherwise
            the caller's module is left as it was: when eval mode, the device or the memory
            format differ, the engine runs a copy (:attr:`model`), never the caller's module.
    """

    name = "torch"

    def __init__(
        self,
        model: nn.Module,
        config: ModelConfig,
        *,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        channels_last: bool | None = None,
        compile: bool = False,
        owned: bool = False,
    ) -> None:
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
        self.config = config
        self.device = resolve_device(device)
        if precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("precision 'fp16' needs a CUDA device; on CPU use 'bf16' or 'fp32'")
        self.precision = precision
        self.channels_last = self.device.type == "cuda" if channels_last is None else bool(channels_last)
        if not owned and not _runs_as_is(model, self.device, self.channels_last):
            model = copy.deepcopy(model)
        model = model.eval().to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self._net = torch.compile(model) if compile else model

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_DTYPES[self.precision])

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            out = self._net(batch)["out"]
        return out.float()
