"""What the limb stage carries from one frame to the next (:class:`LimbState`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..people.facing import facing_name
from ..resample import WorkGrid

__all__ = ["LimbState"]


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not states
class LimbState:
    """What :class:`~tryon_sdk.limbs.consistency.LimbConsistency` carries from one frame to the next.

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
    grid: WorkGrid | None = None  # the work grid's cells (mirror-symmetric sampling)

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
        grid = self.grid if self.grid is not None else WorkGrid.of(self.shape, self.stride)
        sub = self.persons[grid.cells((x0, y0, x1, y1))]
        counts = np.bincount(sub.ravel(), minlength=len(self.person_facing))
        counts[0] = 0
        if counts.sum() == 0:
            return facing_name(0)
        p = int(np.argmax(counts))
        age = self.person_age[p] + (self.person_head_age[p] if self.person_head_age is not None else 0)
        side = int(self.person_side_run[p]) if self.person_side_run is not None else 0
        return facing_name(int(self.person_facing[p]) if age > 0 else 0, side, flip_frames)
