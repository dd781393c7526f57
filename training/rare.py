"""Rare-class sampling: photos that show a rare class are drawn more often.

CCP has few skirts, belts, scarves, hats and sunglasses; a photo counts as
showing a class when at least ``min_pixels`` of its (cached) label pixels
carry it. Its sampling weight is multiplied by ``boost`` (once, however many
rare classes it shows), so the share of rare-class photos per epoch grows and
that of the others shrinks in proportion.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tryon_sdk.errors import ConfigError
from tryon_sdk.labels import CLASS_INDEX

__all__ = ["RARE_DEFAULT", "class_ids", "rare_mask", "rare_sample_weights"]

RARE_DEFAULT: tuple[str, ...] = ("Skirt", "Belt", "Scarf", "Hat", "Sunglasses")


def class_ids(names: Sequence[str | int]) -> list[int]:
    """ATR ids of class names (or ids); :class:`ConfigError` names the valid classes."""
    out = []
    for n in names:
        if isinstance(n, int):
            out.append(n)
        elif n in CLASS_INDEX:
            out.append(CLASS_INDEX[n])
        else:
            raise ConfigError(f"unknown class {n!r}; valid: {', '.join(CLASS_INDEX)}")
    return out


def rare_mask(masks: np.ndarray, classes: Sequence[str | int], min_pixels: int = 30) -> np.ndarray:
    """bool ``N``: which of the uint8 ``N x H x W`` label maps hold at least ``min_pixels`` of any class in ``classes``."""
    ids = class_ids(classes)
    counts = np.stack([(masks == c).reshape(len(masks), -1).sum(1) for c in ids], 1)
    return (counts >= min_pixels).any(1)


def rare_sample_weights(weights: np.ndarray, masks: np.ndarray, classes: Sequence[str | int], boost: float, min_pixels: int = 30) -> np.ndarray:
    """float64 ``N`` sampling weights: ``weights`` times ``boost`` where the photo shows a rare class."""
    if boost <= 0:
        raise ConfigError(f"sampling.boost must be > 0, got {boost}")
    return np.where(rare_mask(masks, classes, min_pixels), weights * boost, weights)
