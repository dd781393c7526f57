"""Lookup tables of the limb pairs, built once per :class:`~tryon_sdk.limbs.options.LimbOptions`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .options import LimbOptions

__all__ = ["PairTables"]


class PairTables(NamedTuple):
    """Class and pair lookups of ``options.pairs`` (pairs are numbered from 1; 0 is no pair)."""

    pair: np.ndarray  # (256,) uint8 class -> 1-based pair index
    side: np.ndarray  # (256,) int8 class -> +1 left, -1 right, 0 not a limb
    left: np.ndarray  # (n_pairs+1,) uint8 pair -> its left class ([0] = 0)
    right: np.ndarray  # (n_pairs+1,) uint8 pair -> its right class ([0] = 0)
    centre_split: np.ndarray  # (n_pairs+1,) bool pair is split at a back view's centre line
    gap_kernel: np.ndarray | None  # square uint8 kernel bridging ``person_gap`` cells, None for no gap

    @staticmethod
    def of(options: LimbOptions) -> PairTables:
        """The tables of ``options``."""
        pair = np.zeros(256, np.uint8)
        side = np.zeros(256, np.int8)
        for k, (left, right) in enumerate(options.pairs, start=1):
            pair[left] = pair[right] = k
            side[left], side[right] = 1, -1
        g = options.person_gap
        return PairTables(
            pair=pair,
            side=side,
            left=np.array([0] + [a for a, _ in options.pairs], np.uint8),
            right=np.array([0] + [b for _, b in options.pairs], np.uint8),
            centre_split=np.array([False] + [p in options.centre_split for p in options.pairs]),
            gap_kernel=np.ones((2 * g + 1, 2 * g + 1), np.uint8) if g else None,
        )

    @property
    def n_pairs(self) -> int:
        """Number of limb pairs."""
        return len(self.left) - 1

    @property
    def max_class(self) -> int:
        """The largest class id of the pairs (probabilities need that many classes plus one)."""
        return max(int(self.left.max(initial=0)), int(self.right.max()))
