"""The per-frame record the limb stage's steps share (:class:`LimbFrame`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from ..people.facing import HeadObservation
from ..resample import GridScores, WorkGrid
from .body import BodyRows

__all__ = ["LimbCells", "LimbFrame", "Regions"]


class Regions(NamedTuple):
    """The limb regions of a frame: which region each limb cell is in, and each region's pair."""

    rid: np.ndarray  # (N,) int32 region id per limb cell (:attr:`LimbFrame.cells` order)
    pair: np.ndarray  # (R+1,) int32 1-based pair index per region ([0] unused)


class LimbCells(NamedTuple):
    """The work-grid cells of the limb pairs (N of them, in raster order)."""

    idx: np.ndarray  # (N,) int64 flat index into the h x w work grid
    xs: np.ndarray  # (N,) int64 column
    ys: np.ndarray  # (N,) int64 row
    side_raw: np.ndarray  # (N,) int8 the parser's side: +1 left, -1 right
    person: np.ndarray  # (N,) int32 person id


@dataclass(frozen=True, eq=False)  # holds arrays
class LimbFrame:
    """One frame as the limb stage reads it (:func:`~tryon_sdk.limbs.read.read_frame`); h x w is the work grid.

    Persons are the connected components of the foreground after bridging ``person_gap`` cells; id 0 is the
    background. Regions are the connected components of each pair's two classes, before any split.
    """

    labels: np.ndarray  # H x W uint8 full-resolution labels
    probs: np.ndarray | GridScores | None  # C x H x W float class probabilities, or None
    heads: Sequence[HeadObservation] | None  # the people stage's head observations, or None
    stride: int  # work-grid step in label-map pixels
    grid: WorkGrid  # the work grid's cells
    small: np.ndarray  # h x w uint8 labels at the grid's samples
    pair_small: np.ndarray  # h x w uint8 their 1-based pair index (0: not a limb)
    persons: np.ndarray  # h x w int32 person ids
    n_persons: int  # P+1, the background included
    person_stats: np.ndarray  # (P+1, 5) int32 cv2 component stats (x, y, w, h, area) in cells
    person_area: np.ndarray  # (P+1,) int64 foreground cells per person
    fg_idx: np.ndarray  # (F,) int64 flat indices of the foreground cells
    body: BodyRows  # the persons' centre lines
    region_map: np.ndarray  # h x w int32 region ids (0: no limb)
    regions: Regions  # the limb cells' regions
    cells: LimbCells  # the limb cells

    @property
    def shape(self) -> tuple[int, int]:
        """H, W of the label map."""
        return self.labels.shape  # type: ignore[return-value]
