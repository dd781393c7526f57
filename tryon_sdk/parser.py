"""``Parser``: images in, ATR label maps and garment regions out.

Data flows frame -> :mod:`~tryon_sdk.preprocess` (letterbox on the engine's
device) -> engine (logits) -> optional flip TTA -> softmax -> crop and resize
back to the image's own size -> :class:`ParseResult`.

People first (:mod:`tryon_sdk.people.person`, ``roi``): a cheap low-resolution pass
finds the people (or the caller passes ``boxes``), a crop around each is
parsed at the model's resolution, and the crops are pasted back into a
full-frame map that is background elsewhere. ``roi=None`` (the default)
does this for frames at least twice the model input's size, ``roi=False``
never.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from .models.checkpoint import load_checkpoint, load_weights_into, save_checkpoint
from .config import ModelConfig
from .engines.runtime import RUNTIMES, auto_onnx_engine, check_expected, checkpoint_on_onnxruntime, open_onnx_file
from .engines.torch_engine import PRECISIONS as TORCH_PRECISIONS, Engine, TorchEngine
from .engines.tta import flip_tta_probabilities
from .models.builders import build_model, output_stride
from .errors import ConfigError, InputError
from .engines.gpu import PinnedUploader
from .inputs import to_rgb_uint8
from .labels import argmax_labels, swap_lr
from .limbs import LimbConsistency, LimbOptions
from .people.detect import people_from_labels
from .people.person import PeopleOptions, Person, check_boxes, coerce_options, use_people_first
from .people.stage import PeopleStage
from .people_first import head_observations, parse_people_first, person_facing
from .regions import Box
from .preprocess import Preprocess
from .resample import GridScores
from .result import ParseResult
from .models.registry import resolve_checkpoint

__all__ = ["Parser", "ParseResult", "RUNTIMES", "PRECISIONS", "SIDES"]

#: Precisions of :meth:`Parser.from_pretrained` (int8: ONNX Runtime only).
PRECISIONS: tuple[str, ...] = (*TORCH_PRECISIONS, "int8")
#: ``sides`` of :meth:`Parser.parse`: the person's own left/right (limb consistency from the facing),
#: or the network's raw labels.
SIDES: tuple[str, ...] = ("own", "network")


class Parser:
    """Human parser over the 18 ATR classes.

    Build one with :meth:`from_pretrained` (a checkpoint folder, a ``.safetensors``
    file, or a registered model name; no argument loads the bundled default
    model) or :meth:`from_config` (random weights, for training and tests).

    Args:
        engine: the inference backend (a :class:`~tryon_sdk.engines.torch_engine.TorchEngine` or compatible).
        flip_tta: average each prediction with that of the mirrored image, left/right swapped back.
        people: what ``roi=None`` stands for: people first with these :class:`PeopleOptions` (default:
            the bundled person and face models), or ``False``: the whole frame (e.g. a parser of test
            drawings, which a person model does not see as people).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        flip_tta: bool = False,
        module: torch.nn.Module | None = None,
        people: PeopleOptions | bool | None = None,
    ) -> None:
        self.engine = engine
        self.flip_tta = bool(flip_tta)
        if people is not None and not isinstance(people, (PeopleOptions, bool)):
            raise ConfigError(f"people must be a PeopleOptions, True or False, got {type(people).__name__}")
        #: what ``roi=None`` means: people first with these options, or (``False``) the whole frame
        self.default_roi: PeopleOptions | bool = people if isinstance(people, PeopleOptions) else people is not False
        #: the people-first options ``roi=True`` (and ``roi=None`` unless whole frames are the default) use
        self.people_options = people if isinstance(people, PeopleOptions) else PeopleOptions()
        self._module = module  # the torch network behind a non-torch engine, for save_pretrained
        self._upload = PinnedUploader(engine.device)  # pinned, asynchronous copies on CUDA; zero-copy on CPU
        self._people_stages: dict[PeopleOptions, PeopleStage] = {}

    # ----------------------------------------------------------------- building
    @property
    def config(self) -> ModelConfig:
        return self.engine.config

    @property
    def device(self) -> torch.device:
        return self.engine.device

    @property
    def model(self) -> torch.nn.Module | None:
        """The torch network behind this parser (to save, fine-tune or export), whatever runtime runs it;
        ``None`` for an exported ``.onnx`` file."""
        return getattr(self.engine, "model", None) or self._module

    @property
    def preprocess(self) -> Preprocess:
        """The input transform of this parser's model (letterbox + normalisation, :mod:`tryon_sdk.preprocess`)."""
        return Preprocess.from_config(self.config)

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
        people: PeopleOptions | bool | None = None,
        **overrides: Any,
    ) -> "Parser":
        """A parser with a freshly initialised (untrained) network; ``overrides`` are ModelConfig fields;
        ``people`` as in :class:`Parser`."""
        config = (config or ModelConfig()).replace(**overrides) if overrides else (config or ModelConfig())
        engine = TorchEngine(
            build_model(config), config, device=device, precision=precision, channels_last=channels_last, compile=compile,
            owned=True,
        )
        return cls(engine, flip_tta=flip_tta, people=people)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike | None = None,
        *,
        device: str | torch.device = "auto",
        precision: str | None = None,
        channels_last: bool | None = None,
        compile: bool = False,
        flip_tta: bool = False,
        backbone: str | None = None,
        num_classes: int | None = None,
        verify: bool | None = None,
        runtime: str = "auto",
        people: PeopleOptions | bool | None = None,
    ) -> "Parser":
        """Load a checkpoint written by :meth:`save_pretrained` (never unpickles), or an exported ``.onnx`` file.

        ``backbone`` / ``num_classes``, when given, are what the caller expects; a checkpoint that differs
        is refused with a :class:`CheckpointError`. ``verify`` checks the weights against the checksum their
        config records (``None``: on for safetensors). ``precision``: ``None`` (the checkpoint's own),
        ``"fp32"``, ``"fp16"`` / ``"bf16"`` (torch autocast) or ``"int8"`` (ONNX Runtime).

        ``runtime="auto"`` (the default) runs on ONNX Runtime on the CPU when the checkpoint ships a
        ``model.onnx`` of the same weights (the bundled model does) and no torch-only option is asked for,
        else on torch (:func:`~tryon_sdk.engines.runtime.auto_onnx_engine`). ``runtime="onnxruntime"`` always
        runs a safetensors checkpoint on ONNX Runtime (much faster than torch on a few CPU cores; exported
        once and cached when the folder has no ``model.onnx``; ``int8`` runs the folder's
        ``model-int8.onnx``); ``runtime="torch"`` always on torch. ``.onnx`` files always run on ONNX
        Runtime, with the same pre- and post-processing; ``compile``, ``channels_last=True``, a ``precision``
        other than the file's own and ``verify=True`` (an ``.onnx`` file records no checksum of its weights)
        cannot be honoured there and raise :class:`ConfigError`. See :mod:`tryon_sdk.engines.runtime`.
        ``people`` as in :class:`Parser`.
        """
        if runtime not in RUNTIMES:
            raise ConfigError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
        if precision is not None and precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
        path = resolve_checkpoint(name_or_path)
        if path.suffix == ".onnx":
            engine: Engine = open_onnx_file(
                path, device=device, precision=precision, channels_last=channels_last, compile=compile, verify=verify
            )
            check_expected(engine.config, path, backbone, num_classes)
            return cls._checked(engine, flip_tta, people=people)
        precision = precision or "fp32"
        if precision == "int8" and runtime != "onnxruntime":
            raise ConfigError("precision 'int8' runs on ONNX Runtime: pass runtime='onnxruntime'")
        state, config = load_checkpoint(path, verify=verify is not False)
        check_expected(config, path, backbone, num_classes)
        model = build_model(config)
        load_weights_into(model, state, config, source=str(path))
        if runtime == "auto":
            auto = auto_onnx_engine(
                path, config, device=device, precision=precision, channels_last=channels_last, compile=compile
            )
            if auto is not None:
                return cls._checked(auto, flip_tta, module=model.eval(), people=people)
            runtime = "torch"
        if runtime == "onnxruntime":
            engine = checkpoint_on_onnxruntime(
                path, model, config, device=device, precision=precision, channels_last=channels_last, compile=compile
            )
            return cls._checked(engine, flip_tta, module=model.eval(), people=people)
        engine = TorchEngine(
            model, config, device=device, precision=precision, channels_last=channels_last, compile=compile, owned=True
        )
        return cls._checked(engine, flip_tta, people=people)

    @classmethod
    def _checked(
        cls, engine: Engine, flip_tta: bool, module: torch.nn.Module | None = None, people: Any = None
    ) -> "Parser":
        if engine.config.flip_pairs == () and flip_tta:
            raise ConfigError("flip_tta needs a model with left/right flip pairs")
        return cls(engine, flip_tta=flip_tta, module=module, people=people)

    def save_pretrained(self, directory: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory``; returns the folder.

        The parser itself is left as it is (load the folder to get its checksummed config).
        """
        if self.model is None:
            raise ConfigError(f"{type(self.engine).__name__} has no torch model to save")
        save_checkpoint(self.model, self.config, directory, dtype=dtype)
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
        return [g.full() for g in self.predict_grids(images, probabilities=probabilities)]

    def predict_grids(self, images: Sequence[np.ndarray], *, probabilities: bool = True) -> list[GridScores]:
        """Like :meth:`predict`, but each image's scores stay on the model's grid (:class:`GridScores`:
        ``.full()`` resizes them, ``.labels()`` gives the argmax at the image's size without resizing every
        class)."""
        if not images:
            return []
        with torch.inference_mode():
            tensors = [t.to(self.device) for t in self._upload(images)]
            return self._grids(tensors, probabilities)

    def predict_regions(self, images: Sequence[np.ndarray], windows: Sequence[Sequence[Box]]) -> list[list[torch.Tensor]]:
        """Probabilities of crops: ``windows[i]`` are pixel boxes of ``images[i]``; every crop is parsed at the
        model's input size, all in one batch. Returns, per image, one ``C x h x w`` float32 tensor per window
        (on the engine's device, at the window's size)."""
        return [[g.full() for g in grids] for grids in self.predict_region_grids(images, windows)]

    def predict_region_grids(
        self, images: Sequence[np.ndarray], windows: Sequence[Sequence[Box]]
    ) -> list[list[GridScores]]:
        """:meth:`predict_regions` with each crop's probabilities left on the model's grid."""
        crops: list[torch.Tensor] = []
        with torch.inference_mode():
            for image, wins in zip(images, windows):
                if not wins:
                    continue
                frame = self._upload([image])[0].to(self.device)
                crops += [frame[:, y0:y1, x0:x1] for x0, y0, x1, y1 in wins]
            scores = self._grids(crops, True) if crops else []
        out, k = [], 0
        for wins in windows:
            out.append(scores[k : k + len(wins)])
            k += len(wins)
        return out

    def predict_coarse(self, images: Sequence[np.ndarray], scale: float) -> list[torch.Tensor]:
        """Probabilities of whole images from a cheap pass at ``scale`` of the input size (people detection).

        Letterboxed like :meth:`predict`, but with the same padding on the left and the right
        (``symmetric``, see :mod:`tryon_sdk.preprocess`), so a mirrored image gives exactly the mirrored map
        under flip TTA. Returns one ``C x h x w`` float32 tensor per image, for the image's area, at the
        pass's resolution (``h / H`` is about ``scale`` times the input's).
        """
        if not images:
            return []
        with torch.inference_mode():
            tensors = [t.to(self.device) for t in self._upload(images)]
            batch, boxes = self.preprocess(tensors, scale=scale, symmetric=True)
            return [Preprocess.crop(p, box) for p, box in zip(self._forward(batch), boxes)]

    def _forward(self, batch: torch.Tensor, probabilities: bool = True) -> torch.Tensor:
        """Engine on a normalised batch, flip TTA included; probabilities (or logits when allowed)."""
        if self.flip_tta:
            return flip_tta_probabilities(self.engine, batch, self.config.flip_pairs)
        out = self.engine(batch)
        return out.softmax(1) if probabilities else out

    def _grids(self, tensors: list[torch.Tensor], probabilities: bool) -> list[GridScores]:
        batch, boxes = self.preprocess(tensors)
        probs = self._forward(batch, probabilities)
        return [GridScores(Preprocess.crop(p, box), box.source) for p, box in zip(probs, boxes)]

    def stride_px(self, shape: tuple[int, int]) -> float:
        """The network's output stride in the pixels of an image of ``shape`` (H, W)."""
        box = self.preprocess.plan(shape)
        return output_stride(self.config) * shape[0] / box.scaled[0]

    def people_stage(self, options: PeopleOptions | None = None) -> PeopleStage:
        """The people stage (person and face models) for this parser's input size; loaded once per options."""
        options = options or self.people_options
        stage = self._people_stages.get(options)
        if stage is None:
            stage = self._people_stages[options] = PeopleStage(options, input_size=self.config.input_size)
        return stage

    def _results(
        self,
        images: list[np.ndarray],
        return_probabilities: bool,
        roi: Any = None,
        boxes: list[np.ndarray | None] | None = None,
        limbs: LimbOptions | None = None,
        mirrored: bool = False,
        timestamps: Sequence[int | None] | None = None,
    ) -> list[ParseResult]:
        """The one frame path of IMAGE mode (``Parser.parse`` and IMAGE sessions): people first or the whole
        frame, then each person's facing, then limb consistency (``limbs``; ``None``: the network's sides)."""
        roi = self.default_roi if roi is None else roi
        options = coerce_options(roi, self.people_options)
        # the limb stage weighs its votes with the probabilities: labels do not depend on return_probabilities
        need_probs = return_probabilities or limbs is not None
        boxes = list(boxes) if boxes is not None else [None] * len(images)
        input_size = self.config.input_size
        first = [
            i for i, (im, b) in enumerate(zip(images, boxes))
            if options is not None and (b is not None or use_people_first(roi, im.shape[:2], input_size))
        ]
        done: dict[int, tuple[torch.Tensor | None, np.ndarray, list[Person], list[Any]]] = {}
        if first:
            assert options is not None
            parsed = parse_people_first(
                self, self.people_stage(options), [images[i] for i in first], [boxes[i] for i in first],
                probabilities=need_probs,
            )
            done = dict(zip(first, parsed))
        whole = [i for i in range(len(images)) if i not in done]
        for i, grid in zip(whole, self.predict_grids([images[i] for i in whole], probabilities=need_probs)):
            labels = grid.labels() if not need_probs else argmax_labels(grid.full())
            people = people_from_labels(labels, options)
            done[i] = (grid.full() if need_probs else None, labels, people, [None] * len(people))
        out = []
        fixer = LimbConsistency(limbs, mirrored=mirrored) if limbs is not None else None
        for i, im in enumerate(images):
            probs, labels, people, found = done[i]
            if i in whole:
                people = [person_facing(labels, p, None, options or self.people_options) for p in people]
            if fixer is not None:
                heads = [h for h, _ in head_observations(labels, people, found, options or self.people_options)]
                labels = np.asarray(fixer.step(labels, None, probabilities=probs, heads=heads)[0], dtype=np.uint8)
            elif mirrored:
                labels = swap_lr(labels)
            out.append(
                ParseResult.from_maps(
                    labels,
                    probs if return_probabilities else None,
                    im,
                    self.config.class_names,
                    stride_px=self.stride_px(labels.shape),
                    people=tuple(people),
                    timestamp_ms=timestamps[i] if timestamps is not None else None,
                )
            )
        return out

    @staticmethod
    def _limb_options(sides: str) -> LimbOptions | None:
        if sides not in SIDES:
            raise ConfigError(f"unknown sides {sides!r}; valid: {', '.join(SIDES)}")
        return LimbOptions() if sides == "own" else None

    def parse(
        self,
        image: Any,
        *,
        return_probabilities: bool = False,
        boxes: Any = None,
        roi: bool | PeopleOptions | None = None,
        sides: str = "own",
    ) -> ParseResult:
        """Parse one image (``HxWx3`` uint8 RGB array, PIL image, or ``CHW``/``HWC`` tensor).

        boxes: the people's pixel boxes ``[(x0, y0, x1, y1), ...]`` when the app knows them (skips the
            search); boxes outside the image, empty or degenerate boxes and NaNs raise ``InputError``.
        roi: ``None`` or ``True`` (people first: the person model finds the people, each is parsed in a
            crop), ``False`` (the whole image at the model's input size, the parser alone) or a
            :class:`~tryon_sdk.people.person.PeopleOptions`.
        sides: ``"own"`` (default: each limb on the person's own side, from the way they face, as an IMAGE
            session gives it) or ``"network"`` (the network's raw labels). Probabilities stay the network's.
        """
        im = to_rgb_uint8(image)
        checked = None
        if boxes is not None:
            if roi is False:
                raise ConfigError("boxes need people-first parsing; drop roi=False or the boxes")
            checked = [check_boxes(boxes, im.shape[:2])]
        return self._results([im], return_probabilities, roi, checked, self._limb_options(sides))[0]

    def parse_batch(
        self,
        images: Iterable[Any],
        *,
        batch_size: int = 8,
        return_probabilities: bool = False,
        boxes: Sequence[Any] | None = None,
        roi: bool | PeopleOptions | None = None,
        sides: str = "own",
    ) -> list[ParseResult]:
        """Parse many images, ``batch_size`` at a time (images may differ in size).

        ``boxes``: one entry per image (a list of boxes, or ``None`` to find the people); ``roi`` and
        ``sides`` as in :meth:`parse`.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        limbs = self._limb_options(sides)
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
                results += self._results(chunk, return_probabilities, roi, chunk_boxes, limbs)
                chunk, chunk_boxes = [], []
        if chunk:
            results += self._results(chunk, return_probabilities, roi, chunk_boxes, limbs)
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
