"""People first: find each person, parse a crop around them at the model's resolution, paste back.

A parser sees a whole 768x432 frame at its input size (e.g. 288x192), where a
standing person is ~120 px tall; it was trained on people filling the frame.
Like SCHP/CIHP pipelines and MediaPipe's pose tracker, this module parses a
crop around each person instead and, in video, tracks that region of interest
from frame to frame.

* **Detection** (:func:`detect_people`): one cheap pass of the same network on
  the whole frame at ``detect_scale`` of its input size. Person probability
  ``1 - P(background)`` over 0.5, gaps closed, connected components;
  components that nearly touch, or lie above one another with a gap under
  half the taller one's height (a head or the legs cut off from the torso),
  merge. A component is a person
  when its probability mass is at least ``min_area`` of the frame and
  ``min_relative`` of the largest one (specks painted on walls are dropped);
  the ``max_people`` largest are kept. In IMAGE mode a frame in which the
  cheap pass finds nobody is searched once more at the model's input size
  (a photo filled by one person can fool the small pass).
* **Crops** (:func:`crop_window`): the person's box grown by ``margin`` of its
  size on every side, then to the model's aspect ratio (portrait or
  landscape, whichever the box is), in whole multiples of the reduced ratio
  (3:2 for 288x192) so it scales to the input without padding; moved inside
  the frame (clipped only when the frame is smaller). All crops of a frame go
  through the network in one batch (:meth:`Parser.predict_regions`).
* **Paste** (:func:`paste`): a full-frame ``C x H x W`` probability map that
  is background outside every crop; where crops overlap, each pixel takes the
  crop that is more confident (larger top probability) there.
* **Tracking** (:class:`PeopleTracker`, VIDEO / LIVE_STREAM): each person's
  box comes from its mask in the previous frame's crop (components touching
  the predicted box; the span holding all but 2% of the mask on each side),
  smoothed (``box_smoothing``) against the box predicted from its motion, and
  grown into the next crop, moved by that motion. The whole frame is searched again every ``redetect_every`` frames
  while fewer than ``max_people`` are tracked (a new person entering is found
  within that many frames), at once when a mask touches a crop edge that is
  not the frame's edge, and on every frame while nobody is tracked (an empty
  frame costs one cheap pass and comes out all background). A person whose
  mask covers less than ``min_crop_share`` of the crop is lost, and so is one
  that two searches in a row do not see (after a miss the next frame is
  searched again), so a track cannot live on paint the parser puts on an
  empty background. A box grows by at most 10% per side and frame and to at
  most 1.5 times the size the last search saw. Detections overlapping a track
  (IoU > 0.3, or centred inside it) belong to it; tracks overlapping each
  other by IoU > 0.5 merge (the older one stays).

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
from typing import TYPE_CHECKING, Any, Sequence

import cv2
import numpy as np
import torch

from ..errors import ConfigError, InputError
from .facing import SIDE, UNKNOWN, FacingOptions, classify_head, facing_name, head_evidence
from ..labels import argmax_labels
from ..regions import Box

if TYPE_CHECKING:
    from ..parser import Parser

__all__ = [
    "Person",
    "PeopleOptions",
    "PeopleState",
    "PeopleTracker",
    "check_boxes",
    "crop_window",
    "detect_people",
    "paste",
    "parse_people_first",
    "people_from_labels",
    "use_people_first",
]

_MERGE_GAP = 0.1  # components closer than this share of the taller one's height merge
_STACK_GAP = 0.5  # ... and components above one another closer than this share
_MAX_UPSCALE = 4.0  # a crop is at least 1/4 of the model input, so tiny specks are not blown up 20x
_MATCH_IOU = 0.3  # a detection overlapping a track this much is that track
_MAX_GROWTH = 0.1  # a tracked box grows at most this share of its size per side and frame
_NEAR = 0.25  # mask components within this share of the previous box's size (per side) are the person
_TRIM = 0.02  # a tracked box leaves out this share of the mask's mass on each side (thin paint bleeding away)
_MAX_SIZE = 1.5  # a tracked box is at most this many times the size the last search saw
_MISSES = 2  # searches in a row that do not see a tracked person drop it
_MERGE_IOU = 0.5  # tracks overlapping this much are one person


@dataclass(frozen=True)
class Person:
    """One person in a result.

    Attributes:
        box: pixel box ``(x0, y0, x1, y1)`` of the person's mask (``x1``/``y1`` exclusive).
        area: person pixels (any class but background) inside ``box``.
        facing: ``"front"``, ``"back"``, ``"side"`` or ``"unknown"`` (see :mod:`tryon_sdk.people.facing`).
        track_id: the same number for the same person across frames of a stream; ``None`` for images.
        score: mean person probability over the mask, in [0, 1].
    """

    box: Box
    area: int
    facing: str = UNKNOWN
    track_id: int | None = None
    score: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (``summary.json``)."""
        return {
            "box": [int(v) for v in self.box],
            "area": int(self.area),
            "facing": self.facing,
            "track_id": self.track_id,
            "score": round(float(self.score), 4),
        }


