"""Options of a streaming session (:mod:`tryon_sdk.video.stream.session`): running modes, stage options, counters.

:func:`smoothing_options` and :func:`limb_options` are the one conversion of a stage option:
``True`` stands for the defaults (one shared frozen instance each, which a summary writes as
``true``), ``False`` / ``None`` for none.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...compositor import Compositor
from ...errors import ConfigError
from ...limbs import LimbOptions
from ...people.person import PeopleOptions, coerce_options
from ...result import ParseResult
from ..temporal.options import SmoothingOptions

__all__ = [
    "RunningMode",
    "StreamOptions",
    "StreamStats",
    "ResultCallback",
    "default_stage_options",
    "smoothing_options",
    "limb_options",
]

#: LIVE_STREAM callback ``(result, output_image, timestamp_ms)``; ``output_image`` is the
#: compositor's output when one is set, else the input frame.
ResultCallback = Callable[[ParseResult, np.ndarray, int], None]


class RunningMode(enum.Enum):
    """How frames arrive (MediaPipe tasks' running modes).

    ``IMAGE``: independent images (``Parser.parse``); ``VIDEO``: the frames of one video in order
    (``session.parse``, smoothing and tracking carried over); ``LIVE_STREAM``: camera frames
    (``session.parse_async`` with a result callback; frames that arrive while one is parsed are dropped).
    ``RunningMode.coerce("video")`` takes the strings too.
    """

    IMAGE = "image"
    VIDEO = "video"
    LIVE_STREAM = "live_stream"

    @classmethod
    def coerce(cls, value: "RunningMode | str") -> "RunningMode":
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ConfigError(f"unknown running mode {value!r}; valid: {', '.join(m.value for m in cls)}") from None


@functools.cache
def default_stage_options() -> tuple[SmoothingOptions, LimbOptions]:
    """The one (frozen) ``SmoothingOptions`` and ``LimbOptions`` that ``True`` stands for; a summary writes them as ``true``."""
    return SmoothingOptions(), LimbOptions()


def _stage_option(value: Any, kind: type, default: Any, name: str) -> Any:
    if value is None or value is False:
        return None
    if value is True:
        return default
    if not isinstance(value, kind):
        raise ConfigError(f"{name} must be a {kind.__name__}, True, False or None; got {type(value).__name__}")
    return value


def smoothing_options(value: SmoothingOptions | bool | None) -> SmoothingOptions | None:
    """The one conversion of a smoothing option: ``True`` -> defaults, ``False`` / ``None`` -> ``None``."""
    return _stage_option(value, SmoothingOptions, default_stage_options()[0], "smoothing")


def limb_options(value: LimbOptions | bool | None) -> LimbOptions | None:
    """The one conversion of a limb-consistency option: ``True`` -> defaults, ``False`` / ``None`` -> ``None``."""
    return _stage_option(value, LimbOptions, default_stage_options()[1], "limb_consistency")


@dataclass(frozen=True)
class StreamOptions:
    """Options of a :class:`VideoSession` (frozen; values are checked and normalised on construction).

    Attributes:
        running_mode: ``IMAGE``, ``VIDEO`` or ``LIVE_STREAM`` (a string is taken for its mode).
        smoothing: a ``SmoothingOptions`` from :mod:`tryon_sdk.video.temporal.smoothing`, or ``None`` for none
            (``True`` / ``False`` are taken for the defaults / ``None``).
        limb_consistency: a ``LimbOptions`` from :mod:`tryon_sdk.limbs`, or ``None`` for none
            (``True`` / ``False`` likewise).
        mirrored: the frames are mirrored (selfie preview); left/right come out as the person's own sides
            (the limb stage gets it from here).
        return_probabilities: keep the (smoothed) ``CxHxW`` float32 probabilities in each result.
        result_callback: LIVE_STREAM only, and required there (see :data:`ResultCallback`).
        compositor: renders the output image (:meth:`VideoSession.render`, LIVE_STREAM callback, overlay video).
        roi: people first: ``None`` (the parser's default: people first with the person model), ``True``, ``False``
            (the whole frame, as before) or a :class:`~tryon_sdk.people.person.PeopleOptions`.
    """

    running_mode: RunningMode = RunningMode.VIDEO
    smoothing: SmoothingOptions | None = field(default_factory=lambda: default_stage_options()[0])
    limb_consistency: LimbOptions | None = field(default_factory=lambda: default_stage_options()[1])
    mirrored: bool = False
    return_probabilities: bool = False
    result_callback: ResultCallback | None = None
    compositor: Compositor | None = None
    roi: bool | PeopleOptions | None = None

    def __post_init__(self) -> None:
        # normalised in place once, at construction: strings to modes, True/False to stage options
        object.__setattr__(self, "running_mode", RunningMode.coerce(self.running_mode))
        object.__setattr__(self, "smoothing", smoothing_options(self.smoothing))
        object.__setattr__(self, "limb_consistency", limb_options(self.limb_consistency))
        coerce_options(self.roi)  # raises on a bad value
        if self.running_mode is RunningMode.LIVE_STREAM and self.result_callback is None:
            raise ConfigError("LIVE_STREAM mode needs a result_callback")
        if self.running_mode is not RunningMode.LIVE_STREAM and self.result_callback is not None:
            raise ConfigError(f"result_callback is only used in LIVE_STREAM mode, not {self.running_mode.name}")
        if self.result_callback is not None and not callable(self.result_callback):
            raise ConfigError("result_callback must be callable")
        if self.compositor is not None and not callable(self.compositor):
            raise ConfigError("compositor must be callable")


@dataclass(frozen=True)
class StreamStats:
    """Counters and cumulative stage times of a session."""

    frames_submitted: int
    frames_processed: int
    frames_dropped: int
    last_timestamp_ms: int | None
    inference_s: float
    postprocess_s: float
    people_searches: int = 0  # whole-frame people detection passes (people first)
