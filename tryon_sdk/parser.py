"""``Parser``: images in, ATR label maps and garment regions out.

Data flows frame -> :mod:`~tryon_sdk.preprocess` (letterbox on the engine's
device) -> engine (logits) -> optional flip TTA -> softmax -> crop and resize
back to the image's own size -> :class:`ParseResult`.

People first (:mod:`tryon_sdk.people.tracking`, ``roi``): a cheap low-resolution pass
finds the people (or the caller passes ``boxes``), a crop around each is
parsed at the model's resolution, and the crops are pasted back into a
full-frame map that is background elsewhere. ``roi=None`` (the default)
does this for frames at least twice the model input's size, ``roi=False``
never.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .models.checkpoint import load_checkpoint, load_weights_into, save_checkpoint
from .config import ModelConfig
from .engines.torch_engine import Engine, TorchEngine
from .models.builders import build_model, output_stride
from .errors import CheckpointError, ConfigError, InputError
from .engines.gpu import PinnedUploader
from .inputs import to_rgb_uint8
from .labels import argmax_labels, swap_lr_channels
from .people.tracking import Person, check_boxes, coerce_options, parse_people_first, people_from_labels, use_people_first
from .preprocess import plan_letterbox, restore, to_model_input
from .regions import Box, agnostic_mask, region_alpha, region_box
from .models.registry import resolve_checkpoint
from .visualize import colorize, overlay

__all__ = ["Parser", "ParseResult", "RUNTIMES"]

#: Inference runtimes of :meth:`Parser.from_pretrained`.
RUNTIMES: tuple[str, ...] = ("torch", "onnxruntime")


def _onnx_file(folder: Path, model: torch.nn.Module, config: ModelConfig, precision: str) -> Path:
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
    if precision != "fp32":
        raise ConfigError(f"precision {precision!r} is not available on ONNX Runtime; valid: fp32, int8")
    bundled = folder / "model.onnx"
    if bundled.is_file():
        return bundled
    from .engines.export import export_onnx
    from .models.registry import cache_dir

    cached = cache_dir() / "onnx" / f"{config.sha256 or 'unverified'}.onnx"
    if config.sha256 is None or not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        export_onnx(model, cached, config=config)
    return cached


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
        people: the people found (:class:`~tryon_sdk.people.tracking.Person`: box, mask area, facing, track id),
            largest first.
    """

    labels: np.ndarray
    probabilities: np.ndarray | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    class_names: tuple[str, ...] = ()
    timestamp_ms: int | None = None
    stride_px: float | None = None
    people: tuple[Person, ...] = ()

    @classmethod
    def from_maps(
        cls,
        labels: np.ndarray,
        probabilities: torch.Tensor | None,
        image: np.ndarray | None,
        class_names: tuple[str, ...],
        *,
        timestamp_ms: int | None = None,
        stride_px: float | None = None,
        people: tuple[Person, ...] = (),
        copy: bool = False,
    ) -> "ParseResult":
        """A result from the engine's maps: ``probabilities`` (``CxHxW`` tensor, ``None`` to keep none) as float32 numpy.

        ``copy``: give the result its own array even when the tensor is already float32 on the CPU (the
        caller keeps using the tensor, e.g. as a smoother's state).
        """
        p = None if probabilities is None else probabilities.float().cpu().numpy()
        if copy and p is not None:
            p = p.copy()
        return cls(labels, p, image, class_names, timestamp_ms, stride_px, people)

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
        engine: the inference backend (a :class:`~tryon_sdk.engines.torch_engine.TorchEngine` or compatible).
        flip_tta: average each prediction with that of the mirrored image, left/right swapped back.
    """

    def __init__(self, engine: Engine, *, flip_tta: bool = False, module: torch.nn.Module | None = None) -> None:
        self.engine = engine
        self.flip_tta = bool(flip_tta)
        self._module = module  # the torch network behind a non-torch engine, for save_pretrained
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
            build_model(config), config, device=device, precision=precision, channels_last=channels_last, compile=compile,
            owned=True,
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
        runtime: str = "torch",
    ) -> "Parser":
        """Load a checkpoint written by :meth:`save_pretrained` (never unpickles).

        ``backbone`` / ``num_classes``, when given, are what the caller expects;
        a checkpoint that differs is refused with a :class:`CheckpointError`.
        ``.onnx`` files run on ONNX Runtime with the same pre- and post-processing.

        ``runtime="onnxruntime"`` runs a safetensors checkpoint on ONNX Runtime
        (much faster than torch on a few CPU cores): the folder's ``model.onnx``
        when it has one, else an export cached under ``~/.cache/tryon_sdk/onnx``
        by the weights' checksum. With ``precision="int8"`` it runs the folder's
        ``model-int8.onnx`` (see :mod:`tryon_sdk.engines.quantize`).
        """
        if runtime not in RUNTIMES:
            raise ConfigError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
        if precision == "int8" and runtime != "onnxruntime":
            raise ConfigError("precision 'int8' runs on ONNX Runtime: pass runtime='onnxruntime'")
        path = resolve_checkpoint(name_or_path)
        if path.suffix == ".onnx":
            from .engines.onnx_engine import OnnxEngine  # optional dependency

            engine: Engine = OnnxEngine(path, device=device)
        else:
            state, config = load_checkpoint(path, verify=verify)
            if backbone is not None and config.backbone != backbone:
                raise CheckpointError(f"{path}: checkpoint has backbone {config.backbone!r}, expected {backbone!r}")
            if num_classes is not None and config.num_classes != num_classes:
                raise CheckpointError(f"{path}: checkpoint has {config.num_classes} classes, expected {num_classes}")
            model = build_model(config)
            load_weights_into(model, state, config, source=str(path))
            if runtime == "onnxruntime":
                from .engines.onnx_engine import OnnxEngine  # optional dependency

                if channels_last or compile or precision in ("fp16", "bf16"):
                    raise ConfigError("channels_last, compile and fp16/bf16 are torch options; ONNX Runtime takes precision 'fp32' or 'int8'")
                engine = OnnxEngine(_onnx_file(path, model, config, precision), device=device)
                if engine.config.flip_pairs == () and flip_tta:
                    raise ConfigError("flip_tta needs a model with left/right flip pairs")
                return cls(engine, flip_tta=flip_tta, module=model.eval())
            engine = TorchEngine(
                model, config, device=device, precision=precision, channels_last=channels_last, compile=compile, owned=True
            )
        if engine.config.flip_pairs == () and flip_tta:
            raise ConfigError("flip_tta needs a model with left/right flip pairs")
        return cls(engine, flip_tta=flip_tta)

    def save_pretrained(self, directory: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory``; returns the folder."""
        model = getattr(self.engine, "model", None) or self._module
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
        with torch.inference_mode():
            tensors = [t.to(self.device) for t in self._upload(images)]
            return self._scores(tensors, self.config.input_size, probabilities)

    def predict_regions(self, images: Sequence[np.ndarray], windows: Sequence[Sequence[Box]]) -> list[list[torch.Tensor]]:
        """Probabilities of crops: ``windows[i]`` are pixel boxes of ``images[i]``; every crop is parsed at the
        model's input size, all in one batch. Returns, per image, one ``C x h x w`` float32 tensor per window
        (on the engine's device, at the window's size)."""
        crops: list[torch.Tensor] = []
        with torch.inference_mode():
            for image, wins in zip(images, windows):
                if not wins:
                    continue
                frame = self._upload([image])[0].to(self.device)
                crops += [frame[:, y0:y1, x0:x1] for x0, y0, x1, y1 in wins]
            scores = self._scores(crops, self.config.input_size, True) if crops else []
        out, k = [], 0
        for wins in windows:
            out.append(scores[k : k + len(wins)])
            k += len(wins)
        return out

    def predict_coarse(self, images: Sequence[np.ndarray], scale: float) -> list[torch.Tensor]:
        """Probabilities of whole images from a cheap pass at ``scale`` of the input size (people detection).

        Letterboxed like :meth:`predict`, but with the same padding on the left and the right (the width is
        adjusted by a pixel where needed), so a mirrored image gives exactly the mirrored map under flip
        TTA. Returns one ``C x h x w`` float32 tensor per image, for the image's area, at the pass's
        resolution (``h / H`` is about ``scale`` times the input's).
        """
        if not images:
            return []
        cfg = self.config
        m = cfg.size_multiple
        size = tuple(max(1.0, v * scale) for v in cfg.input_size)
        with torch.inference_mode():
            mean = torch.tensor(cfg.mean, device=self.device).view(3, 1, 1) * 255.0
            std = torch.tensor(cfg.std, device=self.device).view(3, 1, 1) * 255.0
            tensors = [t.to(self.device) for t in self._upload(images)]
            plans = []
            for t in tensors:
                box = plan_letterbox((int(t.shape[1]), int(t.shape[2])), size, m)  # type: ignore[arg-type]
                sh, sw = box.scaled
                pw = -(-sw // m) * m
                if (pw - sw) % 2:
                    sw = sw + 1 if sw + 1 <= pw else sw - 1
                plans.append((sh, sw, -(-sh // m) * m, pw))
            ph, pw = max(p[2] for p in plans), max(p[3] for p in plans)
            batch = torch.zeros((len(tensors), 3, ph, pw), dtype=torch.float32, device=self.device)
            for i, (t, (sh, sw, _, _)) in enumerate(zip(tensors, plans)):
                x = F.interpolate(t[None].float(), size=(sh, sw), mode="bilinear", align_corners=False, antialias=True)[0]
                top, left = (ph - sh) // 2, (pw - sw) // 2
                batch[i, :, top : top + sh, left : left + sw] = (x - mean) / std
            probs = self._forward(batch)
            return [
                p[:, (ph - sh) // 2 : (ph - sh) // 2 + sh, (pw - sw) // 2 : (pw - sw) // 2 + sw]
                for p, (sh, sw, _, _) in zip(probs, plans)
            ]

    def _forward(self, batch: torch.Tensor, probabilities: bool = True) -> torch.Tensor:
        """Engine on a normalised batch, flip TTA included; probabilities (or logits when allowed)."""
        if self.flip_tta:
            logits = self.engine(torch.cat([batch, batch.flip(-1)]))
            probs, mirrored = logits.softmax(1).chunk(2)
            return 0.5 * (probs + swap_lr_channels(mirrored.flip(-1), dim=1, pairs=self.config.flip_pairs))
        out = self.engine(batch)
        return out.softmax(1) if probabilities else out

    def _scores(self, tensors: list[torch.Tensor], input_size: tuple[int, int], probabilities: bool) -> list[torch.Tensor]:
        cfg = self.config
        batch, boxes = to_model_input(tensors, input_size, cfg.mean, cfg.std, cfg.size_multiple)
        probs = self._forward(batch, probabilities)
        return [restore(p, box) for p, box in zip(probs, boxes)]

    def stride_px(self, shape: tuple[int, int]) -> float:
        """The network's output stride in the pixels of an image of ``shape`` (H, W)."""
        box = plan_letterbox(shape, self.config.input_size, self.config.size_multiple)
        return output_stride(self.config) * shape[0] / box.scaled[0]

    def _results(
        self,
        images: list[np.ndarray],
        return_probabilities: bool,
        roi: Any = None,
        boxes: list[np.ndarray | None] | None = None,
    ) -> list[ParseResult]:
        options = coerce_options(roi)
        boxes = boxes or [None] * len(images)
        input_size = self.config.input_size
        first = [
            i
            for i, (im, b) in enumerate(zip(images, boxes))
            if options is not None and (b is not None or use_people_first(roi, im.shape[:2], input_size))
        ]
        found = {}
        if first:
            assert options is not None
            done = parse_people_first(self, [images[i] for i in first], options, [boxes[i] for i in first])
            found = dict(zip(first, done))
        whole = [i for i in range(len(images)) if i not in found]
        whole_probs = dict(zip(whole, self.predict([images[i] for i in whole], probabilities=return_probabilities)))
        out = []
        for i, im in enumerate(images):
            if i in found:
                probs, people = found[i]
            else:
                probs, people = whole_probs[i], None
            labels = argmax_labels(probs)
            if people is None:  # whole-frame path: the people are the label map's person components
                people = people_from_labels(labels, options)
            out.append(
                ParseResult.from_maps(
                    labels,
                    probs if return_probabilities else None,
                    im,
                    self.config.class_names,
                    stride_px=self.stride_px(labels.shape),
                    people=tuple(people),
                )
            )
        return out

    def parse(
        self, image: Any, *, return_probabilities: bool = False, boxes: Any = None, roi: Any = None
    ) -> ParseResult:
        """Parse one image (``HxWx3`` uint8 RGB array, PIL image, or ``CHW``/``HWC`` tensor).

        boxes: the people's pixel boxes ``[(x0, y0, x1, y1), ...]`` when the app knows them (skips the
            detection pass); boxes outside the image, empty or degenerate boxes and NaNs raise ``InputError``.
        roi: ``None`` (auto: people first for images at least twice the model input), ``True``, ``False``
            (the whole image at the model's input size) or a :class:`~tryon_sdk.people.tracking.PeopleOptions`.
        """
        im = to_rgb_uint8(image)
        checked = None
        if boxes is not None:
            if roi is False:
                raise ConfigError("boxes need people-first parsing; drop roi=False or the boxes")
            checked = [check_boxes(boxes, im.shape[:2])]
        return self._results([im], return_probabilities, roi, checked)[0]

    def parse_batch(
        self,
        images: Iterable[Any],
        *,
        batch_size: int = 8,
        return_probabilities: bool = False,
        boxes: Sequence[Any] | None = None,
        roi: Any = None,
    ) -> list[ParseResult]:
        """Parse many images, ``batch_size`` at a time (images may differ in size).

        ``boxes``: one entry per image (a list of boxes, or ``None`` to find the people); ``roi`` as in
        :meth:`parse`.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        coerce_options(roi)
        box_list = list(boxes) if boxes is not None else None
        if box_list is not None:
            images = list(images)
            if len(box_list) != len(images):
                raise InputError(f"{len(images)} images but {len(box_list)} entries in boxes")
            if roi is False and any(b is not None for b in box_list):
                raise ConfigError("boxes need people-first parsing; drop roi=False or the boxes")
        results: list[ParseResult] = []
        chunk: list[np.ndarray] = []
        chunk_boxes: list[np.ndarray | None] = []
        n = 0
        for image in images:
            im = to_rgb_uint8(image)
            b = box_list[n] if box_list is not None else None
            chunk.append(im)
            chunk_boxes.append(None if b is None else check_boxes(b, im.shape[:2]))
            n += 1
            if len(chunk) == batch_size:
                results += self._results(chunk, return_probabilities, roi, chunk_boxes)
                chunk, chunk_boxes = [], []
        if chunk:
            results += self._results(chunk, return_probabilities, roi, chunk_boxes)
        return results

    def stream(self, options: Any = None, *, mode: str | None = None, **fields: Any):
        """Open a VIDEO (default) or LIVE_STREAM session with its own temporal state.

        ``parser.stream(mode="video")`` or ``parser.stream(StreamOptions(...))``; see
        :func:`tryon_sdk.video.stream.open_stream`. Use it as a context manager.
        """
        from .video.stream import open_stream

        return open_stream(self, options, mode=mode, **fields)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Parser({c.architecture}/{c.backbone}, {c.num_classes} classes, input {c.input_size}, "
            f"engine={getattr(self.engine, 'name', type(self.engine).__name__)}, device={self.device}, flip_tta={self.flip_tta})"
        )
