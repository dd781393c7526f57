"""Each person's facing on the work grid: what the head shows, and the hysteresis over frames.

The hysteresis is :func:`~tryon_sdk.people.facing.update_facing`'s: the head's front/back frames go through
it as they do for :class:`~tryon_sdk.people.facing.FacingFilter`, except that a facing only guessed (from the
parser's votes or a doubtful head) does not count as known, so the first front/back head overrides it. A
person whose head has never been seen follows the parser's votes through the same hysteresis once warmed up.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..people.facing import FacingOptions, FacingState, classify_head, facing_step, head_evidence, update_facing
from ..people.person import box_iou
from .frame import LimbFrame
from .options import LimbOptions
from .regions import RegionGeometry
from .state import LimbState

__all__ = ["NO_HEAD", "PersonFacing", "head_observations", "update_persons"]

NO_HEAD = 2  # head observation of a person whose head gives no evidence


class PersonFacing(NamedTuple):
    """Per person (P+1, [0] the background): facing and the hysteresis counts (see :class:`~.state.LimbState`)."""

    facing: np.ndarray  # int64 +1 front, -1 back ([0] = 0 once updated)
    contrary: np.ndarray  # int32 consecutive frames of contrary evidence
    age: np.ndarray  # int32 frames with vote evidence
    evidence: np.ndarray  # float64 vote evidence summed during the warm-up
    head_age: np.ndarray  # int32 frames with a front/back head
    side_run: np.ndarray  # int32 consecutive side (doubtful head) frames
    polarity: np.ndarray  # int64 +1 votes follow own sides, -1 image position ([0] = 0 once updated)

    def from_behind(self, flip_frames: int) -> np.ndarray:
        """(P+1,) bool: seen from behind by the head (hair only, not a sustained profile)."""
        return (self.head_age > 0) & (self.side_run < flip_frames) & (self.facing == -1)


def head_observations(frame: LimbFrame, head: FacingOptions | None) -> tuple[np.ndarray, np.ndarray]:
    """Per person ((P+1,) each): head says +1 front, -1 back, 0 side, :data:`NO_HEAD` nothing (int8); and the
    Face share of its head zone (float64, NaN where not measured).

    From the people stage's observation of the person where there is one (``frame.heads``), else measured on
    the full-resolution labels in the person's box (a mirrored frame gives the same answer).
    """
    n = len(frame.person_area)
    obs = np.full(n, NO_HEAD, np.int8)
    share = np.full(n, np.nan)
    if head is None:
        return obs, share
    s, heads = frame.stride, frame.heads
    for p in np.flatnonzero(frame.person_area * s * s >= head.min_head_pixels):
        if p == 0:
            continue
        x, y, w, h = (int(v) for v in frame.person_stats[p, :4])
        rows, cols = frame.grid.pixels(y, y + h, x, x + w)
        if heads:
            box = (cols.start, rows.start, cols.stop, rows.stop)
            best = max(heads, key=lambda o: box_iou(box, o.box))
            if box_iou(box, best.box) > 0.3:
                if best.observation is not None:
                    obs[p], share[p] = best.observation, best.share
                continue
        ev = head_evidence(frame.labels[rows, cols], top_cut=y == 0)
        c = classify_head(ev, head)
        if c is not None:
            obs[p], share[p] = c, ev.share  # type: ignore[union-attr]
    return obs, share


def carried_facing(frame: LimbFrame, state: LimbState | None) -> PersonFacing:
    """Each person's facing and counts from the previous frame's person it overlaps most (fresh when none)."""
    n = frame.n_persons
    if state is None or n <= 1:
        ones, zeros = np.ones(n, np.int64), np.zeros(n, np.int32)
        return PersonFacing(ones, zeros, zeros.copy(), np.zeros(n, np.float64), zeros.copy(), zeros.copy(), ones.copy())
    prev = state.persons.ravel()[frame.fg_idx]
    cur = frame.persons.ravel()[frame.fg_idx]
    n_prev = len(state.person_facing)
    overlap = np.bincount(prev * n + cur, minlength=n_prev * n).reshape(n_prev, n)
    overlap[0, :] = 0
    best = overlap.argmax(axis=0)
    seen = overlap.max(axis=0) > 0

    def carry(values: np.ndarray | None, default, dtype) -> np.ndarray:
        if values is None:
            return np.full(n, default, dtype)
        return np.where(seen, values[best], default).astype(dtype)

    return PersonFacing(
        facing=carry(state.person_facing, 1, np.int64),
        contrary=carry(state.person_contrary, 0, np.int32),
        age=carry(state.person_age, 0, np.int32),
        evidence=carry(state.person_evidence, 0.0, np.float64),
        head_age=carry(state.person_head_age, 0, np.int32),
        side_run=carry(state.person_side_run, 0, np.int32),
        polarity=carry(state.person_polarity, 1, np.int64),
    )


def update_persons(
    frame: LimbFrame, state: LimbState | None, geo: RegionGeometry, heads: tuple[np.ndarray, np.ndarray], options: LimbOptions
) -> PersonFacing:
    """This frame's facing and vote polarity per person, from the previous frame's (``state``), the head
    observations (:func:`head_observations`) and the parser's votes (``geo``)."""
    people = carried_facing(frame, state)
    weight = np.bincount(geo.person, weights=geo.area, minlength=frame.n_persons)
    signed = np.bincount(geo.person, weights=geo.area * geo.vote * geo.offset, minlength=frame.n_persons)
    with np.errstate(invalid="ignore", divide="ignore"):
        evidence = np.nan_to_num(signed / weight)
    head_obs, head_share = heads
    doubt_mid = 0.5 * (options.head.front_share + options.head.back_share) if options.head is not None else np.nan
    for p in range(1, frame.n_persons):
        h = int(head_obs[p])
        if h != NO_HEAD:
            _head_step(people, p, h, bool(head_share[p] >= doubt_mid), options.flip_frames)
        elif people.head_age[p] == 0:  # no head ever seen: the parser's votes decide
            _vote_step(people, p, evidence[p], options)
    # the parser's vote convention, relative to the facing the head decided (votes alone define +1)
    facing, polarity = people.facing, people.polarity
    known = (people.head_age > 0) | (people.side_run > 0)
    strong = np.abs(evidence) >= options.min_evidence
    polarity = np.where(known & strong, np.where(evidence * facing > 0, 1, -1), np.where(known, polarity, 1))
    facing[0] = 0
    polarity[0] = 0
    return people._replace(polarity=polarity)


