"""Still images in: which files are images, a folder's images in order, and reading one upright as
``HxWx3`` uint8 RGB (EXIF orientation applied; 16-bit and palette PNGs converted)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import InputError

__all__ = ["IMAGE_SUFFIXES", "is_image_path", "list_images", "read_image"]

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


def is_image_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` has an image file's suffix (one of ``IMAGE_SUFFIXES``, case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p) and not p.name.startswith("."))


#: EXIF orientation -> the numpy steps that make an ``H x W x C`` array upright (as ``ImageOps.exif_transpose``).
_EXIF_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _upright_exif(arr: np.ndarray, orientation: int | None) -> np.ndarray:
    step = _EXIF_UPRIGHT.get(orientation or 1)
    return np.ascontiguousarray(step(arr)) if step is not None else arr


def _read_png_16bit_colour(path: str | os.PathLike) -> np.ndarray | None:
    """A 16-bit RGB(A) PNG as ``H x W x 3|4`` uint16 RGB(A) (Pillow would keep only the high byte of each value)."""
    import cv2

    arr = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """``HxWx3`` uint8 RGB with the EXIF orientation applied; :class:`InputError` when unreadable.

    16-bit files are scaled by their full range (see :mod:`tryon_sdk.inputs`; 16-bit colour PNGs are read
    with OpenCV, since Pillow drops their low bytes), greyscale is repeated to RGB and alpha dropped,
    silently: reading a file is the caller's request.
    """
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    from ...errors import TryOnWarning
    from ...inputs import pil_to_array, to_rgb_uint8

    try:
        with Image.open(path) as im:
            rawmode = im.tile[0][3] if im.tile and len(im.tile[0]) > 3 else ""
            deep = im.format == "PNG" and im.mode in ("RGB", "RGBA") and ";16" in str(rawmode)
            arr = _read_png_16bit_colour(path) if deep else None
            if arr is not None:
                arr = _upright_exif(arr, im.getexif().get(0x0112))
            else:
                arr, _ = pil_to_array(ImageOps.exif_transpose(im))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TryOnWarning)
        try:
            return to_rgb_uint8(arr)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
