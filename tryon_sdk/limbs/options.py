"""Options of the limb stage (:class:`LimbOptions`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..labels import FLIP_PAIRS
from ..people.facing import FacingOptions

__all__ = ["LimbOptions"]


@dataclass(frozen=True)
class LimbOptions:
    """Options of :class:`~tryon_sdk.limbs.consistency.LimbConsistency` (validated on construction).

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

