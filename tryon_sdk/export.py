"""Deploying a parser: ONNX export and the CUDA fast path.

**ONNX.** :func:`export_onnx` writes a model with dynamic batch, height and
width, its :class:`~tryon_sdk.config.ModelConfig` stored as JSON in the ONNX
``metadata_props`` (key ``tryon_sdk_config``) so the preprocessing travels
with the weights. The file is written under a temporary name and renamed, so
an interrupted export never leaves a file that looks complete.
``Parser.from_pretrained("model.onnx")`` runs it on ONNX Runtime
(:class:`~tryon_sdk.onnx_engine.OnnxEngine`); :func:`verify_onnx` compares it
with torch.

Two exporters are available: ``"torchscript"`` (``torch.onnx.export(...,
dynamo=False)``, opset 17, well under a second for MobileNetV3; the default)
and ``"dynamo"`` (``torch.export`` based, opset 18, slower to export). Both
give the same outputs on ONNX Runtime to ~1e-7.

**CUDA fast path** (not checked on a GPU by the tests; CPU-only machines get
a :class:`ConfigError` saying so): :func:`optimize_for_gpu` rebuilds a
parser's torch engine with fp16 autocast and channels_last, optionally
``torch.compile``, and wraps it in :class:`CudaGraphEngine`, which captures
one CUDA graph per input shape (a video stream has one fixed shape) and
replays it. :class:`PinnedUploader` copies frames to the GPU through pinned
host buffers.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from torch import nn

from ._version import __version__
from .config import ModelConfig
from .engine import Engine, TorchEngine
from .errors import CheckpointError, ConfigError
from .onnx_engine import CONFIG_METADATA_KEY, OnnxEngine
from .preprocess import to_model_input

if TYPE_CHECKING:
    from .parser import Parser

__all__ = [
    "EXPORTERS",
    "FORMATS",
    "export_onnx",
    "verify_onnx",
    "OnnxCheck",
    "CudaGraphEngine",
    "PinnedUploader",
    "optimize_for_gpu",
]

FORMATS: tuple[str, ...] = ("onnx",)
#: exporter name -> default opset.
EXPORTERS: dict[str, int] = {"torchscript": 17, "dynamo": 18}
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


class _Logits(nn.Module):
    """torchvision segmentation nets return ``{"out": ...}``; ONNX gets the logits tensor alone."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)["out"]


def _source(model: "Parser | nn.Module | str | os.PathLike | None", config: ModelConfig | None) -> tuple[nn.Module, ModelConfig]:
    from .parser import Parser

    if model is None or isinstance(model, (str, os.PathLike)):
        model = Parser.from_pretrained(model, device="cpu")
    if isinstance(model, Parser):
        net = getattr(model.engine, "model", None)
        if not isinstance(net, nn.Module):
            raise ConfigError(f"cannot export a parser whose engine ({type(model.engine).__name__}) has no torch model")
        return net, config or model.config
    if isinstance(model, nn.Module):
        if config is None:
            raise ConfigError("export_onnx(module, ...) needs config=ModelConfig(...) to store with the weights")
        return model, config
    raise ConfigError(f"export_onnx takes a Parser, an nn.Module, a checkpoint path or None, got {type(model).__name__}")


def export_onnx(
    model: "Parser | nn.Module | str | os.PathLike | None",
    path: str | os.PathLike,
    *,
    config: ModelConfig | None = None,
    exporter: str = "torchscript",
    opset: int | None = None,
) -> Path:
    """Write ``model`` as an ONNX file with dynamic batch, height and width.

    Args:
        model: a torch-backed :class:`~tryon_sdk.parser.Parser`, a checkpoint
            name or path (``None``: the default model), or a network from
            :func:`~tryon_sdk.engine.build_model` together with ``config``.
        path: the ``.onnx`` file to write (its folder must exist).
        exporter: ``"torchscript"`` or ``"dynamo"`` (see the module docstring).
        opset: ONNX opset (default 17 for torchscript, 18 for dynamo).

    The graph maps ``input`` (``B x 3 x H x W`` float32, normalised) to
    ``logits`` (``B x C x H x W`` float32). Returns ``path``.
    """
    try:
        import onnx
    except ImportError as exc:
        raise ConfigError("ONNX export needs the onnx package: pip install 'tryon-sdk[onnx]'") from exc

    if exporter not in EXPORTERS:
        raise ConfigError(f"unknown ONNX exporter {exporter!r}; valid: {', '.join(EXPORTERS)}")
    opset = EXPORTERS[exporter] if opset is None else int(opset)
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write {path}: folder {path.parent} does not exist")
    net, config = _source(model, config)
    # A CPU fp32 copy: the parser's own network (maybe on CUDA, channels_last) stays as it is.
    wrapped = _Logits(copy.deepcopy(net).float().cpu().to(memory_format=torch.contiguous_format)).eval()
    # The graph is traced at a small size (every axis but channels is dynamic): tracing is then fast for any model.
    side = 2 * max(32, config.size_multiple)
    sample = (torch.zeros(1, 3, side, side),)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, tracer warnings
            if exporter == "torchscript":
                axes = {0: "batch", 2: "height", 3: "width"}
                torch.onnx.export(
                    wrapped, sample, tmp, dynamo=False, opset_version=opset, input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME], dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
                )
            else:
                torch.onnx.export(
                    wrapped, sample, tmp, dynamo=True, opset_version=opset, input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME], dynamic_shapes={"x": {0: "batch", 2: "height", 3: "width"}},
                    external_data=False,
                )
        proto = onnx.load(tmp)
        meta = {p.key: p for p in proto.metadata_props}
        for key, value in ((CONFIG_METADATA_KEY, config.to_json()), ("tryon_sdk_version", __version__)):
            entry = meta.get(key) or proto.metadata_props.add()
            entry.key, entry.value = key, value
        proto.producer_name = "tryon_sdk"
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
        os.replace(tmp, path)
    except ConfigError:
        raise
    except Exception as exc:
        raise CheckpointError(f"ONNX export ({exporter}, opset {opset}) to {path} failed: {exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


@dataclass(frozen=True)
class OnnxCheck:
    """How closely an ONNX model follows its torch original, over the checked inputs."""

    max_abs_diff: float  # largest |logit difference|
    label_agreement: float  # fraction of pixels whose argmax class agrees, in [0, 1]
    shapes: tuple[tuple[int, int, int, int], ...]  # the B x 3 x H x W batches compared

    def __str__(self) -> str:
        return f"max abs logit diff {self.max_abs_diff:.3g}, labels agree on {100 * self.label_agreement:.3f}% of pixels"


def _test_images(sizes: Sequence[tuple[int, int]], seed: int) -> list[np.ndarray]:
    """Smooth random images (blobs, not white noise), so logits vary like they do on photos."""
    import cv2

    rng = np.random.default_rng(seed)
    out = []
    for h, w in sizes:
        small = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
        out.append(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC))
    return out


