"""ONNX export of a parser.

**ONNX.** :func:`export_onnx` writes a model with dynamic batch, height and
width, its :class:`~tryon_sdk.config.ModelConfig` stored as JSON in the ONNX
``metadata_props`` (key ``tryon_sdk_config``) so the preprocessing travels
with the weights. The file is written under a temporary name and renamed, so
an interrupted export never leaves a file that looks complete; it gets the
mode any new file gets (``0644`` under the usual umask), like every other output.
``Parser.from_pretrained("model.onnx")`` runs it on ONNX Runtime
(:class:`~tryon_sdk.engines.onnx_engine.OnnxEngine`); :func:`verify_onnx` compares it
with torch.

Two exporters are available: ``"torchscript"`` (``torch.onnx.export(...,
dynamo=False)``, opset 17, well under a second for MobileNetV3; the default)
and ``"dynamo"`` (``torch.export`` based, opset 18, slower to export). Both
give the same outputs on ONNX Runtime to ~1e-7.

The CUDA fast path lives in :mod:`tryon_sdk.engines.gpu`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .._version import __version__
from ..config import ModelConfig
from .torch_engine import Engine, TorchEngine
from ..errors import CheckpointError, ConfigError
from .onnx_engine import CONFIG_METADATA_KEY, OnnxEngine
from ..outputs import atomic_path
from ..preprocess import Preprocess

__all__ = [
    "EXPORTERS",
    "FORMATS",
    "export_onnx",
    "verify_onnx",
    "OnnxCheck",
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


def export_onnx(
    module: nn.Module | None,
    config: ModelConfig,
    path: str | os.PathLike,
    *,
    exporter: str = "torchscript",
    opset: int | None = None,
) -> Path:
    """Write a network as an ONNX file with dynamic batch, height and width.

    Args:
        module: a network from :func:`~tryon_sdk.models.builders.build_model` (a parser's
            :attr:`~tryon_sdk.parser.Parser.model`; ``None``, as for an exported ``.onnx`` file, is refused).
        config: its :class:`~tryon_sdk.config.ModelConfig`, stored with the weights.
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
    if not isinstance(module, nn.Module):
        raise ConfigError(f"export_onnx needs a torch network (nn.Module), got {type(module).__name__}: "
                          "a model loaded from an .onnx file has none; load its checkpoint folder instead")
    net = module
    # A CPU fp32 copy: the parser's own network (maybe on CUDA, channels_last) stays as it is.
    wrapped = _Logits(copy.deepcopy(net).float().cpu().to(memory_format=torch.contiguous_format)).eval()
    # The graph is traced at a small size (every axis but channels is dynamic): tracing is then fast for any model.
    side = 2 * max(32, config.size_multiple)
    sample = (torch.zeros(1, 3, side, side),)

    def write(tmp: str) -> None:
        """Export to ``tmp`` and add tryon_sdk's metadata."""
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

    try:
        with atomic_path(path) as tmp:  # temporary name, then rename; the mode any new file gets (0644 under umask 022)
            write(str(tmp))
    except ConfigError:
        raise
    except Exception as exc:
        raise CheckpointError(f"ONNX export ({exporter}, opset {opset}) to {path} failed: {exc}") from exc
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
    module: nn.Module,
    config: ModelConfig,
    onnx_model: str | os.PathLike | OnnxEngine,
    *,
    sizes: Sequence[tuple[int, int]] | None = None,
    seed: int = 0,
) -> OnnxCheck:
    """Compare an exported model's logits with the torch engine's on the same letterboxed inputs.

    ``module`` (with its ``config``) runs on torch on the CPU as the reference.

    ``sizes`` are image ``(height, width)`` pairs (default: the model's input
    size and a landscape frame); images of the first two sizes are also run
    as one batch, which checks the dynamic batch axis.
    """
    engine: Engine = TorchEngine(module, config, device="cpu")
    ort_engine = onnx_model if isinstance(onnx_model, OnnxEngine) else OnnxEngine(onnx_model, device="cpu")
    cfg = engine.config
    if sizes is None:
        h, w = cfg.input_size
        sizes = [(h, w), (w * 3 // 4, w)]
    images = _test_images(sizes, seed)
    batches = [[im] for im in images] + ([images[:2]] if len(images) > 1 else [])
    preprocess = Preprocess.from_config(cfg)
    worst, agree, total, shapes = 0.0, 0, 0, []
    for group in batches:
        tensors = [torch.from_numpy(im).permute(2, 0, 1).to(engine.device) for im in group]
        batch, _ = preprocess(tensors)
        with torch.inference_mode():
            ref = engine(batch).float().cpu()
        got = ort_engine(batch.cpu()).float().cpu()
        worst = max(worst, float((ref - got).abs().max()))
        agree += int((ref.argmax(1) == got.argmax(1)).sum())
        total += ref.shape[0] * ref.shape[2] * ref.shape[3]
        shapes.append(tuple(batch.shape))
    return OnnxCheck(worst, agree / total, tuple(shapes))
