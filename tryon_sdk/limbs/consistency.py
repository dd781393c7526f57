"""Left/right limb consistency over video: sides from the way each person faces.

Left and right are the person's own sides (see :mod:`tryon_sdk.labels`): a
person facing the camera has the left limbs on the image's right, seen from
the back on the image's left. Parsers trained on front views keep labelling
by image position on back views (the left arm is whatever is on the image's
right), get a frame or two wrong, or label one arm half left, half right.
:class:`LimbConsistency` relabels the limb pairs (shoes 9/10, legs 12/13,
arms 14/15) of each frame so that:

1. every connected limb region gets one side;
2. the two limbs of a pair get opposite sides when both are visible;
3. each person's sides follow the way the person faces, decided from the
   head (face visible or hair only, :mod:`tryon_sdk.people.facing`), so that back
   views get the person's own sides whatever the parser's habit;
4. over time a limb keeps its side, which changes only on sustained
   evidence (the person turning round), never for a frame or two.

Algorithm, per frame, on a grid ``work_stride`` times coarser, sampled at its cells' centres (mirror-
symmetrically: a mirrored frame gives the mirrored grid):

* **Persons.** Connected components of the foreground after bridging gaps of
  ``person_gap`` cells. Per person: the centre line and the spread (std) of
  the x of its non-limb cells (torso, head, clothes), and, per region, the
  *centre line at the region's height*: the mean x of the person's non-limb
  cells in the region's rows (trousers around the legs, the torso beside the
  arms), or the whole body's line when there are fewer of them than half the
  region's cells (bare legs, a shoe below the hem).
* **Regions.** Connected components (8-connectivity) of the union of each
  pair's two classes. A region whose left and right parts sit side by side (a
  vertical line separates them, they overlap in height, neither is over twice
  as wide as tall, each holds a quarter or more: two legs or shoes standing
  together) is split in two; so is a leg or shoe region (``centre_split``) of
  a person seen from behind that straddles the centre line at its height with
  a quarter or more on each side (two legs the parser called one). Any other
  region is one limb.
* **Votes.** Per region, ``v = (L - R) / (L + R)`` in [-1, 1] from its left
  and right pixel counts, or its probability mass when ``probabilities`` are
  given. Its *offset* ``o = clip((x_region - x_centre) / spread, -1, 1)``:
  -1 well on the image's left, +1 well on its right, ~0 on the centre line;
  ``o_h`` likewise from the centre line at its height.
* **Facing** ``f`` (+1 front, -1 back), per person, tracked by overlap from
  frame to frame:

  - *head* (``LimbOptions.head``, on by default): the Face share of the upper
    head (:func:`~tryon_sdk.people.facing.head_evidence`) says front, back, or
    side/doubtful. The first front/back frame sets ``f``; afterwards ``f``
    flips only after ``flip_frames`` consecutive contrary frames; side frames
    count for nothing.
  - *body*, only for a person whose head has never been seen (legs-only
    crops, ``head=None``): the parser's own votes, ``E = sum(area * v * o) /
    sum(area)`` (+1 when the left-labelled limbs are on the image's right),
    with the same hysteresis; frames with ``|E| < min_evidence`` don't count,
    and during the first ``flip_frames`` frames of evidence ``f`` follows
    their sum.
* **Vote polarity** ``p`` per person: whether the parser's votes follow the
  person's own sides (+1) or image position as on a front view (-1):
  ``p = sign(E * f)`` on frames with ``|E| >= min_evidence``, else the last
  value (+1 at first). Every vote below is ``p * v``: a front-view parser on a
  back view still tells which limb is further left, just with the names the
  other way round.
* **Tracks.** Each region is matched to the region of the same pair it
  overlaps most in the previous frame (or the nearest one within reach) and
  inherits its side ``t`` (+1 left, -1 right, 0 when new). A track whose
  corrected votes contradict its side for ``flip_frames`` consecutive frames
  switches ``t`` (a lone limb that the parser consistently calls the other
  side).
* **Decision.** Score ``S = f * o + t + p * v`` (geometry given the facing,
  history, the parser's vote; equal weights, so any two outvote the third: a
  one-frame swap loses to geometry + history, a turn is followed once the
  facing flips, because the geometry and the corrected vote flip together).
  For a person seen from behind (the head shows hair only, not a sustained
  profile), a region off the centre line at its height (``|o_h| >= 0.1``) is
  placed by geometry alone: ``3 * f * sign(o_h)`` is added, which track and
  vote cannot outweigh, so a back view gets its own sides however the parser's
  votes scatter (it learnt sides on front views; there its votes are kept,
  since they know crossed legs and arms in front of the body). The two regions
  of a pair of one person (with more, the two largest) get opposite sides, the
  higher score taking left, unless they look like two pieces of one limb
  (offsets less than 0.5 apart and not on different tracks); all other regions
  take ``sign(S)``.
* **Relabel** every full-resolution pixel of the pair with its region's side
  (looked up through the work grid, dilated by one cell to reach thin parts,
  from a region of the same pair only). A pixel no region reaches (a sliver
  thinner than the stride, between the samples) takes the side of the nearest
  reached pixel of the limb it is connected to at full resolution, so that
  rule 1 holds for the pixels too; a sliver touching no limb keeps its label.

Mirrored frames (a selfie preview): the parser labels sides as they look,
i.e. as if the frame were not mirrored; the person's own sides are the other
way round. With ``LimbConsistency(options, mirrored=True)`` the decided sides are swapped
on output, so that, as in a mirror, a person facing the camera has the left
limbs on the image's *left*. The facing in the state is the physical one
(the head looks the same in a mirror).

Several people: each foreground component is a person with its own facing
(people touching one another merge into one and share it). State is explicit
(``labels, state = fixer.step(labels, state)``, ``state=None`` first); a
fixer keeps nothing between calls, so it can serve any number of streams.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import cv2
import numpy as np
import torch

from ..errors import ConfigError, InputError
from ..people.facing import FacingOptions, HeadObservation, classify_head, facing_name, head_evidence
from ..people.person import box_iou
from ..labels import FLIP_PAIRS
from ..resample import GridScores, centre_samples

__all__ = ["LimbOptions", "LimbState", "LimbConsistency"]

_SPLIT_MIN_SHARE = 0.25  # each side holds at least this share of a region to consider a split
_SPLIT_MIN_CELLS = 8
_SPLIT_AGREEMENT = 0.85  # share of pixels a vertical line must put on their own side
_SPLIT_Y_OVERLAP = 0.5  # the two parts overlap over this share of the shorter one's height
_SPLIT_MAX_ASPECT = 2.0  # each part at most this many times wider than tall
_TRACK_VOTE = 0.2  # |vote| under which a frame neither confirms nor contradicts a track
_PAIR_OFFSET_GAP = 0.5  # offsets this far apart: two limbs, not two pieces of one
_GEOMETRY_MIN_OFFSET = 0.1  # |offset at its height| from which a limb of a person seen from behind is placed outright
_GEOMETRY_WEIGHT = 3.0  # outweighs track + vote (each at most 1)
_BAND_MIN_CELLS = 4  # body cells at a limb's height from which they, not the whole body, give the centre line
_BAND_MIN_SHARE = 0.5  # ... and at least this share of the limb's own cells


class _BodyRows(NamedTuple):
    """Per person: cumulative per-row count and sum of x of its non-limb cells (P x h+1); whole-body
    centre and spread (P)."""

    count: np.ndarray
    sum_x: np.ndarray
    centre: np.ndarray
    spread: np.ndarray


class _Regions(NamedTuple):
    """Per region (index 0 unused): cell count, vote in [-1, 1], centroid x and y, person, and its offset in
    [-1, 1] from the whole body's centre line and from the centre line at the region's height."""

    area: np.ndarray
    vote: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    person: np.ndarray
    offset: np.ndarray
    offset_at_height: np.ndarray


class _Axis(NamedTuple):
    """One axis of the work grid: the pixel each cell samples, each pixel's cell, each cell's pixel span."""

    sample: np.ndarray  # (n_cells,) int64 pixel index sampled by each cell
    cell: np.ndarray  # (n_pixels,) int64 cell of each pixel (its nearest sample)
    start: np.ndarray  # (n_cells,) first pixel of each cell
    stop: np.ndarray  # (n_cells,) one past its last pixel


def _grid_axis(n: int, s: int) -> _Axis:
    """``ceil(n / s)`` cells over ``n`` pixels, mirror-symmetric (:func:`~tryon_sdk.resample.centre_samples`):
    each cell samples the pixel at its centre; a pixel belongs to the nearest sample, ties going towards the
    middle, so cell ``k`` from the end is cell ``k`` from the start mirrored."""
    sample = centre_samples(n, s)
    m = len(sample)
    p = np.arange(n)
    hi = np.clip(np.searchsorted(sample, p), 1, max(m - 1, 1)) if m > 1 else np.zeros(n, np.int64)
    lo = np.maximum(hi - 1, 0)
    d_lo, d_hi = np.abs(p - sample[lo]), np.abs(sample[hi] - p)
    towards_middle = np.where(p < (n - 1) / 2, hi, lo)
    cell = np.where(d_lo < d_hi, lo, np.where(d_hi < d_lo, hi, towards_middle))
    start = np.searchsorted(cell, np.arange(m), side="left")
    stop = np.searchsorted(cell, np.arange(m), side="right")
    return _Axis(sample, cell, start, stop)


class _Grid(NamedTuple):
    rows: _Axis
    cols: _Axis

    @staticmethod
    def of(shape: tuple[int, int], s: int) -> "_Grid":
        return _Grid(_grid_axis(shape[0], s), _grid_axis(shape[1], s))

    def cells(self, box: tuple[int, int, int, int]) -> tuple[slice, slice]:
        """The cells covering a pixel box ``(x0, y0, x1, y1)`` (exclusive ends, inside the image)."""
        x0, y0, x1, y1 = box
        return (
            slice(int(self.rows.cell[y0]), int(self.rows.cell[max(y1 - 1, y0)]) + 1),
            slice(int(self.cols.cell[x0]), int(self.cols.cell[max(x1 - 1, x0)]) + 1),
        )

    def pixels(self, y0: int, y1: int, x0: int, x1: int) -> tuple[slice, slice]:
        """The pixels of cells ``y0..y1-1`` x ``x0..x1-1``."""
        return (
            slice(int(self.rows.start[y0]), int(self.rows.stop[y1 - 1])),
            slice(int(self.cols.start[x0]), int(self.cols.stop[x1 - 1])),
        )


def _region_rows(rid: np.ndarray, ys: np.ndarray, person: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per region: first and last work-grid row, and its person (all cells of a region share one)."""
    y0 = np.zeros(n, np.int64)
    y1 = np.zeros(n, np.int64)
    owner = np.zeros(n, np.int64)
    if rid.size:
        y0[:] = ys.max()
        np.minimum.at(y0, rid, ys)
        np.maximum.at(y1, rid, ys)
        owner[rid] = person
    y0[0] = y1[0] = 0
    return y0, y1, owner