def verify_onnx(
    reference: "Parser | Engine",
    onnx_model: "str | os.PathLike | OnnxEngine",
    *,
    sizes: Sequence[tuple[int, int]] | None = None,
    seed: int = 0,
) -> OnnxCheck:
    """Compare an exported model's logits with the torch engine's on the same letterboxed inputs.

    ``sizes`` are image ``(height, width)`` pairs (default: the model's input
    size and a landscape frame); images of the first two sizes are also run
    as one batch, which checks the dynamic batch axis.
    """
    engine: Engine = getattr(reference, "engine", reference)
    ort_engine = onnx_model if isinstance(onnx_model, OnnxEngine) else OnnxEngine(onnx_model, device="cpu")
    cfg = engine.config
    if sizes is None:
        h, w = cfg.input_size
        sizes = [(h, w), (w * 3 // 4, w)]
    images = _test_images(sizes, seed)
    batches = [[im] for im in images] + ([images[:2]] if len(images) > 1 else [])
    worst, agree, total, shapes = 0.0, 0, 0, []
    for group in batches:
        tensors = [torch.from_numpy(im).permute(2, 0, 1).to(engine.device) for im in group]
        batch, _ = to_model_input(tensors, cfg.input_size, cfg.mean, cfg.std, cfg.size_multiple)
        with torch.inference_mode():
            ref = engine(batch).float().cpu()
        got = ort_engine(batch.cpu()).float().cpu()
        worst = max(worst, float((ref - got).abs().max()))
        agree += int((ref.argmax(1) == got.argmax(1)).sum())
        total += ref.shape[0] * ref.shape[2] * ref.shape[3]
        shapes.append(tuple(batch.shape))
    return OnnxCheck(worst, agree / total, tuple(shapes))


# ----------------------------------------------------------------- CUDA fast path
def _need_cuda(what: str, device: torch.device | None = None) -> None:
    if not torch.cuda.is_available():
        raise ConfigError(
            f"{what} needs a CUDA GPU, and torch.cuda.is_available() is False here; "
            "on CPU use Parser.from_pretrained(..., precision='bf16') or an ONNX model"
        )
    if device is not None and device.type != "cuda":
        raise ConfigError(f"{what} needs an engine on a CUDA device, this one is on {device}")


class CudaGraphEngine:
    """Replays CUDA graphs of a :class:`~tryon_sdk.engine.TorchEngine` for fixed input shapes.

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
    parser: "Parser",
    *,
    precision: str = "fp16",
    channels_last: bool = True,
    compile: bool = False,
    cuda_graphs: bool = True,
) -> "Parser":
    """A parser with a copy of ``parser``'s network, set up for CUDA throughput.

    fp16 autocast and channels_last (tensor cores), optionally
    ``torch.compile``, and :class:`CudaGraphEngine` for fixed input sizes.
    Raises :class:`ConfigError` on a machine without CUDA or for a parser
    whose engine is not a torch one.
    """
    from .parser import Parser

    _need_cuda("optimize_for_gpu")
    model = getattr(parser.engine, "model", None)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"optimize_for_gpu needs a torch engine, got {type(parser.engine).__name__}")
    device = parser.device if parser.device.type == "cuda" else torch.device("cuda")
    # A copy: TorchEngine moves and re-lays-out its module in place, and ``parser`` must keep working.
    engine: Engine = TorchEngine(copy.deepcopy(model), parser.config, device=device, precision=precision,
                                 channels_last=channels_last, compile=compile)
    if cuda_graphs:
        engine = CudaGraphEngine(engine)  # type: ignore[arg-type]
    return Parser(engine, flip_tta=parser.flip_tta)
