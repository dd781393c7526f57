"""People first: the components of a person probability map, and the crop to parse around each person.

* **Components** (:func:`person_components`): person probability over 0.5,
  gaps closed, connected components; components that nearly touch, or lie
  above one another with a gap under half the taller one's height (a head or
  the legs cut off from the torso), merge. The people stage
  (:mod:`~tryon_sdk.people.stage`) keeps a component when its probability
  mass is at least ``min_area`` of the frame and ``min_relative`` of the
  largest one (specks are dropped), and the ``max_people`` largest.
* **Crops** (:func:`crop_window`): the person's box grown by ``margin`` of its
  size on every side, then to the model's aspect ratio (portrait or
  landscape, whichever the box is), in whole multiples of the reduced ratio
  (3:2 for 288x192) so it scales to the input without padding; moved inside
  the frame (clipped only when the frame is smaller). All crops of a frame go
  through the network in one batch.
* **Whole-frame people** (:func:`people_from_labels`, ``roi=False``): the same
  component rules on a parsed label map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..geometry import Box
from .person import PeopleOptions, Person, head_facing

__all__ = ["Detection", "crop_window", "people_from_labels", "person_components"]

_MERGE_GAP = 0.1  # components closer than this share of the taller one's height merge
_STACK_GAP = 0.5  # ... and components above one another closer than this share
_MAX_UPSCALE = 4.0  # a crop is at least 1/4 of the model input, so tiny specks are not blown up 20x


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


@dataclass(frozen=True)
class Detection:
    """A person found by the detection pass: frame-pixel box and probability mass (in frame pixels)."""

    box: tuple[float, float, float, float]
    mass: float


def person_components(person: np.ndarray, min_mass: float) -> list[tuple[list[float], float]]:
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


def people_from_labels(labels: np.ndarray, options: PeopleOptions | None = None) -> list[Person]:
    """People in a whole-frame label map (the ``roi=False`` path): components of the person mask with the
    detection's size rules, each with its head-based facing."""
    options = options or PeopleOptions()
    H, W = labels.shape
    s = max(1, min(H, W) // 96)  # analyse on a coarse grid: boxes need no pixel precision
    small = labels[::s, ::s]
    comps = person_components((small != 0).astype(np.float32), options.min_area * small.size)
    if not comps:
        return []
    best = max(m for _, m in comps)
    comps = sorted((c for c in comps if c[1] >= options.min_relative * best), key=lambda c: -c[1])
    people = []
    for b, _ in comps[: options.max_people]:
        box = Box(b[0] * s, b[1] * s, min(b[2] * s, W), min(b[3] * s, H))
        area = int(np.count_nonzero(labels[box.y0 : box.y1, box.x0 : box.x1]))
        sub = labels[box.y0 : box.y1, box.x0 : box.x1]
        people.append(Person(box, area, head_facing(sub, options.facing, box.y0 == 0), None, 1.0))
    return people