@dataclass(frozen=True)
class LimbOptions:
    """Options of :class:`LimbConsistency` (validated on construction).

    flip_frames: consecutive frames of contrary evidence before a person's
        facing (or a lone limb's side) changes, 1..1000.
    work_stride: analysis runs on every n-th pixel in each direction, 1..8;
        None picks ``clip(min(H, W) // 96, 1, 8)`` (4 at 512x384).
    min_evidence: |facing evidence| in (0, 1) under which a frame does not
        count towards a facing change.
    split_touching: split a region holding two side-by-side limbs.
    centre_split: pairs (legs and shoes by default) whose regions straddling
        the centre line of a person seen from behind are split there (two
        limbs standing together); each must be one of ``pairs``. Only with
        ``split_touching``.
    person_gap: gap in work-grid cells bridged when grouping body parts into
        persons, 0..16.
    pairs: (left, right) class ids, 0..255, each class in one pair at most.
    head: thresholds of the head-based facing (:class:`~tryon_sdk.people.facing.FacingOptions`;
        its ``flip_frames`` is not used: ``flip_frames`` above rules), or None
        to take the facing from the parser's votes only.
    """

    flip_frames: int = 5
    work_stride: int | None = None
    min_evidence: float = 0.2
    split_touching: bool = True
    centre_split: tuple[tuple[int, int], ...] = ((9, 10), (12, 13))
    person_gap: int = 2
    pairs: tuple[tuple[int, int], ...] = FLIP_PAIRS
    head: FacingOptions | None = FacingOptions()

    def __post_init__(self) -> None:
        def bad(name: str, valid: str) -> ConfigError:
            return ConfigError(f"LimbOptions.{name}={getattr(self, name)!r} is not valid; valid: {valid}")

        for name in ("split_touching",):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "True or False")
        for name, lo, hi in (("flip_frames", 1, 1000), ("work_stride", 1, 8), ("person_gap", 0, 16)):
            value = getattr(self, name)
            if name == "work_stride" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise bad(name, f"an integer {lo}..{hi}")
        ev = self.min_evidence
        if isinstance(ev, bool) or not isinstance(ev, (int, float)) or not (math.isfinite(ev) and 0.0 < ev < 1.0):
            raise bad("min_evidence", "a number 0 < min_evidence < 1")
        try:
            flat = [c for pair in self.pairs for c in pair]
            ok = len(flat) > 0 and all(len(pair) == 2 for pair in self.pairs)
        except TypeError:
            flat, ok = [], False
        ok = ok and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in flat)
        if not ok or len(set(flat)) != len(flat) or any(not 0 <= c <= 255 for c in flat):
            raise bad("pairs", "a non-empty tuple of (left, right) class ids 0..255, each class once")
        object.__setattr__(self, "pairs", tuple((int(a), int(b)) for a, b in self.pairs))
        try:
            centre = tuple((int(a), int(b)) for a, b in self.centre_split)
        except (TypeError, ValueError):
            centre = None
        if centre is None or any(pair not in self.pairs for pair in centre):
            raise bad("centre_split", f"a tuple of pairs from {self.pairs}")
        object.__setattr__(self, "centre_split", centre)
        if self.head is not None and not isinstance(self.head, FacingOptions):
            raise bad("head", "a tryon_sdk.people.facing.FacingOptions or None")

    def replace(self, **changes) -> LimbOptions:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not states
