"""Offline folder sources: an *imagefolder* of images with ATR label PNGs.

Layout: ``root/images/<stem>.(jpg|jpeg|png)`` and ``root/masks/<stem>.png``
(single-channel, values = ATR ids 0..17 or 255). Local parquet in the Hub
schemas is read by :func:`training.data.hub.open_dataset` (``data_files``).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from tryon_sdk.errors import DataError
from tryon_sdk.labels import IGNORE_INDEX, NUM_CLASSES

__all__ = ["imagefolder_ids", "load_imagefolder_sample"]

_EXTS = (".jpg", ".jpeg", ".png")


def imagefolder_ids(root: str | os.PathLike) -> list[str]:
    """Sorted stems with both an image and a mask; :class:`DataError` when the layout is wrong."""
    root = Path(root)
    if not (root / "images").is_dir() or not (root / "masks").is_dir():
        raise DataError(f"{root}: expected images/ and masks/ folders (imagefolder layout)")
    ids = sorted(p.stem for p in (root / "images").iterdir() if p.suffix.lower() in _EXTS and (root / "masks" / f"{p.stem}.png").is_file())
    if not ids:
        raise DataError(f"{root}: no image in images/ has a masks/<stem>.png")
    return ids


def load_imagefolder_sample(root: str | os.PathLike, stem: str) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 HxWx3 RGB, mask uint8 HxW)`` for one stem."""
    root = Path(root)
    img_path = next((root / "images" / f"{stem}{e}" for e in _EXTS if (root / "images" / f"{stem}{e}").is_file()), None)
    if img_path is None:
        raise DataError(f"{root}/images has no {stem}.jpg/.jpeg/.png")
    img = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(root / "masks" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
    if img is None or mask is None:
        raise DataError(f"cannot decode {img_path} or its mask")
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise DataError(f"{stem}.png must be single-channel uint8 class ids, got shape {mask.shape} {mask.dtype}")
    bad = (mask >= NUM_CLASSES) & (mask != IGNORE_INDEX)
    if bad.any():
        raise DataError(f"{stem}.png holds values {sorted(set(np.unique(mask[bad]).tolist()))[:5]} outside 0..{NUM_CLASSES - 1} and {IGNORE_INDEX}")
    if mask.shape != img.shape[:2]:
        raise DataError(f"{stem}: mask {mask.shape} and image {img.shape[:2]} differ in size")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB), mask