@dataclass(frozen=True)
class PeopleOptions:
    """Options of people-first parsing (validated on construction); see the module docstring.

    max_people: people parsed per frame, 1..64.
    margin: crop margin on every side, as a share of the person's box size, 0..2.
    detect_scale: the detection pass runs at this share of the model's input size, (0, 1].
    min_area: a detected person's probability mass is at least this share of the frame, [0, 1).
    min_relative: ... and at least this share of the largest detected person's mass, [0, 1].
    redetect_every: VIDEO/LIVE_STREAM: search the whole frame every this many frames, 1..10000.
    box_smoothing: weight of the previous box in a tracked region of interest, [0, 1).
    min_crop_share: a tracked person whose mask covers less of its crop is lost, [0, 1).
    facing: thresholds of the head-based facing (:class:`~tryon_sdk.people.facing.FacingOptions`).
    """

    max_people: int = 4
    margin: float = 0.15
    detect_scale: float = 2 / 3
    min_area: float = 0.01
    min_relative: float = 0.2
    redetect_every: int = 10
    box_smoothing: float = 0.5
    min_crop_share: float = 0.02
    facing: FacingOptions = field(default_factory=FacingOptions)

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
        }
        for name, (lo, hi, lo_in, hi_in, valid) in ranges.items():
            v = getattr(self, name)
            ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
            ok = ok and (v >= lo if lo_in else v > lo) and (v <= hi if hi_in else v < hi)
            if not ok:
                raise bad(name, f"a number {valid}")
        if not isinstance(self.facing, FacingOptions):
            raise bad("facing", "a tryon_sdk.people.facing.FacingOptions")

    def replace(self, **changes) -> "PeopleOptions":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def coerce_options(roi: Any) -> PeopleOptions | None:
    """``True``/``None`` -> defaults, ``False`` -> ``None`` (whole frame), a :class:`PeopleOptions` as is."""
    if roi is False:
        return None
    if roi is True or roi is None:
        return PeopleOptions()
    if isinstance(roi, PeopleOptions):
        return roi
    raise ConfigError(f"roi must be True, False, None (auto) or a PeopleOptions, got {type(roi).__name__}")


def use_people_first(roi: Any, shape: tuple[int, int], input_size: tuple[int, int]) -> bool:
    """Whether a frame of ``shape`` is parsed people first.

    ``roi=None`` (auto) chooses it when the frame's longer side is at least twice the model input's,
    i.e. when a crop can gain resolution; ``True`` / a :class:`PeopleOptions` always, ``False`` never.
    """
    if roi is None:
        return max(shape) >= 2 * max(input_size)
    return roi is not False


# --------------------------------------------------------------------------------------------------------- boxes
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


