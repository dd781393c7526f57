"""People first: who is in a frame, and the options of finding them.

A parser sees a whole 768x432 frame at its input size (e.g. 288x192), where a
standing person is ~120 px tall; it was trained on people filling the frame.
Like SCHP/CIHP pipelines and MediaPipe's pose tracker, tryon_sdk parses a
crop around each person instead and, in video, tracks that region of interest
from frame to frame:

* :mod:`~tryon_sdk.people.detect`: the cheap whole-frame pass that finds people, and their crops;
* :mod:`~tryon_sdk.people.crops`: parsing the crops and pasting them back into a full-frame map;
* :mod:`~tryon_sdk.people.tracker`: following each person's crop over a stream.

Temporal smoothing and limb consistency then run on the pasted full-frame
map, in frame coordinates, so crops may move freely. Boxes passed in by the
application (``parser.parse(image, boxes=[(x0, y0, x1, y1), ...])``) replace
the detection; :func:`check_boxes` refuses boxes outside the frame, empty or
degenerate ones and NaNs with an :class:`~tryon_sdk.errors.InputError`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, InputError
from ..geometry import Box
from .facing import SIDE, UNKNOWN, FacingOptions, classify_head, facing_name, head_evidence

__all__ = ["Person", "PeopleOptions", "box_iou", "check_boxes", "coerce_options", "head_facing", "use_people_first"]


@dataclass(frozen=True)
class Person:
    """One person in a result.

    Attributes:
        box: pixel box ``(x0, y0, x1, y1)`` of the person's mask (``x1``/``y1`` exclusive).
        area: person pixels (any class but background) inside ``box``.
        facing: ``"front"``, ``"back"``, ``"side"`` or ``"unknown"`` (see :mod:`tryon_sdk.people.facing`).
        track_id: the same number for the same person across frames of a stream; ``None`` for images.
        score: how sure the people stage is that this is a person, in [0, 1] (mean person probability
            over the detection; 1 for the app's boxes).
        facing_confidence: how sure the facing is, in [0, 1] (0 for ``"unknown"``).
    """

    box: Box
    area: int
    facing: str = UNKNOWN
    track_id: int | None = None
    score: float = 0.0
    facing_confidence: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (``summary.json``)."""
        return {
            "box": [int(v) for v in self.box],
            "area": int(self.area),
            "facing": self.facing,
            "track_id": self.track_id,
            "score": round(float(self.score), 4),
            "facing_confidence": round(float(self.facing_confidence), 4),
        }


@dataclass(frozen=True)
class PeopleOptions:
    """Options of people-first parsing (validated on construction); see the module docstring.

    max_people: people parsed per frame, 1..64.
    margin: crop margin on every side, as a share of the person's box size, 0..2.
    detect_scale: the engine's coarse pass (people the person model misses) runs at this share of the
        model's input size, (0, 1]; at 2/3, 0.63 of small people in a room were found on CCP framings, at 1, 0.77.
    min_area: a detected person's probability mass is at least this share of the frame, [0, 1).
    min_relative: ... and at least this share of the largest detected person's mass, [0, 1].
    redetect_every: VIDEO/LIVE_STREAM: run the engine's coarse pass every this many frames (the person
        model runs on every frame), 1..10000.
    box_smoothing: weight of the previous box in a tracked region of interest, [0, 1).
    min_crop_share: a tracked person whose mask covers less of its crop is lost, [0, 1).
    facing: thresholds of the facing (:class:`~tryon_sdk.people.facing.FacingOptions`).
    person_model: find and mask people with the bundled person and face models (default); ``False``:
        the parser's own scores alone (its coarse pass finds them, its crops mask them, the head's labels
        give the facing), e.g. for a parser trained on footage like yours or a test engine.
    model_weight: the person model's weight in a pixel's person probability (the parser has the rest),
        [0, 1] (:func:`tryon_sdk.people_first.with_person_mask`).
    """

    max_people: int = 4
    margin: float = 0.15
    detect_scale: float = 1.0
    min_area: float = 0.01
    min_relative: float = 0.2
    redetect_every: int = 10
    box_smoothing: float = 0.5
    min_crop_share: float = 0.02
    facing: FacingOptions = field(default_factory=FacingOptions)
    person_model: bool = True
    model_weight: float = 0.7

    def __post_init__(self) -> None:
        def bad(name: str, valid: str) -> ConfigError:
            return ConfigError(f"PeopleOptions.{name}={getattr(self, name)!r} is not valid; valid: {valid}")

        for name, lo, hi in (("max_people", 1, 64), ("redetect_every", 1, 10000)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise bad(name, f"an integer {lo}..{hi}")
        ranges = {
            "margin": (0.0, 2.0, True, True, "0 <= margin <= 2"),
            "detect_scale": (0.0, 1.0, False, True, "0 < detect_scale <= 1"),
            "min_area": (0.0, 1.0, True, False, "0 <= min_area < 1"),
            "min_relative": (0.0, 1.0, True, True, "0 <= min_relative <= 1"),
            "box_smoothing": (0.0, 1.0, True, False, "0 <= box_smoothing < 1"),
            "min_crop_share": (0.0, 1.0, True, False, "0 <= min_crop_share < 1"),
            "model_weight": (0.0, 1.0, True, True, "0 <= model_weight <= 1"),
        }
        for name, (lo, hi, lo_in, hi_in, valid) in ranges.items():
            v = getattr(self, name)
            ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
            ok = ok and (v >= lo if lo_in else v > lo) and (v <= hi if hi_in else v < hi)
            if not ok:
                raise bad(name, f"a number {valid}")
        if not isinstance(self.facing, FacingOptions):
            raise bad("facing", "a tryon_sdk.people.facing.FacingOptions")
        if not isinstance(self.person_model, bool):
            raise bad("person_model", "True or False")

    def replace(self, **changes) -> "PeopleOptions":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def coerce_options(roi: Any, default: PeopleOptions | None = None) -> PeopleOptions | None:
    """``True``/``None`` -> ``default`` (or the defaults), ``False`` -> ``None`` (whole frame), a
    :class:`PeopleOptions` as is."""
    if roi is False:
        return None
    if roi is True or roi is None:
        return default or PeopleOptions()
    if isinstance(roi, PeopleOptions):
        return roi
    raise ConfigError(f"roi must be True, False, None (auto) or a PeopleOptions, got {type(roi).__name__}")


def use_people_first(roi: Any, shape: tuple[int, int], input_size: tuple[int, int]) -> bool:
    """Whether a frame of ``shape`` is parsed people first: ``None`` (the default), ``True`` and a
    :class:`PeopleOptions` always (the person model finds the people at any framing), ``False`` never."""
    return roi is not False


def check_boxes(boxes: Any, shape: tuple[int, int]) -> np.ndarray:
    """Validate app-given person boxes: an ``N x 4`` float64 array of ``(x0, y0, x1, y1)`` pixels.

    Every box must be finite, lie inside the ``H x W`` frame (``0 <= x0 < x1 <= W``,
    ``0 <= y0 < y1 <= H``) and cover at least one pixel; otherwise :class:`InputError`.
    """
    h, w = shape
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"boxes must be a list of (x0, y0, x1, y1) pixel boxes, got {type(boxes).__name__}") from None
    if arr.ndim == 1 and arr.size == 4:
        arr = arr[None]
    if arr.size == 0:
        raise InputError("boxes is empty; give at least one (x0, y0, x1, y1) box, or boxes=None to find people")
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"boxes must be N x 4 (x0, y0, x1, y1) pixel boxes, got shape {arr.shape}")
    for i, (x0, y0, x1, y1) in enumerate(arr):
        where = f"box {i} ({x0:g}, {y0:g}, {x1:g}, {y1:g})"
        if not np.all(np.isfinite(arr[i])):
            raise InputError(f"{where} is not finite")
        if x1 <= x0 or y1 <= y0:
            raise InputError(f"{where} is empty or degenerate: needs x0 < x1 and y0 < y1")
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            raise InputError(f"{where} is outside the {w}x{h} frame: valid 0 <= x0 < x1 <= {w}, 0 <= y0 < y1 <= {h}")
    return arr


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 when they do not overlap)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def head_facing(labels: np.ndarray, options: FacingOptions, top_cut: bool) -> str:
    """Facing of the one person in ``labels`` (a crop around them) from this frame alone."""
    c = classify_head(head_evidence(np.ascontiguousarray(labels), top_cut=top_cut), options)
    return SIDE if c == 0 else facing_name(c or 0)
