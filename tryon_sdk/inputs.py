"""Turn what users pass (numpy, PIL, torch) into RGB uint8 images, or fail clearly.

Accepted: ``HxWx3`` uint8 RGB arrays; PIL images; torch tensors ``3xHxW``
(CHW, the torchvision convention) or ``HxWx3``, uint8 or float in [0, 1].
Converted, with a :class:`~tryon_sdk.errors.TryOnWarning` saying so:
grayscale (``HxW``/``HxWx1``) is repeated to RGB, RGBA drops its alpha,
16-bit images are scaled to 8 bits by their full range (``uint16`` arrays,
PIL modes ``I;16``/``I;16B``/``I;16L``, and mode ``I`` holding 0..65535: ``v * 255 / 65535``,
rounded), float arrays and PIL mode ``F`` in [0, 1] are scaled to 255.
Rejected with :class:`~tryon_sdk.errors.InputError`: empty or zero-sized
images, NaN/inf, values outside the dtype's range, other dtypes or shapes.

The result is always writable (a read-only array, e.g. ``np.asarray(pil_image)``,
is copied), so torch never warns about non-writable NumPy buffers.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Sequence, Union

import numpy as np
import torch

from .errors import InputError, TryOnWarning

if TYPE_CHECKING:
    from PIL import Image

#: An image the SDK takes: ``HxWx3`` uint8 RGB array (or ``HxW`` grey, RGBA, other integer depths), a PIL
#: image, or a ``CHW`` / ``HWC`` tensor (:func:`to_rgb_uint8` converts and checks it).
ImageLike = Union[np.ndarray, torch.Tensor, "Image.Image"]
#: People boxes an app may pass: ``N x 4`` ``(x0, y0, x1, y1)`` pixels, as an array, a tensor or nested sequences.
BoxesLike = Union[np.ndarray, torch.Tensor, Sequence[Sequence[float]]]

__all__ = ["to_rgb_uint8", "pil_to_array", "scale_uint16"]

#: PIL modes of 16-bit single-channel images (PIL keeps 16-bit RGB files as 8-bit "RGB").
PIL_16BIT_MODES: frozenset[str] = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def _warn(msg: str) -> None:
    warnings.warn(msg, TryOnWarning, stacklevel=4)


def scale_uint16(arr: np.ndarray) -> np.ndarray:
    """16-bit values (0..65535) -> uint8 by the full 16-bit range, rounded: ``v * 255 / 65535``."""
    return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def pil_to_array(image: Any) -> tuple[np.ndarray, str | None]:
    """A PIL image as a writable array for :func:`to_rgb_uint8`, and what was converted (or ``None``).

    8-bit modes give ``HxW``/``HxWx3``/``HxWx4`` uint8; 16-bit greyscale (``I;16*``, and ``I``
    with values in 0..65535) gives ``HxW`` uint16, which is then scaled by its full range, never
    clipped (``Image.convert("RGB")`` would saturate it to white); ``F`` gives float32.
    """
    mode = image.mode
    if mode in ("RGB", "L", "RGBA"):
        return np.array(image), None if mode == "RGB" else f"PIL image in mode {mode!r} was converted to RGB"
    if mode in PIL_16BIT_MODES:
        return np.array(image).astype(np.uint16), f"PIL image in mode {mode!r} (16-bit) was scaled to 8-bit RGB"
    if mode == "I":  # 32-bit signed; 16-bit PNG/TIFF files often open in this mode
        arr = np.array(image)
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise InputError(
                f"PIL image in mode 'I' holds values {lo}..{hi}, outside 0..65535; "
                "convert it to 8-bit (mode 'L'/'RGB') or 16-bit first"
            )
        return arr.astype(np.uint16), "PIL image in mode 'I' (16-bit values) was scaled to 8-bit RGB"
    if mode == "F":
        return np.array(image, dtype=np.float32), "PIL image in mode 'F' (float) was scaled to 8-bit RGB"
    return np.array(image.convert("RGB")), f"PIL image in mode {mode!r} was converted to RGB"


def _from_pil(image: Any) -> np.ndarray:
    arr, note = pil_to_array(image)
    if note:
        _warn(note)
    return arr


def _channels_last(arr: np.ndarray, chw: bool) -> np.ndarray:
    if arr.ndim == 2:
        return arr[:, :, None]
    if arr.ndim != 3:
        raise InputError(f"image must be HxW, HxWxC or CxHxW, got shape {tuple(arr.shape)}")
    if chw:
        return np.moveaxis(arr, 0, -1)
    return arr


def to_rgb_uint8(image: Any) -> np.ndarray:
    """Return a C-contiguous, writable ``HxWx3`` uint8 RGB array for any accepted input."""
    pil = False
    if isinstance(image, np.ndarray):
        arr, chw = image, False
    elif isinstance(image, torch.Tensor):
        t = image.detach()
        if t.ndim == 3 and t.shape[0] in (1, 3, 4) and t.shape[-1] not in (1, 3, 4):
            chw = True
        elif t.ndim == 3 and t.shape[0] in (1, 3, 4) and t.shape[-1] in (1, 3, 4):
            chw = True  # ambiguous (e.g. 3x5x3): follow torchvision, CHW
        else:
            chw = False
        if t.dtype == torch.bfloat16:
            t = t.float()
        arr = t.cpu().numpy()
    elif hasattr(image, "mode") and hasattr(image, "convert"):
        arr, chw = _from_pil(image), False
        pil = True
    else:
        raise InputError(
            f"image must be a numpy array, a PIL image or a torch tensor, got {type(image).__name__}"
        )

    if arr.size == 0 or 0 in arr.shape:
        raise InputError(f"image is empty (shape {tuple(arr.shape)})")
    arr = _channels_last(arr, chw)
    channels = arr.shape[2]
    if channels not in (1, 3, 4):
        raise InputError(f"image must have 1, 3 or 4 channels (gray, RGB, RGBA), got {channels} (shape {tuple(arr.shape)})")

    if arr.dtype == np.uint8:
        pass
    elif arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # uint16, either byte order
        if not pil:
            _warn("16-bit image was scaled to 8 bits (full range 0..65535)")
        arr = scale_uint16(arr)
    elif arr.dtype in (np.float16, np.float32, np.float64):
        if not np.isfinite(arr).all():
            raise InputError("image contains NaN or infinite values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise InputError(
                f"float images must hold values in [0, 1], found [{lo:.3g}, {hi:.3g}]; pass uint8 for 0..255 data"
            )
        arr = np.round(arr.astype(np.float32) * 255.0).astype(np.uint8)
    else:
        raise InputError(f"unsupported image dtype {arr.dtype}; use uint8 (or uint16, or float in [0, 1])")

    if channels == 1:
        if not pil:
            _warn("grayscale image was converted to RGB")
        arr = np.repeat(arr, 3, axis=2)
    elif channels == 4:
        if not pil:
            _warn("RGBA image: the alpha channel was dropped")
        arr = arr[:, :, :3]
    arr = np.ascontiguousarray(arr)
    if not arr.flags.writeable:  # torch.from_numpy warns on every read-only buffer
        arr = arr.copy()
    return arr
