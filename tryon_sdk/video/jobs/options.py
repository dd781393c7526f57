"""What a video job is asked to do: :class:`PipelineOptions` and the one check of a frame range."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from ...regions import region_classes
from ..stream import RunningMode, StreamOptions

if TYPE_CHECKING:
    from ...compositor import Compositor
    from ...limbs import LimbOptions
    from ...people.person import PeopleOptions
    from ..temporal.options import SmoothingOptions

__all__ = [
    "PipelineOptions",
    "OUTPUT_KINDS",
    "MASK_FORMATS",
    "PROGRESS_MODES",
    "WORK_PIXELS",
    "INCOMPLETE_DIR",
    "check_frame_range",
    "check_progress",
    "work_size",
    "PROBABILITY_BYTES",
    "QUEUE_BYTES",
    "engine_batch",
    "queue_depth",
]

OUTPUT_KINDS: tuple[str, ...] = ("overlay", "labels", "alpha", "summary")
MASK_FORMATS: tuple[str, ...] = ("video", "png")
PROGRESS_MODES: tuple[str, ...] = ("bar", "lines")
#: Frames with more pixels than this are parsed at a working size of this many pixels (1280x720).
WORK_PIXELS = 1280 * 720
#: Where a partial result goes when the output folder holds a complete earlier one.
INCOMPLETE_DIR = "incomplete"
#: Full-size float probabilities of two engine calls (the parse stage keeps the engine one call ahead):
#: 4 frames per call at 768x432, one at a time at 1280x720.
PROBABILITY_BYTES = 192 * 2**20
#: Bytes each queue of uint8 frames may hold (decoded frames; rendered frames waiting for the encoders).
QUEUE_BYTES = 64 * 2**20


def engine_batch(batch_size: int, map_bytes: int, streams: int = 1) -> int:
    """Frames per engine call so that two calls' probabilities (``map_bytes`` a frame, ``streams`` views) fit
    in :data:`PROBABILITY_BYTES`."""
    return max(1, min(batch_size, PROBABILITY_BYTES // (2 * streams * max(1, map_bytes))))


def queue_depth(item_bytes: int, budget: int, most: int) -> int:
    """Queue depth: ``most`` items, fewer when they are large, at least 1."""
    return max(1, min(most, budget // max(1, item_bytes)))


def check_frame_range(start: float | None, end: float | None, max_frames: int | None) -> None:
    """The one check of ``start`` / ``end`` (seconds) and ``max_frames``: :class:`ConfigError` when invalid."""
    if max_frames is not None and (isinstance(max_frames, bool) or max_frames < 1):
        raise ConfigError(f"max frames must be >= 1 (or None for all), got {max_frames}")
    if start is not None and start < 0:
        raise ConfigError(f"start must be >= 0 seconds (or None for the beginning), got {start}")
    if end is not None and end <= (start or 0.0):
        raise ConfigError(f"end ({end} s) must be after start ({start or 0.0} s), or None for the end")


def check_progress(progress: bool | str) -> None:
    """The one check of a ``progress`` option: :class:`ConfigError` unless a bool or one of :data:`PROGRESS_MODES`."""
    if not isinstance(progress, bool) and progress not in PROGRESS_MODES:
        raise ConfigError(f"progress must be True, False or one of {', '.join(PROGRESS_MODES)}; got {progress!r}")


def work_size(shape: tuple[int, int], max_pixels: int | None = WORK_PIXELS) -> tuple[int, int]:
    """``(H, W)`` at which a frame of ``shape`` is parsed: its own, or scaled to at most ``max_pixels``."""
    h, w = int(shape[0]), int(shape[1])
    if max_pixels is None or h * w <= max_pixels:
        return h, w
    scale = math.sqrt(max_pixels / (h * w))
    return max(1, int(h * scale)), max(1, int(w * scale))


@dataclass(frozen=True)
class PipelineOptions:
    """What to write and how to parse (frozen; :meth:`validate` checks it before a job starts).

    Attributes:
        outputs: subset of :data:`OUTPUT_KINDS`; ``None`` means overlay, labels, summary,
            plus alpha when ``regions`` are given.
        regions: region names (see :data:`tryon_sdk.regions.REGIONS`) to write alphas for.
        mask_format: ``"video"`` (FFV1 gray8 ``.mkv``) or ``"png"`` (PNG sequence) for labels and alphas.
        batch_size: most frames per engine call (large frames go fewer at a time, see
            :mod:`tryon_sdk.video.jobs.pipeline`).
        stream: the session that parses each input (:class:`~tryon_sdk.video.stream.options.StreamOptions`):
            smoothing, limb consistency, ``mirrored``, ``roi`` (people first) and the ``compositor`` that draws
            the overlay frames; the job sets its running mode (VIDEO for a video, IMAGE for images), what
            it keeps of the probabilities, and no callback. Read through the properties of the same names.
        start, end: seconds from the start of the video; max_frames: stop after this many frames.
        progress: ``False``; ``True`` (a tqdm bar on stderr when it is a terminal, else a line
            every 10 s); or ``"bar"`` / ``"lines"``.
        queue_size: most frames waiting between any two stages of the job (default twice the
            frames of one engine call); every queue also holds at most its byte budget
            (:data:`QUEUE_BYTES`, or for results that carry probabilities, an eighth of
            :data:`PROBABILITY_BYTES`), so large frames wait fewer at a time.
        crf, preset: libx264 settings of ``overlay.mp4``.
        work_pixels: frames with more pixels are parsed at a working size with this many
            (same aspect ratio) and the results scaled back up; ``None`` parses every frame at
            its own size (about 0.15 GB of probabilities per 1080p frame, 0.6 GB at 4K, held
            several times over by the engine and the smoother).
        overwrite: let the result of an incomplete (truncated) video replace a complete earlier one.
    """

    outputs: tuple[str, ...] | None = None
    regions: tuple[str, ...] = ()
    mask_format: str = "video"
    batch_size: int = 4
    stream: StreamOptions = field(default_factory=StreamOptions)
    start: float | None = None
    end: float | None = None
    max_frames: int | None = None
    progress: bool | str = False
    queue_size: int | None = None
    crf: int = 20
    preset: str = "veryfast"
    work_pixels: int | None = WORK_PIXELS
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.stream, StreamOptions):
            raise ConfigError(f"stream must be a StreamOptions, got {type(self.stream).__name__}")

    @property
    def smoothing(self) -> SmoothingOptions | None:
        return self.stream.smoothing

    @property
    def limb_consistency(self) -> LimbOptions | None:
        return self.stream.limb_consistency

    @property
    def mirrored(self) -> bool:
        return self.stream.mirrored

    @property
    def compositor(self) -> Compositor | None:
        return self.stream.compositor

    @property
    def roi(self) -> bool | PeopleOptions | None:
        return self.stream.roi

    def stream_options(self, mode: RunningMode, **fields: Any) -> StreamOptions:
        """The :class:`StreamOptions` of the session that parses for this job: :attr:`stream` in ``mode``
        (``fields`` override, e.g. ``return_probabilities``)."""
        mine = {
            "smoothing": self.smoothing, "limb_consistency": self.limb_consistency, "mirrored": self.mirrored,
            "roi": self.roi, "compositor": self.compositor,
        }
        return StreamOptions(running_mode=mode, **{**mine, **fields})

    def resolved_outputs(self) -> tuple[str, ...]:
        """The output kinds this job writes (``outputs``, or the default set); :class:`ConfigError` when invalid."""
        outs = self.outputs
        if outs is None:
            outs = ("overlay", "labels", "summary") + (("alpha",) if self.regions else ())
        bad = [o for o in outs if o not in OUTPUT_KINDS]
        if bad:
            raise ConfigError(f"unknown output {bad[0]!r}; valid: {', '.join(OUTPUT_KINDS)}")
        if "alpha" in outs and not self.regions:
            raise ConfigError("the alpha output needs regions (e.g. --regions upper_body,lower_body)")
        if not outs:
            raise ConfigError("no outputs asked for")
        return tuple(dict.fromkeys(outs))

    def validate(self) -> None:
        """Check every option (outputs, regions, frame range, work size, progress); :class:`ConfigError` when one is invalid."""
        self.resolved_outputs()
        for r in self.regions:
            region_classes(r)
        if self.mask_format not in MASK_FORMATS:
            raise ConfigError(f"unknown mask format {self.mask_format!r}; valid: {', '.join(MASK_FORMATS)}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        if self.queue_size is not None and self.queue_size < 1:
            raise ConfigError(f"queue size must be >= 1 (or None for the default), got {self.queue_size}")
        check_frame_range(self.start, self.end, self.max_frames)
        if self.work_pixels is not None and self.work_pixels < 64 * 64:
            raise ConfigError(f"work_pixels must be >= {64 * 64} (or None), got {self.work_pixels}")
        check_progress(self.progress)

    def overlay_stem(self) -> str:
        """File name (without suffix) of the rendered output: the compositor's ``name``, else ``overlay``."""
        name = getattr(self.compositor, "name", None) if self.compositor is not None else None
        reserved = {"labels", "summary", INCOMPLETE_DIR}
        if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name) and name not in reserved and not name.startswith("alpha_"):
            return name
        return "overlay"
