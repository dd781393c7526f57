"""How a model runs, grouped as MediaPipe's ``BaseOptions``: device, runtime, precision and the torch knobs."""

from __future__ import annotations

import dataclasses

import torch

from ..validate import one_of
from .torch_engine import PRECISIONS as TORCH_PRECISIONS

__all__ = ["EngineOptions", "RUNTIMES", "PRECISIONS"]

#: Inference runtimes: ONNX Runtime on the CPU when the checkpoint ships a ``model.onnx`` (``auto``), or one.
RUNTIMES: tuple[str, ...] = ("auto", "torch", "onnxruntime")
#: Precisions (int8: ONNX Runtime only).
PRECISIONS: tuple[str, ...] = (*TORCH_PRECISIONS, "int8")


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    """The engine a model is loaded on (:func:`~tryon_sdk.engines.runtime.load_engine`).

    Attributes:
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        runtime: one of :data:`RUNTIMES`.
        precision: ``None`` (the model's own), ``"fp32"``, ``"fp16"`` / ``"bf16"`` (torch autocast) or
            ``"int8"`` (ONNX Runtime).
        channels_last: NHWC memory format (``None``: on for CUDA, off for the CPU); torch only.
        compile: ``torch.compile`` the network; torch only.
        verify: check the weights against the checksum their config records (``None``: on for safetensors).
    """

    device: str | torch.device = "auto"
    runtime: str = "auto"
    precision: str | None = None
    channels_last: bool | None = None
    compile: bool = False
    verify: bool | None = None

    def __post_init__(self) -> None:
        one_of("runtime", self.runtime, RUNTIMES)
        if self.precision is not None:
            one_of("precision", self.precision, PRECISIONS)