def crop_window(box: Sequence[float], shape: tuple[int, int], input_size: tuple[int, int], margin: float) -> Box:
    """The crop for a person box: grown by ``margin``, at the model's aspect ratio, inside the frame."""
    H, W = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    bw, bh = (x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin)
    ih, iw = input_size
    if (bh >= bw) != (ih >= iw):  # a landscape box gets the transposed input, as the letterbox does
        ih, iw = iw, ih
    g = math.gcd(int(ih), int(iw))
    a, b = ih // g, iw // g
    k = max(math.ceil(max(bh / a, bw / b)), math.ceil(ih / (a * _MAX_UPSCALE)), 1)
    ch, cw = min(a * k, H), min(b * k, W)
    cx0 = min(max(_round_towards((x0 + x1 - cw) / 2, (W - cw) / 2), 0), W - cw)
    cy0 = min(max(_round_towards((y0 + y1 - ch) / 2, (H - ch) / 2), 0), H - ch)
    return Box(cx0, cy0, cx0 + cw, cy0 + ch)


def _round_towards(v: float, centre: float) -> int:
    """Nearest integer, ties towards ``centre``: the window of a mirrored box is the mirrored window."""
    r = math.floor(v + 0.5)
    if r - v == 0.5 and v >= centre:
        r -= 1
    return r


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


# ----------------------------------------------------------------------------------------------------- detection
@dataclass(frozen=True)
class Detection:
    """A person found by the detection pass: frame-pixel box and probability mass (in frame pixels)."""

    box: tuple[float, float, float, float]
    mass: float


def _components(person: np.ndarray, min_mass: float) -> list[tuple[list[float], float]]:
    """Boxes (x0, y0, x1, y1 in the grid) and masses of the person components of a probability grid."""
    mask = (person > 0.5).astype(np.uint8)
    if not mask.any():
        return []
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, cc, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)
    masses = np.bincount(cc.ravel(), weights=person.ravel(), minlength=n)
    comps = []
    for k in range(1, n):
        x, y, w, h = (int(v) for v in stats[k, :4])
        comps.append(([x, y, x + w, y + h], float(masses[k])))
    # merge components that nearly touch (a head cut off from its body, an arm)
    merged = True
    while merged and len(comps) > 1:
        merged = False
        for i in range(len(comps)):
            for j in range(i + 1, len(comps)):
                a, b = comps[i][0], comps[j][0]
                tall = max(a[3] - a[1], b[3] - b[1])
                gap_x = max(a[0], b[0]) - min(a[2], b[2])  # < 0 when they overlap
                gap_y = max(a[1], b[1]) - min(a[3], b[3])
                # body parts of one person: stacked (legs under a torso) or nearly touching
                if (gap_x < 0 and gap_y < _STACK_GAP * tall) or (gap_x < _MERGE_GAP * tall and gap_y < _MERGE_GAP * tall):
                    box = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    comps[i] = (box, comps[i][1] + comps[j][1])
                    del comps[j]
                    merged = True
                    break
            if merged:
                break
    return [c for c in comps if c[1] >= min_mass]


def detect_people(
    parser: "Parser", images: Sequence[np.ndarray], options: PeopleOptions, scale: float | None = None
) -> list[list[Detection]]:
    """The cheap whole-frame pass: the people in each ``HxWx3`` uint8 RGB image, largest first.

    ``scale`` overrides ``options.detect_scale`` (share of the model's input size).
    """
    if not images:
        return []
    out = []
    for image, probs in zip(images, parser.predict_coarse(images, scale or options.detect_scale)):
        H, W = image.shape[:2]
        person = (1.0 - probs[0]).float().cpu().numpy()
        gh, gw = person.shape
        sy, sx = H / gh, W / gw
        min_mass = options.min_area * gh * gw
        comps = _components(person, min_mass)
        if not comps:
            out.append([])
            continue
        best = max(m for _, m in comps)
        keep = sorted((c for c in comps if c[1] >= options.min_relative * best), key=lambda c: -c[1])
        dets = [
            Detection((b[0] * sx, b[1] * sy, min(b[2] * sx, W), min(b[3] * sy, H)), m * sx * sy)
            for b, m in keep[: options.max_people]
        ]
        out.append(dets)
    return out


