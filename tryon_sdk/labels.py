"""The 18 ATR classes, their colours, and the left/right pairs.

Left and right are the *person's own* sides: a person facing the camera has
the left arm on the image's right. Mirroring an image therefore maps the
class ``Left-arm`` onto ``Right-arm`` pixels; :func:`swap_lr` undoes that so a
mirrored parse can be compared with (or averaged into) an unmirrored one.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

__all__ = [
    "ATR_CLASSES",
    "NUM_CLASSES",
    "CLASS_INDEX",
    "FLIP_PAIRS",
    "FLIP_PERMUTATION",
    "PALETTE",
    "IGNORE_INDEX",
    "class_id",
    "swap_lr",
    "swap_lr_channels",
    "hflip_labels",
    "argmax_labels",
]

ATR_CLASSES: tuple[str, ...] = (
    "Background",
    "Hat",
    "Hair",
    "Sunglasses",
    "Upper-clothes",
    "Skirt",
    "Pants",
    "Dress",
    "Belt",
    "Left-shoe",
    "Right-shoe",
    "Face",
    "Left-leg",
    "Right-leg",
    "Left-arm",
    "Right-arm",
    "Bag",
    "Scarf",
)
"""The 18 ATR class names; a label map's value ``i`` means ``ATR_CLASSES[i]`` (0 is ``"Background"``).

Left/right classes are the person's own sides. Example: ``ATR_CLASSES[4] == "Upper-clothes"``.
"""
NUM_CLASSES: int = len(ATR_CLASSES)
"""Number of ATR classes: 18 (the channel count of class probabilities, ``18xHxW``)."""
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(ATR_CLASSES)}
"""Class name -> id, e.g. ``CLASS_INDEX["Face"] == 11`` (see :func:`class_id` for lenient names)."""

IGNORE_INDEX: int = 255
"""Label value of pixels that carry no supervision (training only)."""

FLIP_PAIRS: tuple[tuple[int, int], ...] = ((9, 10), (12, 13), (14, 15))
"""``(left, right)`` class ids of the sided classes: shoes (9, 10), legs (12, 13), arms (14, 15)."""


def _flip_permutation(num_classes: int, pairs: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    perm = list(range(num_classes))
    for left, right in pairs:
        perm[left], perm[right] = right, left
    return tuple(perm)


FLIP_PERMUTATION: tuple[int, ...] = _flip_permutation(NUM_CLASSES, FLIP_PAIRS)
"""``FLIP_PERMUTATION[c]`` is the class that ``c`` becomes when sides swap (18 ints)."""

PALETTE: np.ndarray = np.array(
    [
        (0, 0, 0),        # Background
        (128, 0, 0),      # Hat
        (255, 128, 0),    # Hair
        (0, 85, 85),      # Sunglasses
        (220, 20, 60),    # Upper-clothes
        (255, 0, 255),    # Skirt
        (0, 0, 255),      # Pants
        (255, 215, 0),    # Dress
        (128, 64, 0),     # Belt
        (0, 160, 0),      # Left-shoe
        (160, 255, 0),    # Right-shoe
        (255, 200, 160),  # Face
        (0, 128, 255),    # Left-leg
        (0, 255, 255),    # Right-leg
        (170, 0, 255),    # Left-arm
        (255, 120, 200),  # Right-arm
        (85, 51, 0),      # Bag
        (0, 128, 128),    # Scarf
    ],
    dtype=np.uint8,
)
"""RGB colour per class, ``18x3`` uint8 (read-only), distinct and stable across releases.

Example: ``PALETTE[labels]`` is an ``HxWx3`` uint8 colour image of an ``HxW`` label map.
"""
PALETTE.setflags(write=False)


def class_id(name: str) -> int:
    """Id of an ATR class by name (case-insensitive, ``_`` or ``-``)."""
    key = name.strip().lower().replace("_", "-")
    for i, cls in enumerate(ATR_CLASSES):
        if cls.lower() == key:
            return i
    from .errors import ConfigError

    raise ConfigError(f"unknown ATR class {name!r}; valid: {', '.join(ATR_CLASSES)}")


Labels = TypeVar("Labels", np.ndarray, torch.Tensor)


def swap_lr(labels: Labels, pairs: tuple[tuple[int, int], ...] = FLIP_PAIRS) -> Labels:
    """Swap left/right class ids in a label map (any shape, integer dtype).

    Values outside the pairs (including :data:`IGNORE_INDEX`) are kept.
    Returns a new array or tensor of the same type, shape and dtype.
    """
    out = labels.clone() if isinstance(labels, torch.Tensor) else labels.copy()
    for left, right in pairs:
        out[labels == left] = right
        out[labels == right] = left
    return out


def swap_lr_channels(scores: Labels, dim: int = -3, pairs: tuple[tuple[int, int], ...] = FLIP_PAIRS) -> Labels:
    """Swap the left/right class channels of per-class scores (``...xCxHxW`` by default).

    Used by flip test-time augmentation: ``swap_lr_channels(flip(model(flip(x))))``
    is a prediction for ``x`` in the unflipped frame.
    """
    num = scores.shape[dim]
    perm = _flip_permutation(num, pairs)
    if isinstance(scores, torch.Tensor):
        return scores.index_select(dim, torch.as_tensor(perm, device=scores.device))
    return np.take(scores, perm, axis=dim)


def hflip_labels(labels: Labels) -> Labels:
    """Mirror a label map (``...xHxW``) horizontally and swap left/right ids.

    This is what a horizontal flip of an image does to its ground truth.
    """
    if isinstance(labels, torch.Tensor):
        return swap_lr(labels.flip(-1))
    return swap_lr(np.ascontiguousarray(labels[..., ::-1]))


def argmax_labels(scores: torch.Tensor) -> np.ndarray:
    """``CxHxW`` (or ``CxN``) scores -> ``HxW`` (``N``) uint8 ids of the largest (the first one on ties, like
    ``torch.argmax``)."""
    if scores.device.type != "cpu":
        return scores.argmax(0).to(torch.uint8).cpu().numpy()
    # On CPU torch's argmax over the leading dim is ~4x slower than this running max.
    x = scores.detach().float().numpy()
    best = x[0].copy()
    labels = np.zeros(best.shape, np.uint8)
    for c in range(1, x.shape[0]):
        np.copyto(labels, c, where=x[c] > best)
        np.maximum(best, x[c], out=best)
    return labels
