"""The CUDA fast path (written for CUDA, not yet checked on a GPU by the tests).

:func:`optimize_for_gpu` builds a torch engine of a model with fp16 autocast
and channels_last, optionally ``torch.compile``, and wraps it in
:class:`CudaGraphEngine`, which captures one CUDA graph per input shape (a
video stream letterboxes to one fixed shape) and replays it.
:class:`PinnedUploader` copies frames to the GPU through pinned host buffers;
the parser uses it for every upload. CPU-only machines get a
:class:`~tryon_sdk.errors.ConfigError` saying so.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from .torch_engine import Engine, TorchEngine

__all__ = ["CudaGraphEngine", "PinnedUploader", "optimize_for_gpu"]


def _need_cuda(what: str, device: torch.device | None = None) -> None:
    if not torch.cuda.is_available():
        raise ConfigError(
            f"{what} needs a CUDA GPU, and torch.cuda.is_available() is False here; "
            "on CPU use Parser.from_pretrained(..., precision='bf16') or an ONNX model"
        )
    if device is not None and device.type != "cuda":
        raise ConfigError(f"{what} needs an engine on a CUDA device, this one is on {device}")


class CudaGraphEngine:
    """Replays CUDA graphs of a :class:`~tryon_sdk.engines.torch_engine.TorchEngine` for fixed input shapes.

    The first batch of each ``B x 3 x H x W`` shape is run ``warmup`` times on
    a side stream, then captured; later batches of that shape are copied into
    the graph's static input and replayed, which removes per-kernel launch
    overhead. Up to ``max_graphs`` shapes are kept (least recently used
    dropped); a video stream letterboxes every frame to one shape.
    """

    name = "torch+cudagraphs"

    def __init__(self, engine: TorchEngine, *, warmup: int = 3, max_graphs: int = 4) -> None:
        _need_cuda("CudaGraphEngine", engine.device)
        if max_graphs < 1:
            raise ConfigError(f"max_graphs must be >= 1, got {max_graphs}")
        self.engine = engine
        self.config = engine.config
        self.device = engine.device
        self.model = engine.model  # so save_pretrained / export still find the network
        self.warmup = int(warmup)
        self.max_graphs = int(max_graphs)
        self._graphs: OrderedDict[tuple[int, ...], tuple[Any, torch.Tensor, torch.Tensor]] = OrderedDict()

    def _capture(self, batch: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor]:
        static_in = batch.detach().clone()
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(self.warmup):
                self.engine(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self.engine(static_in)
        return graph, static_in, static_out

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        key = tuple(batch.shape)
        entry = self._graphs.get(key)
        if entry is None:
            entry = self._capture(batch)
            self._graphs[key] = entry
            if len(self._graphs) > self.max_graphs:
                self._graphs.popitem(last=False)
        else:
            self._graphs.move_to_end(key)
        graph, static_in, static_out = entry
        static_in.copy_(batch, non_blocking=True)
        graph.replay()
        return static_out.clone()


class PinnedUploader:
    """Copies ``HxWx3`` uint8 frames to ``device`` as ``3xHxW`` tensors through reused pinned buffers.

    On CUDA the copy is asynchronous (``non_blocking``) from page-locked
    memory; each buffer is reused only after its previous copy finished. On
    CPU it is ``torch.from_numpy`` (no copy).
    """

    def __init__(self, device: str | torch.device, *, slots: int = 2) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda":
            _need_cuda("PinnedUploader")
        self.slots = max(1, int(slots))
        self._buffers: dict[tuple[int, ...], list[tuple[torch.Tensor, Any]]] = {}
        self._next: dict[tuple[int, ...], int] = {}

    def __call__(self, images: Sequence[np.ndarray]) -> list[torch.Tensor]:
        if self.device.type != "cuda":
            return [torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1) for im in images]
        out = []
        for im in images:
            key = tuple(im.shape)
            ring = self._buffers.setdefault(key, [])
            i = self._next.get(key, 0)
            if len(ring) <= i:
                ring.append((torch.empty(key, dtype=torch.uint8, pin_memory=True), torch.cuda.Event()))
            host, done = ring[i]
            done.synchronize()  # the previous copy out of this buffer has finished
            host.numpy()[...] = im
            out.append(host.to(self.device, non_blocking=True).permute(2, 0, 1))
            done.record()
            self._next[key] = (i + 1) % self.slots
        return out


def optimize_for_gpu(
    module: nn.Module | None,
    config: ModelConfig,
    *,
    device: torch.device | None = None,
    precision: str = "fp16",
    channels_last: bool = True,
    compile: bool = False,
    cuda_graphs: bool = True,
) -> Engine:
    """An engine running a copy of ``module`` (``config``'s network), set up for CUDA throughput.

    fp16 autocast and channels_last (tensor cores), optionally ``torch.compile``, and
    :class:`CudaGraphEngine` for fixed input sizes; ``device`` a CUDA device (default ``cuda``). Raises
    :class:`ConfigError` on a machine without CUDA or without a torch network (``module`` ``None``: an
    exported ``.onnx`` file). :meth:`Parser.optimize_for_gpu <tryon_sdk.parser.Parser.optimize_for_gpu>`
    wraps it.
    """
    _need_cuda("optimize_for_gpu")
    if not isinstance(module, nn.Module):
        raise ConfigError(
            "optimize_for_gpu needs the model's torch network; an exported .onnx file has none: "
            "load the checkpoint folder instead"
        )
    device = device if device is not None and device.type == "cuda" else torch.device("cuda")
    # TorchEngine runs a copy whenever it must move or re-lay-out the module, so the caller's keeps working.
    engine = TorchEngine(module, config, device=device, precision=precision, channels_last=channels_last, compile=compile)
    return CudaGraphEngine(engine) if cuda_graphs else engine
