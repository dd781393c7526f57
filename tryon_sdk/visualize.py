"""Colourised label maps and overlays for people to look at."""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .labels import PALETTE

__all__ = ["colorize", "overlay"]


def colorize(labels: np.ndarray, palette: np.ndarray = PALETTE) -> np.ndarray:
    """``HxW`` ids -> ``HxWx3`` uint8 RGB with one colour per class."""
    if labels.ndim != 2:
        raise InputError(f"labels must be HxW, got shape {labels.shape}")
    return palette[labels]


def overlay(image: np.ndarray, labels: np.ndarray, *, alpha: float = 0.5, palette: np.ndarray = PALETTE) -> np.ndarray:
    """Blend class colours over ``image`` (``HxWx3`` uint8); background pixels stay as they are."""
    if image.shape[:2] != labels.shape:
        raise InputError(f"image {image.shape[:2]} and labels {labels.shape} sizes differ")
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    out = image.copy()
    fg = labels > 0
    colours = palette[labels[fg]].astype(np.float32)
    out[fg] = np.round(image[fg].astype(np.float32) * (1.0 - alpha) + colours * alpha).astype(np.uint8)
    return out