def _head_step(people: PersonFacing, p: int, h: int, leans_front: bool, flip_frames: int) -> None:
    """Person ``p``'s head says ``h`` (+1 front, -1 back: the head decides; 0 a profile or a doubtful head: no
    evidence, but ``leans_front`` or not), in place. The first front/back head overrides a facing guessed so far."""
    known = bool(people.head_age[p] > 0)
    before = FacingState(int(people.facing[p]), int(people.contrary[p]), int(people.side_run[p]))
    after = update_facing(before, h, flip_frames, known=known)
    people.facing[p], people.contrary[p], people.side_run[p] = after.facing, after.contrary, after.side_run
    if h != 0:
        people.head_age[p] += 1
    elif not known and people.age[p] == 0:  # nothing known yet: lean on the weak head cue
        people.facing[p] = 1 if leans_front else -1


def _vote_step(people: PersonFacing, p: int, e: float, options: LimbOptions) -> None:
    """Person ``p``, whose head has never been seen, with vote evidence ``e`` this frame, in place: during the
    first ``flip_frames`` frames of evidence the facing follows its sum, then the hysteresis."""
    if abs(e) < options.min_evidence:
        return
    if people.age[p] < options.flip_frames:  # warm-up: follow the evidence so far
        people.age[p] += 1
        people.evidence[p] += e
        if people.evidence[p] != 0:
            people.facing[p] = 1 if people.evidence[p] > 0 else -1
        people.contrary[p] = 0
        return
    observation = 1 if e > 0 else -1
    people.facing[p], people.contrary[p] = facing_step(
        int(people.facing[p]), int(people.contrary[p]), observation, options.flip_frames, known=True
    )
