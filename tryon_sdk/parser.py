"""``Parser``: images in, ATR label maps and garment regions out (the library's front door).

It owns a :class:`~tryon_sdk.predictor.Predictor` (engine + preprocessing + score grids), the people
stages it has loaded, and what ``roi=None`` means; :meth:`Parser.parse` runs the one IMAGE frame path
(:mod:`~tryon_sdk.frame_path`): people first (the person model finds the people, a crop around each is
parsed at the model's resolution and pasted back) or the whole frame, each person's facing, then each limb
on the person's own side. Streams (VIDEO / LIVE_STREAM) are :class:`~tryon_sdk.video.stream.session.VideoSession` objects
over a parser (:func:`tryon_sdk.open_stream`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

from .config import ModelConfig
from .engines.options import PRECISIONS, RUNTIMES, EngineOptions
from .engines.runtime import load_engine
from .engines.torch_engine import Engine, TorchEngine
from .errors import ConfigError, InputError
from .frame_path import FrameRequest, parse_frames
from .geometry import Box
from .inputs import BoxesLike, ImageLike, to_rgb_uint8
from .limbs import LimbOptions
from .models.builders import build_model
from .models.checkpoint import save_checkpoint
from .people.person import PeopleOptions, check_boxes, coerce_options
from .people.stage import PeopleStage
from .predictor import Predictor
from .preprocess import Preprocess
from .resample import GridScores
from .result import ParseResult
from .validate import one_of

__all__ = ["Parser", "ParseResult", "RUNTIMES", "PRECISIONS", "SIDES"]

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
        self.predictor = Predictor(engine, flip_tta=flip_tta)
        if people is not None and not isinstance(people, (PeopleOptions, bool)):
            raise ConfigError(f"people must be a PeopleOptions, True or False, got {type(people).__name__}")
        #: what ``roi=None`` means: people first with these options, or (``False``) the whole frame
        self.default_roi: PeopleOptions | bool = people if isinstance(people, PeopleOptions) else people is not False
        #: the people-first options ``roi=True`` (and ``roi=None`` unless whole frames are the default) use
        self.people_options = people if isinstance(people, PeopleOptions) else PeopleOptions()
        self._module = module  # the torch network behind a non-torch engine, for save_pretrained
        self._people_stages: dict[PeopleOptions, PeopleStage] = {}

    # ----------------------------------------------------------------- building
    @property
    def engine(self) -> Engine:
        return self.predictor.engine

    @property
    def flip_tta(self) -> bool:
        return self.predictor.flip_tta

    @property
    def config(self) -> ModelConfig:
        return self.predictor.config

    @property
    def device(self) -> torch.device:
        return self.predictor.device

    @property
    def model(self) -> torch.nn.Module | None:
        """The torch network behind this parser (to save, fine-tune or export), whatever runtime runs it;
        ``None`` for an exported ``.onnx`` file."""
        return getattr(self.engine, "model", None) or self._module

    @property
    def preprocess(self) -> Preprocess:
        """The input transform of this parser's model (letterbox + normalisation, :mod:`tryon_sdk.preprocess`)."""
        return self.predictor.preprocess

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
        **overrides: object,
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
        options = EngineOptions(
            device=device, runtime=runtime, precision=precision, channels_last=channels_last, compile=compile, verify=verify
        )
        loaded = load_engine(name_or_path, options, backbone=backbone, num_classes=num_classes)
        if loaded.engine.config.flip_pairs == () and flip_tta:
            raise ConfigError("flip_tta needs a model with left/right flip pairs")
        return cls(loaded.engine, flip_tta=flip_tta, module=loaded.module, people=people)

    def save_pretrained(self, directory: str | os.PathLike, *, dtype: torch.dtype | None = None) -> Path:
        """Write ``model.safetensors`` + ``config.json`` into ``directory``; returns the folder.

        The parser itself is left as it is (load the folder to get its checksummed config).
        """
        if self.model is None:
            raise ConfigError(f"{type(self.engine).__name__} has no torch model to save")
        save_checkpoint(self.model, self.config, directory, dtype=dtype)
        return Path(directory)

    def optimize_for_gpu(
        self, *, precision: str = "fp16", channels_last: bool = True, compile: bool = False, cuda_graphs: bool = True
    ) -> "Parser":
        """A parser with a copy of this one's network set up for CUDA throughput
        (:func:`~tryon_sdk.engines.gpu.optimize_for_gpu`); same flip TTA and people options."""
        from .engines.gpu import optimize_for_gpu

        engine = optimize_for_gpu(
            self.model, self.config, device=self.device, precision=precision, channels_last=channels_last,
            compile=compile, cuda_graphs=cuda_graphs,
        )
        return Parser(engine, flip_tta=self.flip_tta, people=self._people_argument())

    def export_onnx(self, path: str | os.PathLike, *, exporter: str = "torchscript", opset: int | None = None) -> Path:
        """Write this parser's network as an ONNX file (:func:`~tryon_sdk.engines.export.export_onnx`)."""
        from .engines.export import export_onnx

        if self.model is None:
            raise ConfigError(f"cannot export a parser whose engine ({type(self.engine).__name__}) has no torch model")
        return export_onnx(self.model, self.config, path, exporter=exporter, opset=opset)

    def _people_argument(self) -> PeopleOptions | bool:
        return self.people_options if self.default_roi is not False else False

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
        return [g.full() for g in self.predictor.grids(images, probabilities=probabilities)]

    def predict_grids(self, images: Sequence[np.ndarray], *, probabilities: bool = True) -> list[GridScores]:
        """Like :meth:`predict`, but each image's scores stay on the model's grid (:class:`GridScores`:
        ``.full()`` resizes them, ``.labels()`` gives the argmax at the image's size without resizing every
        class)."""
        return self.predictor.grids(images, probabilities=probabilities)

    def predict_regions(self, images: Sequence[np.ndarray], windows: Sequence[Sequence[Box]]) -> list[list[torch.Tensor]]:
        """Probabilities of crops: ``windows[i]`` are pixel boxes of ``images[i]``; every crop is parsed at the
        model's input size, all in one batch. Returns, per image, one ``C x h x w`` float32 tensor per window
        (on the engine's device, at the window's size)."""
        return [[g.full() for g in grids] for grids in self.predictor.region_grids(images, windows)]

    def stride_px(self, shape: tuple[int, int]) -> float:
        """The network's output stride in the pixels of an image of ``shape`` (H, W)."""
        return self.predictor.stride_px(shape)

    def people_stage(self, options: PeopleOptions | None = None) -> PeopleStage:
        """The people stage (person and face models) for this parser's input size; loaded once per options."""
        options = options or self.people_options
        stage = self._people_stages.get(options)
        if stage is None:
            stage = self._people_stages[options] = PeopleStage(options, input_size=self.config.input_size)
        return stage

    def frame_request(
        self,
        roi: bool | PeopleOptions | None = None,
        limbs: LimbOptions | None = None,
        *,
        mirrored: bool = False,
        return_probabilities: bool = False,
    ) -> FrameRequest:
        """What ``roi`` (``None``: this parser's default) and the rest ask of the frame path."""
        roi = self.default_roi if roi is None else roi
        return FrameRequest(
            roi, coerce_options(roi, self.people_options), self.people_options, limbs, mirrored, return_probabilities
        )

    def parse_frames(
        self,
        images: list[np.ndarray],
        request: FrameRequest,
        boxes: Sequence[np.ndarray | None] | None = None,
        timestamps: Sequence[int | None] | None = None,
    ) -> list[ParseResult]:
        """The one IMAGE frame path (:func:`~tryon_sdk.frame_path.parse_frames`) on ``HxWx3`` uint8 RGB
        images: :meth:`parse`, :meth:`parse_batch` and IMAGE sessions all run it."""
        return parse_frames(self.predictor, self.people_stage, images, request, boxes, timestamps)

    @staticmethod
    def _limb_options(sides: str) -> LimbOptions | None:
        return LimbOptions() if one_of("sides", sides, SIDES) == "own" else None

    def parse(
        self,
        image: ImageLike,
        *,
        return_probabilities: bool = False,
        boxes: BoxesLike | None = None,
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
        request = self.frame_request(roi, self._limb_options(sides), return_probabilities=return_probabilities)
        return self.parse_frames([im], request, checked)[0]

    def parse_batch(
        self,
        images: Iterable[ImageLike],
        *,
        batch_size: int = 8,
        return_probabilities: bool = False,
        boxes: Sequence[BoxesLike | None] | None = None,
        roi: bool | PeopleOptions | None = None,
        sides: str = "own",
    ) -> list[ParseResult]:
        """Parse many images, ``batch_size`` at a time (images may differ in size).

        ``boxes``: one entry per image (a list of boxes, or ``None`` to find the people); ``roi`` and
        ``sides`` as in :meth:`parse`.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        request = self.frame_request(roi, self._limb_options(sides), return_probabilities=return_probabilities)
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
                results += self.parse_frames(chunk, request, chunk_boxes)
                chunk, chunk_boxes = [], []
        if chunk:
            results += self.parse_frames(chunk, request, chunk_boxes)
        return results

    #: Set by :mod:`tryon_sdk.video.stream.session` when it is imported (``import tryon_sdk`` does): how the
    #: deprecated :meth:`stream` opens a session without the parser importing the layer above it.
    stream_opener: Callable[..., object] | None = None

    def stream(self, options: object = None, *, mode: str | None = None, **fields: object) -> object:
        """Deprecated: ``open_stream(parser, StreamOptions(running_mode=..., ...))`` (:func:`tryon_sdk.open_stream`,
        typed; this returns the same :class:`~tryon_sdk.video.stream.session.VideoSession`).

        Kept so that code written for earlier versions runs: ``parser.stream(mode="video", mirrored=True)`` opens
        the same session, with a :class:`DeprecationWarning`.
        """
        warnings.warn(
            "Parser.stream(...) is deprecated: use tryon_sdk.open_stream(parser, StreamOptions(running_mode=..., ...))",
            DeprecationWarning,
            stacklevel=2,
        )
        if Parser.stream_opener is None:
            raise ConfigError("streams need tryon_sdk.video.stream: import tryon_sdk and use tryon_sdk.open_stream")
        return Parser.stream_opener(self, options, mode=mode, **fields)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Parser({c.architecture}/{c.backbone}, {c.num_classes} classes, input {c.input_size}, "
            f"engine={getattr(self.engine, 'name', type(self.engine).__name__)}, device={self.device}, flip_tta={self.flip_tta})"
        )
