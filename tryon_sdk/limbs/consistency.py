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

The steps live in their own modules: :mod:`~tryon_sdk.limbs.read` (the work grid, persons and regions of
a frame, as a :class:`~tryon_sdk.limbs.frame.LimbFrame`), :mod:`~tryon_sdk.limbs.body` (centre lines),
:mod:`~tryon_sdk.limbs.regions` (splits, votes, offsets), :mod:`~tryon_sdk.limbs.facing` (head and
hysteresis), :mod:`~tryon_sdk.limbs.decide` (tracks and sides), :mod:`~tryon_sdk.limbs.relabel`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import ConfigError
from ..people.facing import HeadObservation
from ..resample import GridScores
from .decide import RegionSides, decide_sides
from .facing import PersonFacing, head_observations, update_persons
from .frame import LimbFrame, Regions
from .options import LimbOptions
from .read import as_labels, check_probs, read_frame
from .regions import RegionGeometry, region_geometry, split_at_centre, split_touching
from .relabel import relabel
from .state import LimbState
from .tables import PairTables

__all__ = ["LimbOptions", "LimbState", "LimbConsistency"]


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
        self.options = options or LimbOptions()
        self._tables = PairTables.of(self.options)

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
        lab = as_labels(labels)
        probs = check_probs(probabilities, lab.shape, self._tables.max_class)
        frame = read_frame(lab, self.options, self._tables, probs, heads)
        if state is not None and (state.shape != frame.shape or state.regions.shape != frame.small.shape):
            state = None  # another size (or a state from a fixer with another grid): start afresh
        regions, geo, people = self._regions_and_facing(frame, state)
        sides = decide_sides(frame, state, regions, geo, people, self.options.flip_frames)
        region_map = frame.region_map.copy()
        region_map.ravel()[frame.cells.idx] = regions.rid
        fixed = relabel(frame, self._tables, region_map, regions, -sides.side if self.mirrored else sides.side)
        new_state = self._new_state(frame, state, region_map, sides, people)
        if isinstance(labels, torch.Tensor):
            return torch.from_numpy(fixed), new_state
        return fixed, new_state

    def _regions_and_facing(self, frame: LimbFrame, state: LimbState | None) -> tuple[Regions, RegionGeometry, PersonFacing]:
        """The frame's limb regions (two limbs called one split), their geometry, and each person's facing."""
        opt = self.options
        split = opt.split_touching and frame.cells.idx.size > 0
        regions = split_touching(frame, frame.regions) if split else frame.regions
        geo = region_geometry(frame, regions, self._tables)
        people = update_persons(frame, state, geo, head_observations(frame, opt.head), opt)
        from_behind = people.from_behind(opt.flip_frames)
        if split and from_behind.any():
            at_centre = split_at_centre(frame, regions, from_behind, self._tables.centre_split)
            if len(at_centre.pair) != len(regions.pair):
                regions, geo = at_centre, region_geometry(frame, at_centre, self._tables)
        return regions, geo, people

    @staticmethod
    def _new_state(
        frame: LimbFrame, prior: LimbState | None, region_map: np.ndarray, sides: RegionSides, people: PersonFacing
    ) -> LimbState:
        """The state after ``frame`` (``prior``: the state before it, or None)."""
        stats = frame.person_stats
        return LimbState(
            shape=frame.shape,
            regions=region_map,
            region_side=sides.side.astype(np.int8),
            region_contrary=sides.contrary,
            region_pair=sides.pair,
            region_centroid=sides.centroid,
            persons=frame.persons,
            person_area=frame.person_area,
            person_facing=people.facing.astype(np.int8),
            person_contrary=people.contrary,
            person_age=people.age,
            person_evidence=people.evidence,
            frames=(prior.frames if prior is not None else 0) + 1,
            person_head_age=people.head_age,
            person_side_run=people.side_run,
            person_polarity=people.polarity.astype(np.int8),
            person_box=np.stack(
                [stats[:, 0], stats[:, 1], stats[:, 0] + stats[:, 2], stats[:, 1] + stats[:, 3]], axis=1
            ).astype(np.int32),
            stride=frame.stride,
            grid=frame.grid,
        )
