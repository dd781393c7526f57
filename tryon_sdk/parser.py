"""``Parser``: images in, ATR label maps and garment regions out.

Data flows frame -> :mod:`~tryon_sdk.preprocess` (letterbox on the engine's
device) -> engine (logits) -> optional flip TTA -> softmax -> crop and resize
back to the image's own size -> :class:`ParseResult`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from .checkpoint import load_checkpoint, load_weights_into, save_checkpoint
from .config import ModelConfig
from .engine import Engine, TorchEngine, build_model, output_stride
from .errors import CheckpointError, ConfigError
from .gpu import PinnedUploader
from .inputs import to_rgb_uint8
from .labels import argmax_labels, swap_lr_channels
from .preprocess import plan_letterbox, restore, to_model_input
from .regions import Box, agnostic_mask, region_alpha, region_box
from .registry import resolve_checkpoint
from .visualize import colorize, overlay

__all__ = ["Parser", "ParseResult"]


@dataclass
class ParseResult:
    """One parsed image.

    Attributes:
        labels: ``HxW`` uint8 ATR ids at the input's own resolution.
        probabilities: ``CxHxW`` float32 class probabilities, only when asked for.
        image: the ``HxWx3`` uint8 RGB image that was parsed (guides edge refinement).
        class_names: names of the label ids.
        timestamp_ms: the frame's timestamp in video and stream modes.
        stride_px: the network's output stride in this image's pixels (sets the edge-refinement radius).
    """

    labels: np.ndarray
    probabilities: np.ndarray | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    class_names: tuple[str, ...] = ()
    timestamp_ms: int | None = None
    stride_px: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape  # type: ignore[return-value]

    def region(self, name: str, *, feather: float = 0.0, refine: bool = True, radius: int | None = None) -> np.ndarray:
        """``HxW`` float32 alpha in [0, 1] of a named region (see :data:`tryon_sdk.regions.REGIONS`).

        Edges are refined against the image by default; ``feather`` softens them by that many pixels.
        """
        return region_alpha(
            name,
            labels=self.labels,
            probabilities=self.probabilities,
            image=self.image,
            refine=refine,
            feather=feather,
            radius=radius,
            stride_px=self.stride_px,
        )

    def box(self, name: str, threshold: float = 0.5) -> Box | None:
        """Bounding box ``(x0, y0, x1, y1)`` of a region, or ``None`` when absent."""
        return region_box(self.region(name, refine=False), threshold)

    def agnostic_mask(self, category: str = "upper_body", *, dilation: int | None = None) -> np.ndarray:
        """``HxW`` bool try-on inpainting mask for ``upper_body``, ``lower_body`` or ``dresses``."""
        return agnostic_mask(self.labels, category, dilation=dilation)

    def colorize(self) -> np.ndarray:
        """``HxWx3`` uint8 colour-coded labels."""
        return colorize(self.labels)

    def overlay(self, alpha: float = 0.5) -> np.ndarray:
        """``HxWx3`` uint8 image with class colours blended in."""
        if self.image is None:
            raise ConfigError("this result keeps no image; use colorize() or tryon_sdk.visualize.overlay(image, labels)")
        return overlay(self.image, self.labels, alpha=alpha)


class Parser:
    """Human parser over the 18 ATR classes.

    Build one with :meth:`from_pretrained` (a checkpoint folder, a ``.safetensors``
    file, or a registered model name; no argument loads the bundled default
    model) or :meth:`from_config` (random weights, for training and tests).

    Args:
        engine: the inference backend (a :class:`~tryon_sdk.engine.TorchEngine` or compatible).
        flip_tta: average each prediction with that of the mirrored image, left/right swapped back.
    """

    def __init__(self, engine: Engine, *, flip_tta: bool = False) -> None:
        self.engine = engine
        self.flip_tta = bool(flip_tta)
        self._upload = PinnedUploader(engine.device)  # pinned, asynchronous copies on CUDA; zero-copy on CPU

    # ----------------------------------------------------------------- building
    @property
    def config(self) -> ModelConfig:
        return self.engine.config

    @property
    def device(self) -> torch.device:
        return self.engine.device

    @classmethod
    def from_config(
        cls,
        config: ModelConfig | None = None,
        *,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        channels_last: bool | None = None,
        compile: bool = False,
        flip_tta: bool = False,
        **overrides: Any,
    ) -> "Parser":
        """A parser with a freshly initialised (untrained) network; ``overrides`` are ModelConfig fields."""
        config = (config or ModelConfig()).replace(**overrides) if overrides else (config or ModelConfig())
        engine = TorchEngine(
            build_model(config), config, device=device, precision=precision, channels_last=channels_last, compile=compile
        )
        return cls(engine, flip_tta=flip_tta)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike | None = None,
        *,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        channels_last: bool | None = None,
        compile: bool = False,
        flip_tta: bool = False,
        backbone: str | None = None,
        num_classes: int | None = None,
        verify: bool = True,
    ) -> "Parser":
        """Load a checkpoint written by :meth:`save_pretrained` (never unpickles).

        ``backbone`` / ``num_classes``, when given, are what the caller expects;
        a checkpoint that differs is refused with a :class:`CheckpointError`.
        ``.onnx`` files run on ONNX Runtime with the same pre- and post-processing.
        """
        path = resolve_checkpoint(name_or_path)
        if path.suffix == ".onnx":
            from .onnx_engine import OnnxEngine  # optional dependency

            engine: Engine = OnnxEngine(path, device=device)
        else:
            state, config = load_checkpoint(path, verify=verify)
            if backbone is not None and config.backbone != backbone:
                raise CheckpointError(f"{path}: checkpoint has backbone {config.backbone!r}, expected {backbone!r}")
            if num_classes is not None and config.num_classes != num_classes:
                raise CheckpointError(f"{path}: checkpoint has {config.num_classes} classes, expected {num_classes}")
            model = build_model(config)
            load_weights_into(model, state, config, source=str(path))
            engine = TorchEngine(model, config, device=device, precision=precision, channels_last=channels_last, compile=compile)
        if engine.config.flip_pairs == () and flip_tta:
            raise ConfigError("flip_tta needs a model with left/right flip pairs")
        return cls(engine, flip_tta=flip_tta)

    def save_pretrained(self, directory: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory``; returns the folder."""
        model = getattr(self.engine, "model", None)
        if model is None:
            raise ConfigError(f"{type(self.engine).__name__} has no torch model to save")
        self.engine.config = save_checkpoint(model, self.config, directory, dtype=dtype)
        return Path(directory)

    # ---------------------------------------------------------------- inference
    def predict(self, images: Sequence[np.ndarray], *, probabilities: bool = True) -> list[torch.Tensor]:
        """Class scores for already converted images (engine stage of the pipeline).

        Args:
            images: ``HxWx3`` uint8 RGB arrays (see :func:`tryon_sdk.inputs.to_rgb_uint8`).
            probabilities: softmax probabilities; ``False`` may return logits instead
                (same argmax, cheaper) when flip TTA is off.

        Returns:
            one ``CxHxW`` float32 tensor per image, on the engine's device, at the image's size.
        """
        if not images:
            return []
        cfg = self.config
        device = self.device
        with torch.inference_mode():
            tensors = [t.to(device) for t in self._upload(images)]
            batch, boxes = to_model_input(tensors, cfg.input_size, cfg.mean, cfg.std, cfg.size_multiple)
            if self.flip_tta:
                logits = self.engine(torch.cat([batch, batch.flip(-1)]))
                probs, mirrored = logits.softmax(1).chunk(2)
                probs = 0.5 * (probs + swap_lr_channels(mirrored.flip(-1), dim=1, pairs=cfg.flip_pairs))
            else:
                probs = self.engine(batch)
                if probabilities:
                    probs = probs.softmax(1)
            return [restore(p, box) for p, box in zip(probs, boxes)]

    def stride_px(self, shape: tuple[int, int]) -> float:
        """The network's output stride in the pixels of an image of ``shape`` (H, W)."""
        box = plan_letterbox(shape, self.config.input_size, self.config.size_multiple)
        return output_stride(self.config) * shape[0] / box.scaled[0]

    def _results(self, images: list[np.ndarray], return_probabilities: bool) -> list[ParseResult]:
        out = []
        for im, probs in zip(images, self.predict(images, probabilities=return_probabilities)):
            labels = argmax_labels(probs)
            p = probs.float().cpu().numpy() if return_probabilities else None
            out.append(ParseResult(labels, p, im, self.config.class_names, stride_px=self.stride_px(labels.shape)))
        return out

    def parse(self, image: Any, *, return_probabilities: bool = False) -> ParseResult:
        """Parse one image (``HxWx3`` uint8 RGB array, PIL image, or ``CHW``/``HWC`` tensor)."""
        return self._results([to_rgb_uint8(image)], return_probabilities)[0]

    def parse_batch(
        self, images: Iterable[Any], *, batch_size: int = 8, return_probabilities: bool = False
    ) -> list[ParseResult]:
        """Parse many images, ``batch_size`` at a time (images may differ in size)."""
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        results: list[ParseResult] = []
        chunk: list[np.ndarray] = []
        for image in images:
            chunk.append(to_rgb_uint8(image))
            if len(chunk) == batch_size:
                results += self._results(chunk, return_probabilities)
                chunk = []
        if chunk:
            results += self._results(chunk, return_probabilities)
        return results

    def stream(self, options: Any = None, *, mode: str | None = None, **fields: Any):
        """Open a VIDEO (default) or LIVE_STREAM session with its own temporal state.

        ``parser.stream(mode="video")`` or ``parser.stream(StreamOptions(...))``; see
        :func:`tryon_sdk.stream.open_stream`. Use it as a context manager.
        """
        from .stream import open_stream

        return open_stream(self, options, mode=mode, **fields)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Parser({c.architecture}/{c.backbone}, {c.num_classes} classes, input {c.input_size}, "
            f"engine={getattr(self.engine, 'name', type(self.engine).__name__)}, device={self.device}, flip_tta={self.flip_tta})"
        )