class LimbState:
    """What :class:`LimbConsistency` carries from one frame to the next.

    Region arrays are indexed by region id (0 = none); person arrays by
    person id (0 = background). Sides are in the parser's visual convention
    (before the ``mirrored`` swap): side +1 left, -1 right. Facing is
    physical: +1 front (facing the camera), -1 back.
    """

    shape: tuple[int, int]  # H, W of the label maps
    regions: np.ndarray  # h x w int32 work-grid region ids
    region_side: np.ndarray  # (R+1,) int8
    region_contrary: np.ndarray  # (R+1,) int32, consecutive frames the votes contradicted the side
    region_pair: np.ndarray  # (R+1,) int32, 1-based pair index
    region_centroid: np.ndarray  # (R+1, 2) float64, x, y in work-grid cells
    persons: np.ndarray  # h x w int32 work-grid person ids
    person_area: np.ndarray  # (P+1,) int64 cells
    person_facing: np.ndarray  # (P+1,) int8
    person_contrary: np.ndarray  # (P+1,) int32, consecutive frames of contrary evidence
    person_age: np.ndarray  # (P+1,) int32, frames with evidence (warm-up while < flip_frames)
    person_evidence: np.ndarray  # (P+1,) float64, evidence summed during the warm-up
    frames: int  # frames seen
    person_head_age: np.ndarray | None = None  # (P+1,) int32, frames with a front/back head
    person_side_run: np.ndarray | None = None  # (P+1,) int32, consecutive side (doubtful head) frames
    person_polarity: np.ndarray | None = None  # (P+1,) int8, +1 votes follow own sides, -1 image position
    person_box: np.ndarray | None = None  # (P+1, 4) int32 work-grid x0, y0, x1, y1 (exclusive)
    stride: int = 1  # work-grid step in label-map pixels
    grid: "_Grid | None" = None  # the work grid's cells (mirror-symmetric sampling)

    @property
    def facing(self) -> int | None:
        """Facing of the largest person: +1 front, -1 back, None when nobody is visible."""
        if self.person_area.size <= 1:
            return None
        return int(self.person_facing[1 + int(np.argmax(self.person_area[1:]))])

    def facing_in(self, box: tuple[int, int, int, int], flip_frames: int = 1) -> str:
        """Facing (``"front"``, ``"back"``, ``"side"``, ``"unknown"``) of the person covering most of a
        label-map box ``(x0, y0, x1, y1)``."""
        H, W = self.shape
        x0, y0, x1, y1 = (int(v) for v in box)
        x0, y0, x1, y1 = min(max(x0, 0), W - 1), min(max(y0, 0), H - 1), min(max(x1, 1), W), min(max(y1, 1), H)
        grid = self.grid if self.grid is not None else _Grid.of(self.shape, self.stride)
        sub = self.persons[grid.cells((x0, y0, x1, y1))]
        counts = np.bincount(sub.ravel(), minlength=len(self.person_facing))
        counts[0] = 0
        if counts.sum() == 0:
            return facing_name(0)
        p = int(np.argmax(counts))
        age = self.person_age[p] + (self.person_head_age[p] if self.person_head_age is not None else 0)
        side = int(self.person_side_run[p]) if self.person_side_run is not None else 0
        return facing_name(int(self.person_facing[p]) if age > 0 else 0, side, flip_frames)


def _as_labels(labels: np.ndarray | torch.Tensor) -> np.ndarray:
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.dtype != np.uint8:
        desc = f"shape {arr.shape} dtype {arr.dtype}" if isinstance(arr, np.ndarray) else type(labels).__name__
        raise InputError(f"labels must be an H x W uint8 array or tensor, got {desc}")
    return np.ascontiguousarray(arr)


