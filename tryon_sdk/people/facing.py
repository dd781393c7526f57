"""Which way a person faces (front, back, side), from the parser's own head classes.

Left/right limb labels are the person's own sides, so the side of a limb in
the image depends on the facing: seen from the front the left arm is on the
image's right, seen from behind on its left. Parsers trained on front views
keep labelling by image position on back views, so the facing has to come
from somewhere else. The head tells it:

* **Head zone.** The head is the largest connected blob of
  Hat/Hair/Sunglasses/Face pixels in the top 35% of the person (a stray
  patch is not the head). Its width ``w`` is the 90th percentile of its row
  widths, its crown the first row at least 0.3 ``w`` wide. The zone is the
  ``0.9 w`` rows below the crown: forehead, eyes and cheekbones from the
  front, skull from behind (a head is about 1.3 ``w`` tall).
* **Evidence.** ``share`` = Face pixels / person pixels in the zone. From the
  front the face fills a large part of it (typically 0.2-0.5; on the CCP
  validation photos, front views the model never trained on, 0.11 at least and
  0.39 in the median, so the thresholds below leave them all front or side); from behind
  there is hair, a hat or whatever the parser paints on the skull, and the
  neck (which parsers trained on front views often paint as Face) lies below
  the zone. ``share >= front_share`` is *front*, ``share <= back_share`` is
  *back* (hair only), anything between is *side* (a profile or a doubtful
  frame). A head smaller than ``min_head_pixels`` gives no evidence at all.
  Sunglasses count as face only where they touch Face pixels (within 0.1
  ``w``): worn, they sit on a face; parsers also paint them on dark hair
  seen from behind, away from any face.
* **No head at all.** Parsers trained on front views often paint dark hair
  seen from behind as a garment. A person with no head pixels whose top
  (the first 12% of its height, about a head) is mostly upper-body garments
  (Upper-clothes, Dress, Scarf) and who is not cut off by the top of the
  frame (``top_cut``) shows no face where a face would be: *back*. Anything
  else without a head (legs only, a cut-off person) gives no evidence.
* **Hysteresis** (:func:`update_facing`, :func:`facing_step`): the first evidence sets the facing;
  later, it changes only after ``flip_frames`` consecutive frames of
  contrary evidence. *Side* and missing frames neither confirm nor
  contradict, so a one-frame doubt changes nothing and a turn is followed
  within ``flip_frames`` frames. A person seen in profile for
  ``flip_frames`` frames or more is reported as ``"side"``.

:mod:`tryon_sdk.limbs` uses this per person to give limbs their own sides;
:class:`FacingFilter` does the same per tracked person when the limb stage is
off. Mirrored frames (selfie view) do not change the facing: a face is a face
either way round.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError, InputError
from .faces import Face

__all__ = [
    "FRONT",
    "BACK",
    "SIDE",
    "UNKNOWN",
    "FACINGS",
    "FacingOptions",
    "HeadEvidence",
    "head_evidence",
    "classify_head",
    "observe_facing",
    "HeadObservation",
    "FacingState",
    "facing_step",
    "update_facing",
    "facing_name",
    "FacingFilter",
]

FRONT, BACK, SIDE, UNKNOWN = "front", "back", "side", "unknown"
#: Values of ``Person.facing``.
FACINGS: tuple[str, ...] = (FRONT, BACK, SIDE, UNKNOWN)

HAT, HAIR, SUNGLASSES, FACE = 1, 2, 3, 11
_HEAD_LUT = np.zeros(256, bool)
_HEAD_LUT[[HAT, HAIR, SUNGLASSES, FACE]] = True
_UPPER_LUT = np.zeros(256, bool)
_UPPER_LUT[[4, 7, 17]] = True  # Upper-clothes, Dress, Scarf
_HEADLESS_TOP = 0.12  # share of a headless person's height looked at for a face
_HEADLESS_UPPER = 0.5  # ... and the share of it that must be upper-body garments
_HEAD_BAND = 0.35  # the head is looked for in this top share of the person's height
_GLASSES_REACH = 0.1  # sunglasses this close to Face pixels (share of the head's width) are on that face
_CROWN_WIDTH = 0.3  # the crown is the first row at least this share of the head's width
_ZONE_HEIGHT = 0.9  # zone height in head widths, from the crown


@dataclass(frozen=True)
class FacingOptions:
    """Thresholds and hysteresis of the facing decision (validated on construction).

    front_share: Face share of the head zone at or above which the face is
        visible (front view), in (0, 1].
    back_share: share at or below which only hair is seen (back view),
        in [0, front_share).
    min_head_pixels: fewer head pixels than this give no evidence, >= 1.
    flip_frames: consecutive frames of contrary evidence before the facing
        changes, 1..1000.
    face_front: a face detector score at or above which the face is seen (front view), in (0, 1].
    face_back: a score below which no face is seen (back view), in [0, face_front].
    profile_turn: a seen face whose nose lies this many eye distances off the eyes' midpoint
        (:attr:`~tryon_sdk.people.faces.Face.turn`) is a profile (side), > 0.
    """

    front_share: float = 0.15
    back_share: float = 0.06
    min_head_pixels: int = 24
    flip_frames: int = 3
    face_front: float = 0.75
    face_back: float = 0.7
    profile_turn: float = 0.6

    def __post_init__(self) -> None:
        def bad(name: str, valid: str) -> ConfigError:
            return ConfigError(f"FacingOptions.{name}={getattr(self, name)!r} is not valid; valid: {valid}")

        for name in ("front_share", "back_share", "face_front", "face_back", "profile_turn"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(name, "a number in [0, 1]")
        if not 0.0 < self.front_share <= 1.0:
            raise bad("front_share", "a number 0 < front_share <= 1")
        if not 0.0 <= self.back_share < self.front_share:
            raise bad("back_share", f"a number 0 <= back_share < front_share ({self.front_share})")
        if not 0.0 < self.face_front <= 1.0:
            raise bad("face_front", "a number 0 < face_front <= 1")
        if not 0.0 <= self.face_back <= self.face_front:
            raise bad("face_back", f"a number 0 <= face_back <= face_front ({self.face_front})")
        if not self.profile_turn > 0:
            raise bad("profile_turn", "a number > 0")
        for name, lo, hi in (("min_head_pixels", 1, 10**9), ("flip_frames", 1, 1000)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise bad(name, f"an integer {lo}..{hi}")

    def replace(self, **changes) -> "FacingOptions":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class HeadEvidence:
    """What the head of one person shows: ``share`` of Face in the head zone, over ``head_pixels`` head pixels."""

    share: float
    head_pixels: int
    headless: bool = False  # no head pixels: the person's top was looked at instead


def head_evidence(labels: np.ndarray, mask: np.ndarray | None = None, *, top_cut: bool = False) -> HeadEvidence | None:
    """Face share of the upper head of the person in ``labels`` (see the module docstring).

    labels: ``HxW`` uint8 ATR ids (a crop around the person is enough).
    mask: ``HxW`` bool pixels of the person; ``None`` takes every non-background pixel.
    top_cut: the person touches the top of the frame (the head may be outside it).
    Returns ``None`` when there is nothing to judge by.
    """
    if not isinstance(labels, np.ndarray) or labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError(f"labels must be an H x W uint8 array, got {getattr(labels, 'shape', type(labels).__name__)}")
    person = labels != 0 if mask is None else mask
    if person.shape != labels.shape:
        raise InputError(f"mask has shape {person.shape}, labels {labels.shape}")
    rows = np.flatnonzero(person.any(axis=1))
    if rows.size == 0:
        return None
    top, bottom = int(rows[0]), int(rows[-1])
    band_end = top + max(1, int(math.ceil(_HEAD_BAND * (bottom - top + 1))))
    lab = labels[top:band_end]
    per = person[top:band_end]
    head = _HEAD_LUT[lab] & per
    n_cc, cc, stats, _ = cv2.connectedComponentsWithStats(head.view(np.uint8), connectivity=8)
    if n_cc > 2:  # the head is one blob: a stray patch of "hair" above or beside it must not set the crown
        head = cc == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    n_head = int(np.count_nonzero(head))
    if n_head == 0:
        if top_cut:
            return None
        end = top + max(1, int(math.ceil(_HEADLESS_TOP * (bottom - top + 1))))
        zone = person[top:end]
        n_zone = int(np.count_nonzero(zone))
        if np.count_nonzero(_UPPER_LUT[labels[top:end]] & zone) < _HEADLESS_UPPER * n_zone:
            return None
        return HeadEvidence(0.0, n_zone, headless=True)
    widths = np.count_nonzero(head, axis=1)
    width = float(np.percentile(widths[widths > 0], 90))
    crown = int(np.flatnonzero(widths >= _CROWN_WIDTH * width)[0])
    zone_end = crown + max(1, int(math.ceil(_ZONE_HEIGHT * width)))
    zone_per = per[crown:zone_end]
    n_zone = int(np.count_nonzero(zone_per))
    zone = lab[crown:zone_end]
    face_mask = lab == FACE
    face = int(np.count_nonzero(face_mask[crown:zone_end] & zone_per))
    glasses = (zone == SUNGLASSES) & zone_per
    if glasses.any() and face_mask.any():  # sunglasses on a face (touching it) hide the eyes of a front view
        reach = max(1, int(round(_GLASSES_REACH * width)))
        near_face = cv2.dilate(face_mask.view(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
        n, cc = cv2.connectedComponents(glasses.view(np.uint8), connectivity=8)
        touching = np.unique(cc[(near_face[crown:zone_end] > 0) & glasses])
        face += int(np.count_nonzero(np.isin(cc, touching[touching > 0])))
    return HeadEvidence(face / n_zone if n_zone else 0.0, n_head)


def classify_head(evidence: HeadEvidence | None, options: FacingOptions) -> int | None:
    """+1 front, -1 back, 0 side (doubtful), ``None`` when the head is missing or too small."""
    if evidence is None or evidence.head_pixels < options.min_head_pixels:
        return None
    if evidence.share >= options.front_share:
        return 1
    if evidence.share <= options.back_share:
        return -1
    return 0


def observe_facing(
    face: Face | None, evidence: HeadEvidence | None, options: FacingOptions
) -> tuple[int | None, float]:
    """One frame's facing from the face detector and the head's labels: (+1 front, -1 back, 0 side or
    doubtful, ``None`` nothing to judge by) and a confidence in [0, 1].

    The detector decides where it is sure (a face seen: front, or side for a profile; no face: back),
    whatever the labels say: a parser trained on front views paints the back of a head as Face. Between
    ``face_back`` and ``face_front``, and where no head crop was scored, the labels' rule
    (:func:`classify_head`) decides.
    """
    if face is not None:
        mid = 0.5 * (options.face_front + options.face_back)
        half = max(0.5 * (options.face_front - options.face_back), 1e-6)
        if face.score >= options.face_front:
            conf = min(1.0, 0.5 + 0.5 * (face.score - mid) / max(1.0 - mid, 1e-6))
            return (0 if face.turn >= options.profile_turn else 1), conf
        if face.score < options.face_back:
            return -1, min(1.0, 0.5 + 0.5 * (mid - face.score) / max(mid, 1e-6))
        c = classify_head(evidence, options)  # a doubtful score: the labels decide, else the score leans
        if c in (None, 0):
            c = 1 if face.score >= mid else -1
        return c, 0.5 * abs(face.score - mid) / half
    c = classify_head(evidence, options)
    if c is None or evidence is None:
        return None, 0.0
    if c == 1:
        return c, min(1.0, 0.5 + evidence.share - options.front_share)
    if c == -1:
        return c, min(1.0, 0.5 + 5 * (options.back_share - evidence.share))
    return c, 0.25


@dataclass(frozen=True)
class HeadObservation:
    """What the people stage saw of one person's head in a frame, for the limb stage.

    Attributes:
        box: the person's pixel box ``(x0, y0, x1, y1)``.
        observation: +1 front, -1 back, 0 side or doubtful, ``None`` nothing seen (:func:`observe_facing`).
        share: where the observation is doubtful, a lean: >= ``front_share`` leans front, else back.
    """

    box: tuple[int, int, int, int]
    observation: int | None
    share: float


@dataclass(frozen=True)
class FacingState:
    """Hysteresis state of one person: ``facing`` +1 front, -1 back, 0 not known yet."""

    facing: int = 0
    contrary: int = 0  # consecutive frames of contrary evidence
    side_run: int = 0  # consecutive side (doubtful) frames


def facing_step(
    facing: int, contrary: int, observation: int, flip_frames: int, *, known: bool | None = None
) -> tuple[int, int]:
    """The hysteresis for one front (+1) or back (-1) ``observation``: the new ``(facing, contrary)``.

    While the facing is not ``known`` (by default: ``facing == 0``) the observation sets it; afterwards it
    changes on the ``flip_frames``-th consecutive contrary observation, and an agreeing one resets the count.
    """
    settled = facing != 0 if known is None else known
    if not settled or observation == facing:
        return observation, 0
    contrary += 1
    if contrary >= flip_frames:
        return observation, 0
    return facing, contrary


def update_facing(
    state: FacingState | None, observation: int | None, flip_frames: int, *, known: bool | None = None
) -> FacingState:
    """One frame of hysteresis: ``observation`` +1, -1, 0 (side) or ``None`` (not seen).

    known: whether ``state.facing`` is already decided (:func:`facing_step`; by default, when it is not 0).
    """
    s = state or FacingState()
    if observation is None:
        return s
    if observation == 0:
        return FacingState(s.facing, s.contrary, s.side_run + 1)
    facing, contrary = facing_step(s.facing, s.contrary, observation, flip_frames, known=known)
    return FacingState(facing, contrary, 0)


def facing_name(facing: int, side_run: int = 0, flip_frames: int = 1) -> str:
    """``"front"``, ``"back"``, ``"side"`` (a sustained profile) or ``"unknown"``."""
    if side_run >= flip_frames:
        return SIDE
    return FRONT if facing > 0 else BACK if facing < 0 else UNKNOWN


class FacingFilter:
    """Facing per tracked person with hysteresis; explicit state (``dict`` track id -> :class:`FacingState`).

    ``names, state = facing_filter.step({track_id: head_evidence}, state)``; tracks
    missing from the dict are forgotten.
    """

    def __init__(self, options: FacingOptions | None = None) -> None:
        if options is not None and not isinstance(options, FacingOptions):
            raise ConfigError(f"options must be FacingOptions, got {type(options).__name__}")
        self.options = options or FacingOptions()

    def step(
        self, evidence: dict[int, HeadEvidence | None], state: dict[int, FacingState] | None = None
    ) -> tuple[dict[int, str], dict[int, FacingState]]:
        """One frame from each track's head labels (:func:`head_evidence`)."""
        return self.step_observations({k: classify_head(ev, self.options) for k, ev in evidence.items()}, state)

    def step_observations(
        self, observations: dict[int, int | None], state: dict[int, FacingState] | None = None
    ) -> tuple[dict[int, str], dict[int, FacingState]]:
        """One frame from each track's observation (+1, -1, 0 or ``None``, e.g. :func:`observe_facing`)."""
        opt = self.options
        state = state or {}
        new_state: dict[int, FacingState] = {}
        names: dict[int, str] = {}
        for track, obs in observations.items():
            s = update_facing(state.get(track), obs, opt.flip_frames)
            new_state[track] = s
            names[track] = facing_name(s.facing, s.side_run, opt.flip_frames)
        return names, new_state
