"""Deciding each limb region's side: tracks over frames, the score ``f * o + t + p * v`` and the pairs."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .facing import PersonFacing
from .frame import LimbFrame, Regions
from .regions import RegionGeometry
from .state import LimbState

__all__ = ["RegionSides", "decide_sides", "pick_sides", "track_sides"]

_TRACK_VOTE = 0.2  # |vote| under which a frame neither confirms nor contradicts a track
_PAIR_OFFSET_GAP = 0.5  # offsets this far apart: two limbs, not two pieces of one
_GEOMETRY_MIN_OFFSET = 0.1  # |offset at its height| from which a limb of a person seen from behind is placed outright
_GEOMETRY_WEIGHT = 3.0  # outweighs track + vote (each at most 1)


class RegionSides(NamedTuple):
    """Per region (R+1, [0] unused): what the state keeps of the decision."""

    pair: np.ndarray  # int32 1-based pair index
    side: np.ndarray  # int64 +1 left, -1 right ([0] = 0), in the parser's visual convention
    contrary: np.ndarray  # int32 consecutive frames the votes contradicted the side
    centroid: np.ndarray  # (R+1, 2) float64 x, y in work-grid cells


def decide_sides(
    frame: LimbFrame, state: LimbState | None, regions: Regions, geo: RegionGeometry, people: PersonFacing, flip_frames: int
) -> RegionSides:
    """Each region's side from geometry given its person's facing, its track and the parser's vote."""
    person_of = geo.person
    vote = people.polarity[person_of] * geo.vote  # in the person's own sides, whatever the parser's habit
    # Seen from behind (the head shows hair only), a limb's side is where it lies: the parser learnt
    # sides on front views and its votes scatter on back views. Front views keep trusting the votes.
    placed = people.from_behind(flip_frames)[person_of] & (np.abs(geo.offset_at_height) >= _GEOMETRY_MIN_OFFSET)
    old_side, contrary = track_sides(frame, state, regions, geo, vote)
    track = np.where(contrary >= flip_frames, -old_side, old_side)
    score = people.facing[person_of] * geo.offset + track + vote
    score = np.where(placed, _GEOMETRY_WEIGHT * people.facing[person_of] * np.sign(geo.offset_at_height), 0.0) + score
    side = pick_sides(score, track, geo, regions.pair)
    contrary = np.where(side == -old_side, 0, contrary).astype(np.int32)  # the side changed: start afresh
    contrary[0] = 0
    return RegionSides(regions.pair, side, contrary, np.stack([geo.cx, geo.cy], axis=1))


def track_sides(
    frame: LimbFrame, state: LimbState | None, regions: Regions, geo: RegionGeometry, vote: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per region ((R+1,) each): the side of its track (+1, -1, 0 when new; float64) and the updated
    contrary-vote count (int32), given its corrected ``vote`` (float64)."""
    rid, region_pair = regions
    n = len(region_pair)
    if state is None or n <= 1 or len(state.region_pair) <= 1:
        return np.zeros(n, np.float64), np.zeros(n, np.int32)
    n_prev = len(state.region_pair)
    prev = state.regions.ravel()[frame.cells.idx]
    overlap = np.bincount(prev * n + rid, minlength=n_prev * n).reshape(n_prev, n)
    overlap[0, :] = 0
    overlap[state.region_pair[:, None] != region_pair[None, :]] = 0
    best = overlap.argmax(axis=0)
    matched = overlap.max(axis=0) > 0
    matched[0] = False
    # regions that moved off their old footprint: nearest old region of the same pair within reach
    for j in np.flatnonzero(~matched[1:]) + 1:
        same = np.flatnonzero(state.region_pair == region_pair[j])
        if same.size == 0:
            continue
        d = np.hypot(state.region_centroid[same, 0] - geo.cx[j], state.region_centroid[same, 1] - geo.cy[j])
        k = int(np.argmin(d))
        if d[k] <= 3.0 + 2.0 * math.sqrt(geo.area[j]):
            best[j], matched[j] = same[k], True
    old_side = np.where(matched, state.region_side[best], 0).astype(np.float64)
    old_contrary = np.where(matched, state.region_contrary[best], 0)
    agree = old_side * vote
    contrary = np.where(agree < -_TRACK_VOTE, old_contrary + 1, np.where(agree > _TRACK_VOTE, 0, old_contrary))
    return old_side, contrary.astype(np.int32)


def pick_sides(score: np.ndarray, track: np.ndarray, geo: RegionGeometry, region_pair: np.ndarray) -> np.ndarray:
    """Side per region ((R+1,) int64: +1 left, -1 right; [0] = 0) from its ``score`` and ``track`` (float64):
    the two largest regions of a pair of one person take opposite sides, unless they look like two pieces of
    one limb; any other region takes the sign of its score."""
    side = np.where(score >= 0, 1, -1).astype(np.int64)
    side[0] = 0
    n = len(region_pair)
    if n <= 2:
        return side
    offset, area = geo.offset, geo.area
    key = geo.person[1:] * (int(region_pair.max()) + 1) + region_pair[1:]
    order = np.lexsort((-area[1:], key))  # by person and pair, largest region first
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    for a0, a1 in zip(starts, ends, strict=True):
        if a1 - a0 < 2:
            continue
        i, j = order[a0] + 1, order[a0 + 1] + 1  # the two largest limbs; specks decide alone
        if abs(offset[i] - offset[j]) < _PAIR_OFFSET_GAP and track[i] * track[j] >= 0:
            continue  # likely two pieces of one limb
        first = score[i] > score[j] or (score[i] == score[j] and offset[i] >= offset[j])
        side[i], side[j] = (1, -1) if first else (-1, 1)
    return side