class LimbConsistency:
    """Makes the left/right limb labels of a video consistent; see the module docstring.

    ``labels_fixed, state = fixer.step(labels, state)`` per frame, ``state=None`` first.
    ``mirrored``: the frames are mirror images (selfie preview); see the module docstring.
    """

    def __init__(self, options: LimbOptions | None = None, *, mirrored: bool = False) -> None:
        if options is not None and not isinstance(options, LimbOptions):
            raise ConfigError(f"options must be LimbOptions, got {type(options).__name__}")
        if not isinstance(mirrored, bool):
            raise ConfigError(f"LimbConsistency mirrored={mirrored!r} is not valid; valid: True or False")
        self.mirrored = mirrored
        self.options = opt = options or LimbOptions()
        n = len(opt.pairs)
        self._pair_lut = np.zeros(256, np.uint8)  # class -> 1-based pair index
        self._side_lut = np.zeros(256, np.int8)  # class -> +1 left, -1 right
        for k, (left, right) in enumerate(opt.pairs, start=1):
            self._pair_lut[left] = self._pair_lut[right] = k
            self._side_lut[left], self._side_lut[right] = 1, -1
        self._left = np.array([0] + [a for a, _ in opt.pairs], np.uint8)
        self._right = np.array([0] + [b for _, b in opt.pairs], np.uint8)
        self._n_pairs = n
        self._centre_split = np.array([False] + [pair in opt.centre_split for pair in opt.pairs])
        g = opt.person_gap
        self._gap_kernel = np.ones((2 * g + 1, 2 * g + 1), np.uint8) if g else None

    def step(
        self,
        labels: np.ndarray | torch.Tensor,
        state: LimbState | None = None,
        probabilities: np.ndarray | torch.Tensor | GridScores | None = None,
        heads: Sequence[HeadObservation] | None = None,
    ) -> tuple[np.ndarray | torch.Tensor, LimbState]:
        """Fix one frame.

        labels: H x W uint8 label map (numpy or torch; the result has the same type).
        state: the state returned for the previous frame of this stream, or None.
        probabilities: optional C x H x W class probabilities of the frame (or :class:`GridScores` of it);
            when given, votes weigh probability mass instead of counting pixels.
        heads: the people stage's facing observations (:class:`~tryon_sdk.people.facing.HeadObservation`,
            from a face detector); a person overlapping one (box IoU > 0.3) takes it instead of the
            head rule on the labels.

        Returns the fixed H x W uint8 labels (a new array) and the new state.
        """
        opt = self.options
        lab = _as_labels(labels)
        H, W = lab.shape
        probs = self._check_probs(probabilities, lab.shape, int(self._left.max(initial=0)), int(self._right.max()))
        s = self._stride(lab.shape)
        grid = _Grid.of((H, W), s)
        small = np.ascontiguousarray(lab.take(grid.rows.sample, axis=0).take(grid.cols.sample, axis=1))
        h, w = small.shape
        if state is not None and (state.shape != (H, W) or state.regions.shape != (h, w)):
            state = None  # another size (or a state from a fixer with another grid): start afresh
        pair_small = cv2.LUT(small, self._pair_lut)

        # -- persons and their centre lines ------------------------------------------------------------------
        fg_bool = small != 0
        fg = fg_bool.view(np.uint8)
        bridged = cv2.dilate(fg, self._gap_kernel) if self._gap_kernel is not None else fg
        n_persons, persons, pstats, _ = cv2.connectedComponentsWithStats(bridged, connectivity=8, ltype=cv2.CV_32S)
        body = self._body_rows(small, pair_small, persons, n_persons)

        # -- regions, their votes and geometry ----------------------------------------------------------------
        regions, region_pair = self._regions(pair_small)
        idx = np.flatnonzero(regions != 0)  # flatnonzero is several times faster on bool
        rid = regions.ravel()[idx]
        side_raw = self._side_lut[small.ravel()[idx]]
        ys, xs = np.divmod(idx, w)
        cell_person = persons.ravel()[idx]
        if opt.split_touching and idx.size:
            rid, region_pair = self._split_touching(rid, region_pair, side_raw, xs, ys)
        geo = self._region_geometry(rid, len(region_pair), xs, ys, side_raw, cell_person, pair_small, idx, probs, grid, body)

        # -- facing evidence and hysteresis -------------------------------------------------------------------
        fidx = np.flatnonzero(fg_bool)
        person_area = np.bincount(persons.ravel()[fidx], minlength=n_persons)
        head_obs, head_share = self._head_observations(lab, s, grid, persons, pstats, person_area, heads)
        facing, p_contrary, p_age, p_evidence, head_age, side_run, polarity = self._update_facing(
            state, persons, fidx, n_persons, geo.area, geo.vote, geo.offset, geo.person, head_obs, head_share
        )
        # Seen from behind (the head shows hair only), a limb's side is where it lies: the parser learnt
        # sides on front views and its votes scatter on back views. Front views keep trusting the votes.
        from_behind = (head_age > 0) & (side_run < opt.flip_frames) & (facing == -1)
        if opt.split_touching and idx.size and from_behind.any():
            split_rid, split_pair = self._split_at_centre(rid, region_pair, xs, ys, cell_person, body, from_behind)
            if len(split_pair) != len(region_pair):
                rid, region_pair = split_rid, split_pair
                geo = self._region_geometry(rid, len(region_pair), xs, ys, side_raw, cell_person, pair_small, idx, probs, grid, body)
        if opt.split_touching and idx.size:
            regions.ravel()[idx] = rid
        area, cx, cy, offset, person_of = geo.area, geo.cx, geo.cy, geo.offset, geo.person
        n_reg = len(region_pair) - 1
        vote = polarity[person_of] * geo.vote  # in the person's own sides, whatever the parser's habit
        placed = from_behind[person_of] & (np.abs(geo.offset_at_height) >= _GEOMETRY_MIN_OFFSET)

        # -- tracks and decision ------------------------------------------------------------------------------
        old_side, r_contrary = self._track(state, idx, rid, region_pair, area, cx, cy, vote)
        track = np.where(r_contrary >= opt.flip_frames, -old_side, old_side)
        score = facing[person_of] * offset + track + vote
        score = np.where(placed, _GEOMETRY_WEIGHT * facing[person_of] * np.sign(geo.offset_at_height), 0.0) + score
        side = self._decide(score, offset, track, area, region_pair, person_of)
        r_contrary = np.where(side == -old_side, 0, r_contrary).astype(np.int32)  # the side changed: start afresh
        r_contrary[0] = 0

        out_side = -side if self.mirrored else side
        n_left_cells = np.bincount(rid, weights=side_raw > 0, minlength=n_reg + 1)
        need = np.where(out_side > 0, area - n_left_cells, np.where(out_side < 0, n_left_cells, 0)) > 0
        fixed = self._relabel(lab, regions, region_pair, out_side, need, xs, ys, rid, s, grid)
        new_state = LimbState(
            shape=(H, W),
            regions=regions,
            region_side=side.astype(np.int8),
            region_contrary=r_contrary,
            region_pair=region_pair,
            region_centroid=np.stack([cx, cy], axis=1),
            persons=persons,
            person_area=person_area,
            person_facing=facing.astype(np.int8),
            person_contrary=p_contrary,
            person_age=p_age,
            person_evidence=p_evidence,
            frames=(state.frames if state is not None else 0) + 1,
            person_head_age=head_age,
            person_side_run=side_run,
            person_polarity=polarity.astype(np.int8),
            person_box=np.stack(
                [pstats[:, 0], pstats[:, 1], pstats[:, 0] + pstats[:, 2], pstats[:, 1] + pstats[:, 3]], axis=1
            ).astype(np.int32),
            stride=s,
            grid=grid,
        )
        if isinstance(labels, torch.Tensor):
            return torch.from_numpy(fixed), new_state
        return fixed, new_state

    # -- pieces -------------------------------------------------------------------------------------------------

    def _stride(self, shape: tuple[int, int]) -> int:
        if self.options.work_stride is not None:
            return self.options.work_stride
        return int(np.clip(min(shape) // 96, 1, 8))

    @staticmethod
    def _check_probs(
        probabilities: np.ndarray | torch.Tensor | GridScores | None, shape: tuple[int, int], max_left: int, max_right: int
    ) -> np.ndarray | GridScores | None:
        if probabilities is None:
            return None
        p = probabilities
        if isinstance(p, GridScores):
            if tuple(p.size) != tuple(shape):
                raise InputError(f"probabilities are for a {p.size[0]} x {p.size[1]} frame, labels {shape[0]} x {shape[1]}")
            if p.scores.shape[0] <= max(max_left, max_right):
                raise InputError(
                    f"probabilities have {p.scores.shape[0]} classes; the limb pairs need {max(max_left, max_right) + 1}"
                )
            return p
        if isinstance(p, torch.Tensor):
            p = p.detach().cpu()
            p = (p if p.dtype == torch.float32 else p.float()).numpy()
        if not isinstance(p, np.ndarray) or p.ndim != 3 or p.shape[1:] != shape or p.dtype.kind != "f":
            desc = f"shape {p.shape} dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
            raise InputError(f"probabilities must be a C x {shape[0]} x {shape[1]} float array, got {desc}")
        if p.shape[0] <= max(max_left, max_right):
            raise InputError(f"probabilities have {p.shape[0]} classes; the limb pairs need {max(max_left, max_right) + 1}")
        return p

    def _regions(self, pair_small: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Work-grid region ids (h x w int32) and each region's 1-based pair index (int32, [0] unused)."""
        regions = np.zeros(pair_small.shape, np.int32)
        pair_of = [0]
        for k in range(1, self._n_pairs + 1):
            mask = (pair_small == k).view(np.uint8)
            if not mask.any():
                continue
            n, cc = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
            if n > 1:
                np.add(cc, len(pair_of) - 1, out=cc, where=cc > 0)
                regions += cc
                pair_of.extend([k] * (n - 1))
        return regions, np.array(pair_of, np.int32)

    @staticmethod
    def _split_touching(
        rid: np.ndarray, region_pair: np.ndarray, side_raw: np.ndarray, xs: np.ndarray, ys: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Split regions that are two side-by-side limbs (e.g. legs standing together)."""
        n = len(region_pair)
        area = np.bincount(rid, minlength=n)
        n_left = np.bincount(rid, weights=side_raw > 0, minlength=n)
        both = np.minimum(n_left, area - n_left)
        candidates = np.flatnonzero((both >= _SPLIT_MIN_SHARE * area) & (area >= _SPLIT_MIN_CELLS))
        if candidates.size == 0:
            return rid, region_pair
        rid = rid.copy()
        pairs = list(region_pair)
        for j in candidates:
            sel = np.flatnonzero(rid == j)
            x, y, left = xs[sel], ys[sel], side_raw[sel] > 0
            x_left, x_right = x[left].mean(), x[~left].mean()
            if abs(x_left - x_right) < 1.0:
                continue
            on_right = x > 0.5 * (x_left + x_right)
            right_is_left = x_left > x_right
            if np.mean(on_right == (left == right_is_left)) < _SPLIT_AGREEMENT:
                continue
            y_left, y_right = y[left], y[~left]
            overlap = min(y_left.max(), y_right.max()) - max(y_left.min(), y_right.min()) + 1
            shorter = min(np.ptp(y_left), np.ptp(y_right)) + 1
            if overlap < _SPLIT_Y_OVERLAP * shorter:
                continue
            if any(np.ptp(x[part]) + 1 > _SPLIT_MAX_ASPECT * (np.ptp(y[part]) + 1) for part in (on_right, ~on_right)):
                continue  # limbs side by side are columns or blobs; pieces of one horizontal arm stay one limb
            rid[sel[on_right]] = len(pairs)
            pairs.append(pairs[j])
        return rid, np.array(pairs, np.int32)

    def _region_geometry(
        self, rid: np.ndarray, n: int, xs: np.ndarray, ys: np.ndarray, side_raw: np.ndarray, cell_person: np.ndarray,
        pair_small: np.ndarray, idx: np.ndarray, probs: np.ndarray | GridScores | None, grid: _Grid, body: _BodyRows,
    ) -> _Regions:
        """Per region (index 0 unused): area, vote, centroid, person and offsets from its person's centre lines."""
        area = np.bincount(rid, minlength=n).astype(np.float64)
        if probs is None:
            m_left = np.bincount(rid, weights=side_raw > 0, minlength=n)
            m_right = area - m_left
        else:
            pk = pair_small.ravel()[idx]
            yf, xf = grid.rows.sample[ys], grid.cols.sample[xs]
            at = probs.at if isinstance(probs, GridScores) else lambda c, y, x: probs[c, y, x]
            m_left = np.bincount(rid, weights=at(self._left[pk], yf, xf), minlength=n)
            m_right = np.bincount(rid, weights=at(self._right[pk], yf, xf), minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            vote = np.nan_to_num((m_left - m_right) / (m_left + m_right))
            cx = np.bincount(rid, weights=xs, minlength=n) / np.maximum(area, 1)
            cy = np.bincount(rid, weights=ys, minlength=n) / np.maximum(area, 1)
        y0, y1, person = _region_rows(rid, ys, cell_person, n)
        spread = np.maximum(body.spread[person], 1.0)
        offset = np.clip((cx - body.centre[person]) / spread, -1.0, 1.0)
        at_height = np.clip((cx - self._centre_at(body, person, y0, y1, area)) / spread, -1.0, 1.0)
        offset[0] = at_height[0] = 0.0
        return _Regions(area, vote, cx, cy, person, offset, at_height)

    @staticmethod
    def _body_rows(small: np.ndarray, pair_small: np.ndarray, persons: np.ndarray, n_persons: int) -> _BodyRows:
        """Per person and work-grid row: count, sum of x and of x² of its non-limb cells (torso, head, clothes)."""
        h, w = small.shape
        core = np.flatnonzero((small != 0) & (pair_small == 0))
        key = persons.ravel()[core].astype(np.int64) * h + core // w
        x = (core % w).astype(np.float64)
        size = n_persons * h
        rows = [np.bincount(key, weights=wt, minlength=size).reshape(n_persons, h) for wt in (None, x, x * x)]
        cnt, sx, sxx = (np.concatenate([np.zeros((n_persons, 1)), np.cumsum(r, axis=1)], axis=1) for r in rows)
        # no torso or head visible (a legs-only crop): the limbs themselves give the line
        allc = np.flatnonzero(small != 0)
        pid = persons.ravel()[allc]
        xa = (allc % w).astype(np.float64)
        tot = [np.bincount(pid, weights=wt, minlength=n_persons) for wt in (None, xa, xa * xa)]
        thin = cnt[:, -1] < 4
        c, s1, s2 = (np.where(thin, a, b[:, -1]) for a, b in zip(tot, (cnt, sx, sxx)))
        safe = np.maximum(c, 1)
        centre = s1 / safe
        spread = np.sqrt(np.maximum(s2 / safe - centre**2, 0.0))
        return _BodyRows(cnt, sx, centre, spread)

    @staticmethod
    def _centre_at(
        body: _BodyRows, person: np.ndarray, y0: np.ndarray, y1: np.ndarray, area: np.ndarray
    ) -> np.ndarray:
        """x of each region's person's centre line over rows ``y0..y1`` (inclusive): the body at the limb's
        height (trousers around legs), or the whole body's when too little of it is there (bare legs, a foot
        below the trousers: a ragged hem would put the line anywhere)."""
        n = body.count[person, y1 + 1] - body.count[person, y0]
        sx = body.sum_x[person, y1 + 1] - body.sum_x[person, y0]
        with np.errstate(invalid="ignore", divide="ignore"):
            band = sx / n
        return np.where(n >= np.maximum(_BAND_MIN_CELLS, _BAND_MIN_SHARE * area), band, body.centre[person])

    def _split_at_centre(
        self, rid: np.ndarray, region_pair: np.ndarray, xs: np.ndarray, ys: np.ndarray, person: np.ndarray,
        body: _BodyRows, persons_to_split: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Split leg and shoe regions of the given persons (bool per person) that straddle their centre line
        there (two limbs standing together that the parser called one)."""
        n = len(region_pair)
        y0, y1, region_person = _region_rows(rid, ys, person, n)
        candidates = np.flatnonzero(self._centre_split[region_pair] & persons_to_split[region_person])
        if candidates.size == 0:
            return rid, region_pair
        area = np.bincount(rid, minlength=n)
        line = self._centre_at(body, region_person, y0, y1, area)
        right = xs >= line[rid]
        n_right = np.bincount(rid, weights=right, minlength=n)
        both = np.minimum(n_right, area - n_right)
        candidates = candidates[(both[candidates] >= _SPLIT_MIN_SHARE * area[candidates]) & (area[candidates] >= _SPLIT_MIN_CELLS)]
        if candidates.size == 0:
            return rid, region_pair
        rid = rid.copy()
        pairs = list(region_pair)
        for j in candidates:
            rid[(rid == j) & right] = len(pairs)
            pairs.append(pairs[j])
        return rid, np.array(pairs, np.int32)

    def _head_observations(
        self,
        lab: np.ndarray,
        s: int,
        grid: _Grid,
        persons: np.ndarray,
        pstats: np.ndarray,
        person_area: np.ndarray,
        heads: Sequence[HeadObservation] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per person: head says +1 front, -1 back, 0 side, 2 nothing; and the Face share of its head zone (NaN).

        From the people stage's observation of the person where there is one (``heads``), else measured on
        the full-resolution labels in the person's box (a mirrored frame gives the same answer).
        """
        n = len(person_area)
        obs = np.full(n, 2, np.int8)
        share = np.full(n, np.nan)
        head = self.options.head
        if head is None:
            return obs, share
        for p in np.flatnonzero(person_area * s * s >= head.min_head_pixels):
            if p == 0:
                continue
            x, y, w, h = (int(v) for v in pstats[p, :4])
            rows, cols = grid.pixels(y, y + h, x, x + w)
            if heads:
                box = (cols.start, rows.start, cols.stop, rows.stop)
                best = max(heads, key=lambda o: box_iou(box, o.box))
                if box_iou(box, best.box) > 0.3:
                    if best.observation is not None:
                        obs[p], share[p] = best.observation, best.share
                    continue
            ev = head_evidence(lab[rows, cols], top_cut=y == 0)
            c = classify_head(ev, head)
            if c is not None:
                obs[p], share[p] = c, ev.share  # type: ignore[union-attr]
        return obs, share

    def _update_facing(
        self,
        state: LimbState | None,
        persons: np.ndarray,
        fidx: np.ndarray,
        n_persons: int,
        area: np.ndarray,
        vote: np.ndarray,
        offset: np.ndarray,
        person_of: np.ndarray,
        head_obs: np.ndarray,
        head_share: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        opt = self.options
        facing = np.ones(n_persons, np.int64)
        contrary = np.zeros(n_persons, np.int32)
        age = np.zeros(n_persons, np.int32)
        evidence_sum = np.zeros(n_persons, np.float64)
        head_age = np.zeros(n_persons, np.int32)
        side_run = np.zeros(n_persons, np.int32)
        polarity = np.ones(n_persons, np.int64)
        if state is not None and n_persons > 1:
            prev = state.persons.ravel()[fidx]
            cur = persons.ravel()[fidx]
            n_prev = len(state.person_facing)
            overlap = np.bincount(prev * n_persons + cur, minlength=n_prev * n_persons).reshape(n_prev, n_persons)
            overlap[0, :] = 0
            best = overlap.argmax(axis=0)
            seen = overlap.max(axis=0) > 0

            def carry(values: np.ndarray | None, default, dtype) -> np.ndarray:
                if values is None:
                    return np.full(n_persons, default, dtype)
                return np.where(seen, values[best], default).astype(dtype)

            facing = carry(state.person_facing, 1, np.int64)
            contrary = carry(state.person_contrary, 0, np.int32)
            age = carry(state.person_age, 0, np.int32)
            evidence_sum = carry(state.person_evidence, 0.0, np.float64)
            head_age = carry(state.person_head_age, 0, np.int32)
            side_run = carry(state.person_side_run, 0, np.int32)
            polarity = carry(state.person_polarity, 1, np.int64)
        weight = np.bincount(person_of, weights=area, minlength=n_persons)
        signed = np.bincount(person_of, weights=area * vote * offset, minlength=n_persons)
        with np.errstate(invalid="ignore", divide="ignore"):
            evidence = np.nan_to_num(signed / weight)
        if opt.head is not None:
            doubt_mid = 0.5 * (opt.head.front_share + opt.head.back_share)
        for p in range(1, n_persons):
            h = int(head_obs[p])
            if h in (1, -1):  # the head decides
                side_run[p] = 0
                if head_age[p] == 0 or h == facing[p]:  # first sight of the head overrides the votes
                    facing[p], contrary[p] = h, 0
                else:
                    contrary[p] += 1
                    if contrary[p] >= opt.flip_frames:
                        facing[p], contrary[p] = h, 0
                head_age[p] += 1
            elif h == 0:  # a profile or a doubtful head: no evidence
                side_run[p] += 1
                if head_age[p] == 0 and age[p] == 0:  # nothing known yet: lean on the weak head cue
                    facing[p] = 1 if head_share[p] >= doubt_mid else -1
            elif head_age[p] == 0:  # no head ever seen: the parser's votes decide
                e = evidence[p]
                if abs(e) < opt.min_evidence:
                    continue
                if age[p] < opt.flip_frames:  # warm-up: follow the evidence so far
                    age[p] += 1
                    evidence_sum[p] += e
                    if evidence_sum[p] != 0:
                        facing[p] = 1 if evidence_sum[p] > 0 else -1
                    contrary[p] = 0
                elif (e > 0) == (facing[p] > 0):
                    contrary[p] = 0
                else:
                    contrary[p] += 1
                    if contrary[p] >= opt.flip_frames:
                        facing[p], contrary[p] = -facing[p], 0
        # the parser's vote convention, relative to the facing the head decided (votes alone define +1)
        known = (head_age > 0) | (side_run > 0)
        strong = np.abs(evidence) >= opt.min_evidence
        polarity = np.where(known & strong, np.where(evidence * facing > 0, 1, -1), np.where(known, polarity, 1))
        facing[0] = 0
        polarity[0] = 0
        return facing, contrary, age, evidence_sum, head_age, side_run, polarity

    @staticmethod
    def _track(
        state: LimbState | None,
        idx: np.ndarray,
        rid: np.ndarray,
        region_pair: np.ndarray,
        area: np.ndarray,
        cx: np.ndarray,
        cy: np.ndarray,
        vote: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per region: the side of its track (+1, -1, 0 when new) and the updated contrary-vote count."""
        n = len(region_pair)
        if state is None or n <= 1 or len(state.region_pair) <= 1:
            return np.zeros(n, np.float64), np.zeros(n, np.int32)
        n_prev = len(state.region_pair)
        prev = state.regions.ravel()[idx]
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
            d = np.hypot(state.region_centroid[same, 0] - cx[j], state.region_centroid[same, 1] - cy[j])
            k = int(np.argmin(d))
            if d[k] <= 3.0 + 2.0 * math.sqrt(area[j]):
                best[j], matched[j] = same[k], True
        old_side = np.where(matched, state.region_side[best], 0).astype(np.float64)
        old_contrary = np.where(matched, state.region_contrary[best], 0)
        agree = old_side * vote
        contrary = np.where(agree < -_TRACK_VOTE, old_contrary + 1, np.where(agree > _TRACK_VOTE, 0, old_contrary))
        return old_side, contrary.astype(np.int32)

    @staticmethod
    def _decide(
        score: np.ndarray,
        offset: np.ndarray,
        track: np.ndarray,
        area: np.ndarray,
        region_pair: np.ndarray,
        person_of: np.ndarray,
    ) -> np.ndarray:
        """Side per region (+1 left, -1 right; [0] = 0)."""
        side = np.where(score >= 0, 1, -1).astype(np.int64)
        side[0] = 0
        n = len(region_pair)
        if n <= 2:
            return side
        key = person_of[1:] * (int(region_pair.max()) + 1) + region_pair[1:]
        order = np.lexsort((-area[1:], key))  # by person and pair, largest region first
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        ends = np.r_[starts[1:], len(key)]
        for a0, a1 in zip(starts, ends):
            if a1 - a0 < 2:
                continue
            i, j = order[a0] + 1, order[a0 + 1] + 1  # the two largest limbs; specks decide alone
            if abs(offset[i] - offset[j]) < _PAIR_OFFSET_GAP and track[i] * track[j] >= 0:
                continue  # likely two pieces of one limb
            first = score[i] > score[j] or (score[i] == score[j] and offset[i] >= offset[j])
            side[i], side[j] = (1, -1) if first else (-1, 1)
        return side

    def _relabel(
        self, lab: np.ndarray, regions: np.ndarray, region_pair: np.ndarray, out_side: np.ndarray, need: np.ndarray,
        xs: np.ndarray, ys: np.ndarray, rid: np.ndarray, s: int, grid: _Grid,
    ) -> np.ndarray:
        """Full-resolution labels with every pair pixel of the regions in ``need`` set to its region's side, and
        (on a coarse work grid) the pair pixels no region reaches set to the side of the limb they belong to."""
        fixed = lab.copy()
        cells = need[rid]
        h, w = regions.shape
        # only the box around the regions that change is visited (one cell of margin for the dilation) ...
        y0, y1, x0, x1 = h, 0, w, 0
        if cells.any():
            y0, y1 = max(int(ys[cells].min()) - 1, 0), min(int(ys[cells].max()) + 2, h)
            x0, x1 = max(int(xs[cells].min()) - 1, 0), min(int(xs[cells].max()) + 2, w)
        pair_all = cv2.LUT(lab, self._pair_lut) if s > 1 else None
        if pair_all is not None:  # ... and every pair pixel: a sliver between the samples may reach far from any region
            pair_rows = np.flatnonzero(pair_all.any(axis=1))
            if pair_rows.size:
                pair_cols = np.flatnonzero(pair_all[pair_rows[0] : pair_rows[-1] + 1].any(axis=0))
                y0, y1 = min(y0, int(grid.rows.cell[pair_rows[0]])), max(y1, int(grid.rows.cell[pair_rows[-1]]) + 1)
                x0, x1 = min(x0, int(grid.cols.cell[pair_cols[0]])), max(x1, int(grid.cols.cell[pair_cols[-1]]) + 1)
        if y1 <= y0 or x1 <= x0:
            return fixed
        box = grid.pixels(y0, y1, x0, x1)
        crop = lab[box]
        pair_full = pair_all[box] if pair_all is not None else cv2.LUT(crop, self._pair_lut)
        pix = np.flatnonzero(pair_full != 0)
        if pix.size == 0:
            return fixed
        side_map = np.where(need, out_side, 0)
        reg = regions[y0:y1, x0:x1]
        if s > 1:
            # thin parts may fall between samples: fill empty cells from a neighbouring region
            grown = cv2.dilate(reg.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
            reg = np.where(reg > 0, reg, grown)
        cw = crop.shape[1]
        yf, xf = np.divmod(pix, cw)
        region_of = reg[grid.rows.cell[yf + box[0].start] - y0, grid.cols.cell[xf + box[1].start] - x0]
        pk = pair_full.ravel()[pix]
        region_of = np.where(region_pair[region_of] == pk, region_of, 0)  # a neighbour of another pair is no guide
        new_side = side_map[region_of]
        old = crop.ravel()[pix]
        new = np.where(new_side > 0, self._left[pk], np.where(new_side < 0, self._right[pk], old))
        patch = crop.copy()
        patch.ravel()[pix] = new
        missed = region_of == 0
        if s > 1 and missed.any() and not missed.all():
            self._follow_nearest(patch, pair_full, pix[missed], pk[missed], pix[~missed])
        fixed[box] = patch
        return fixed

    def _follow_nearest(
        self, patch: np.ndarray, pair_full: np.ndarray, missed: np.ndarray, missed_pair: np.ndarray, reached: np.ndarray
    ) -> None:
        """Pair pixels no work-grid region reaches (a sliver thinner than the work stride, between its samples)
        take the side of the nearest reached pixel of the same connected limb, in place (``missed``,
        ``reached``: flat indices into ``patch``); a sliver on its own keeps its labels."""
        w = patch.shape[1]
        _, comp = cv2.connectedComponents((pair_full != 0).view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        # a limb: connected pixels of one pair (an arm touching a leg does not lend it its side)
        key = comp.ravel().astype(np.int64) * (self._n_pairs + 1) + pair_full.ravel()
        flat = patch.ravel()
        for c in np.unique(key[missed]):
            in_c = key[missed] == c
            miss, seeds = missed[in_c], reached[key[reached] == c]
            if seeds.size == 0:
                continue
            ys, xs = np.divmod(np.concatenate([miss, seeds]), w)
            y0, x0 = ys.min(), xs.min()
            box = np.ones((ys.max() - y0 + 1, xs.max() - x0 + 1), np.uint8)
            sy, sx = np.divmod(seeds, w)
            box[sy - y0, sx - x0] = 0
            _, nearest = cv2.distanceTransformWithLabels(box, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
            # DIST_LABEL_PIXEL numbers the zero pixels from 1 in scan order
            zy, zx = np.divmod(np.flatnonzero(box.ravel() == 0), box.shape[1])
            my, mx = np.divmod(miss, w)
            k = nearest[my - y0, mx - x0] - 1
            source = (zy[k] + y0) * w + zx[k] + x0
            pair = missed_pair[in_c]
            flat[miss] = np.where(self._side_lut[flat[source]] > 0, self._left[pair], self._right[pair])