# ----------------------------------------------------------------------------------------------- crops and paste
def paste(
    shape: tuple[int, int], crops: Sequence[torch.Tensor], windows: Sequence[Box], num_classes: int, device: Any = None
) -> torch.Tensor:
    """Full-frame ``C x H x W`` float32 probabilities: background outside the crops, the more confident crop
    where crops overlap. ``crops[i]`` is ``C x h x w`` at ``windows[i]``'s size."""
    H, W = shape
    dev = crops[0].device if crops else (device or "cpu")
    full = torch.zeros((num_classes, H, W), dtype=torch.float32, device=dev)
    full[0] = 1.0
    conf: torch.Tensor | None = None  # top probability of the crop pasted at each pixel, -1 where none
    covered: list[Box] = []
    for probs, win in zip(crops, windows):
        x0, y0, x1, y1 = win
        probs = probs.float()
        top = probs.amax(0)
        if any(_iou(win, c) > 0 for c in covered):
            assert conf is not None
            take = top > conf[y0:y1, x0:x1]
            full[:, y0:y1, x0:x1] = torch.where(take[None], probs, full[:, y0:y1, x0:x1])
            conf[y0:y1, x0:x1] = torch.maximum(top, conf[y0:y1, x0:x1])
        else:  # nothing pasted here yet
            full[:, y0:y1, x0:x1] = probs
            if len(crops) > 1:
                if conf is None:
                    conf = torch.full((H, W), -1.0, device=dev)
                conf[y0:y1, x0:x1] = top
        covered.append(win)
    return full


def _person_in_crop(
    mask: np.ndarray, probs_bg: torch.Tensor, window: Box, near: Sequence[float] | None
) -> tuple[Box, int, float] | None:
    """Box (frame pixels), pixel area and score of the person in a crop's person mask (``h x w`` bool).

    ``near``: the person's previous box (frame pixels); only mask components touching it (grown by half its
    size) count, so a neighbour stepping into the crop does not join. ``None`` takes every component.
    """
    if not mask.any():
        return None
    x0w, y0w = window.x0, window.y0
    if near is not None:
        n, cc, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        bw, bh = near[2] - near[0], near[3] - near[1]
        nx0, ny0 = near[0] - x0w - _NEAR * bw, near[1] - y0w - _NEAR * bh
        nx1, ny1 = near[2] - x0w + _NEAR * bw, near[3] - y0w + _NEAR * bh
        keep = np.zeros(n, bool)
        for k in range(1, n):
            x, y, w, h = stats[k, :4]
            keep[k] = x < nx1 and x + w > nx0 and y < ny1 and y + h > ny0
        if not keep.any():
            return None
        mask = keep[cc]
    if near is not None:  # tracking: the span holding all but a trimmed share of the mass on each side
        (xa, xb), (ya, yb) = _span(mask.sum(axis=0)), _span(mask.sum(axis=1))
    else:
        ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        (xa, xb), (ya, yb) = (int(xs[0]), int(xs[-1]) + 1), (int(ys[0]), int(ys[-1]) + 1)
    box = Box(xa + x0w, ya + y0w, xb + x0w, yb + y0w)
    area = int(np.count_nonzero(mask))
    score = float(1.0 - probs_bg.float().cpu().numpy()[mask].mean())
    return box, area, score


def _span(profile: np.ndarray) -> tuple[int, int]:
    """``[a, b)`` holding all of a mass profile but :data:`_TRIM` of it on each side."""
    c = np.cumsum(profile, dtype=np.float64)
    total = c[-1]
    return int(np.searchsorted(c, _TRIM * total, side="right")), int(np.searchsorted(c, (1 - _TRIM) * total)) + 1


def _head_facing(labels: np.ndarray, options: FacingOptions, top_cut: bool) -> str:
    """Facing of the one person in ``labels`` (a crop around them) from this frame alone."""
    c = classify_head(head_evidence(np.ascontiguousarray(labels), top_cut=top_cut), options)
    return SIDE if c == 0 else facing_name(c or 0)


def people_from_labels(labels: np.ndarray, options: PeopleOptions | None = None) -> list[Person]:
    """People in a whole-frame label map (the ``roi=False`` path): components of the person mask with the
    detection's size rules, each with its head-based facing."""
    options = options or PeopleOptions()
    H, W = labels.shape
    s = max(1, min(H, W) // 96)  # analyse on a coarse grid: boxes need no pixel precision
    small = labels[::s, ::s]
    comps = _components((small != 0).astype(np.float32), options.min_area * small.size)
    if not comps:
        return []
    best = max(m for _, m in comps)
    comps = sorted((c for c in comps if c[1] >= options.min_relative * best), key=lambda c: -c[1])
    people = []
    for b, _ in comps[: options.max_people]:
        box = Box(b[0] * s, b[1] * s, min(b[2] * s, W), min(b[3] * s, H))
        area = int(np.count_nonzero(labels[box.y0 : box.y1, box.x0 : box.x1]))
        sub = labels[box.y0 : box.y1, box.x0 : box.x1]
        people.append(Person(box, area, _head_facing(sub, options.facing, box.y0 == 0), None, 1.0))
    return people


def parse_people_first(
    parser: "Parser",
    images: Sequence[np.ndarray],
    options: PeopleOptions,
    boxes: Sequence[np.ndarray | None] | None = None,
) -> list[tuple[torch.Tensor, list[Person]]]:
    """IMAGE mode: full-frame probabilities and people of each image, people first.

    ``boxes[i]`` (checked ``N x 4`` arrays) replace the detection for image ``i``. One detection pass for all
    images without boxes, then every crop of every image in batches of the parser's choosing.
    """
    boxes = list(boxes) if boxes is not None else [None] * len(images)
    need = [i for i, b in enumerate(boxes) if b is None]
    found = dict(zip(need, detect_people(parser, [images[i] for i in need], options)))
    # nobody at low resolution: look again at the model's input size (a photo filled by one person can fool
    # the small pass); a video searches again on the next frame instead
    again = [i for i in need if not found[i]]
    if again and options.detect_scale < 1.0:
        found.update(zip(again, detect_people(parser, [images[i] for i in again], options, scale=1.0)))
    plan: list[list[Box]] = []
    for i, image in enumerate(images):
        shape = image.shape[:2]
        src = [d.box for d in found[i]] if boxes[i] is None else [tuple(b) for b in boxes[i]]  # type: ignore[union-attr]
        plan.append([crop_window(b, shape, parser.config.input_size, options.margin) for b in src])
    crops = parser.predict_regions(images, plan)
    out = []
    for i, image in enumerate(images):
        shape = image.shape[:2]
        full = paste(shape, crops[i], plan[i], parser.config.num_classes, parser.device)
        people = []
        for probs, win in zip(crops[i], plan[i]):
            lab = argmax_labels(probs)
            found_p = _person_in_crop(lab != 0, probs[0], win, None)
            if found_p is None:
                continue
            box, area, score = found_p
            sub = lab[box.y0 - win.y0 : box.y1 - win.y0, box.x0 - win.x0 : box.x1 - win.x0]
            people.append(Person(box, area, _head_facing(sub, options.facing, box.y0 == 0), None, score))
        out.append((full, people))
    return out


# ------------------------------------------------------------------------------------------------------ tracking
@dataclass(frozen=True)
class Track:
    """One tracked person: id, smoothed box (frame pixels, floats), and what the last detection saw."""

    track_id: int
    box: tuple[float, float, float, float]
    age: int = 0
    size: tuple[float, float] = (0.0, 0.0)  # (w, h) the box may reach at most :data:`_MAX_SIZE` times
    misses: int = 0  # consecutive whole-frame searches that did not see this person
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre motion per frame (the next crop is moved by it)

    def predicted(self) -> tuple[float, float, float, float]:
        """The box where the person should be in the next frame."""
        vx, vy = self.velocity
        x0, y0, x1, y1 = self.box
        return (x0 + vx, y0 + vy, x1 + vx, y1 + vy)


@dataclass(frozen=True)
class PeopleState:
    """What :class:`PeopleTracker` carries from one frame to the next."""

    shape: tuple[int, int]
    tracks: tuple[Track, ...] = ()
    next_id: int = 1
    since_detect: int = 0  # frames since the last whole-frame detection
    redetect: bool = False  # a mask touched a crop edge, or a person was lost: search the frame next time
    detections: int = 0  # whole-frame passes so far (for stats and tests)


class PeopleTracker:
    """Regions of interest over a stream; explicit state (``probs, people, state = tracker.step(...)``).

    The tracker keeps nothing between calls, so one can serve many streams.
    """

    def __init__(self, options: PeopleOptions | None = None) -> None:
        if options is not None and not isinstance(options, PeopleOptions):
            raise ConfigError(f"options must be PeopleOptions, got {type(options).__name__}")
        self.options = options or PeopleOptions()

    def step(
        self, parser: "Parser", image: np.ndarray, state: PeopleState | None = None
    ) -> tuple[torch.Tensor, list[Person], PeopleState]:
        """One frame: ``C x H x W`` float32 probabilities (on the parser's device), the people (facing not yet
        decided: the temporal stage does that), and the new state."""
        opt = self.options
        shape = image.shape[:2]
        if state is None or state.shape != shape:
            state = PeopleState(shape)
        tracks = list(state.tracks)
        next_id = state.next_id
        since = state.since_detect + 1
        detections = state.detections
        due = since >= opt.redetect_every and len(tracks) < opt.max_people
        if not tracks or state.redetect or due:
            dets = detect_people(parser, [image], opt)[0]
            detections += 1
            since = 0
            seen: set[int] = set()
            for d in dets:
                match = max(tracks, key=lambda t: _match(t.box, d.box), default=None)
                if match is not None and _match(match.box, d.box) > _MATCH_IOU:
                    i = tracks.index(match)
                    box = _clamp_growth(match.box, _union(match.box, d.box)) if state.redetect else match.box
                    dw, dh = d.box[2] - d.box[0], d.box[3] - d.box[1]
                    tw, th = match.box[2] - match.box[0], match.box[3] - match.box[1]
                    size = (max(dw, 0.8 * tw), max(dh, 0.8 * th))
                    tracks[i] = dataclasses.replace(match, box=box, size=size, misses=0)
                    seen.add(match.track_id)
                    continue
                if len(tracks) < opt.max_people:
                    tracks.append(Track(next_id, d.box, size=(d.box[2] - d.box[0], d.box[3] - d.box[1])))
                    seen.add(next_id)
                    next_id += 1
            missed = [dataclasses.replace(t, misses=t.misses + 1) for t in tracks if t.track_id not in seen]
            tracks = [t for t in tracks if t.track_id in seen] + [t for t in missed if t.misses < _MISSES]
            force_search = bool(missed)
        else:
            force_search = False
        if not tracks:
            full = paste(shape, [], [], parser.config.num_classes, parser.device)
            return full, [], PeopleState(shape, (), next_id, since, False, detections)
        tracks.sort(key=lambda t: t.track_id)
        windows = [crop_window(t.predicted(), shape, parser.config.input_size, opt.margin) for t in tracks]
        crops = parser.predict_regions([image], [windows])[0]
        full = paste(shape, crops, windows, parser.config.num_classes, parser.device)
        kept: list[Track] = []
        people: list[Person] = []
        redetect = force_search
        H, W = shape
        for track, probs, win in zip(tracks, crops, windows):
            mask = (probs[0] < 0.5).cpu().numpy()  # person: background below one half (cheaper than an argmax)
            found = _person_in_crop(mask, probs[0], win, track.predicted())
            if found is None or found[1] < opt.min_crop_share * mask.size:
                redetect = True  # lost: look for people again on the next frame
                continue
            box, area, score = found
            touches = (box.x0 <= win.x0 and win.x0 > 0) or (box.y0 <= win.y0 and win.y0 > 0)
            touches |= (box.x1 >= win.x1 and win.x1 < W) or (box.y1 >= win.y1 and win.y1 < H)
            redetect |= bool(touches)
            a = opt.box_smoothing if track.age > 0 and not touches else 0.0
            prior = track.predicted()
            smoothed = _clamp_growth(prior, tuple(a * o + (1 - a) * n for o, n in zip(prior, box)))
            smoothed = _clamp_size(smoothed, track.size)
            moved = (
                0.5 * (smoothed[0] + smoothed[2] - track.box[0] - track.box[2]),
                0.5 * (smoothed[1] + smoothed[3] - track.box[1] - track.box[3]),
            )
            velocity = moved if track.age > 0 else (0.0, 0.0)
            kept.append(dataclasses.replace(track, box=smoothed, age=track.age + 1, velocity=velocity))
            people.append(Person(box, area, UNKNOWN, track.track_id, score))
        kept, people = _merge_duplicates(kept, people)
        return full, people, PeopleState(shape, tuple(kept), next_id, since, redetect, detections)


def _clamp_growth(old: Sequence[float], new: Sequence[float]) -> tuple[float, float, float, float]:
    """``new`` shrunk about its centre to at most ``old``'s size grown by :data:`_MAX_GROWTH` per side: paint
    bleeding onto the background next to a person cannot run away with the crop, frame after frame (the box
    may move freely)."""
    w = min(new[2] - new[0], (1 + 2 * _MAX_GROWTH) * (old[2] - old[0]))
    h = min(new[3] - new[1], (1 + 2 * _MAX_GROWTH) * (old[3] - old[1]))
    cx, cy = 0.5 * (new[0] + new[2]), 0.5 * (new[1] + new[3])
    return (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h)


def _clamp_size(box: Sequence[float], size: tuple[float, float]) -> tuple[float, float, float, float]:
    """``box`` shrunk about its centre to at most :data:`_MAX_SIZE` times ``size`` (w, h)."""
    x0, y0, x1, y1 = box
    w, h = min(x1 - x0, _MAX_SIZE * size[0]), min(y1 - y0, _MAX_SIZE * size[1])
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    return (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h)


def _match(track: Sequence[float], det: Sequence[float]) -> float:
    """How well a detection matches a track: IoU, or 1 when the detection's centre lies inside the track."""
    cx, cy = 0.5 * (det[0] + det[2]), 0.5 * (det[1] + det[3])
    if track[0] <= cx <= track[2] and track[1] <= cy <= track[3]:
        return 1.0
    return _iou(track, det)


def _union(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float, float]:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _merge_duplicates(tracks: list[Track], people: list[Person]) -> tuple[list[Track], list[Person]]:
    """Drop the younger of two tracks that cover one person."""
    drop: set[int] = set()
    for i in range(len(tracks)):
        for j in range(i + 1, len(tracks)):
            if i in drop or j in drop:
                continue
            if _iou(people[i].box, people[j].box) > _MERGE_IOU:
                drop.add(j if tracks[i].track_id < tracks[j].track_id else i)
    return [t for k, t in enumerate(tracks) if k not in drop], [p for k, p in enumerate(people) if k not in drop]
