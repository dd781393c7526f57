"""Answers' payloads: PNG bytes, base64 PNGs, and any SDK value as JSON (people included)."""

from __future__ import annotations

import base64
import dataclasses
import enum
import math
from typing import Any

import cv2
import numpy as np

from ..errors import VideoError

__all__ = ["png_bytes", "png_b64", "mask_u8", "to_json"]


def png_bytes(image: np.ndarray) -> bytes:
    """``HxW`` uint8 (an 8-bit single-channel PNG) or ``HxWx3`` uint8 RGB -> PNG file bytes."""
    arr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - only invalid arrays fail
        raise VideoError("PNG encoding failed")
    return buf.tobytes()


def png_b64(image: np.ndarray) -> str:
    """:func:`png_bytes` as base64 text (for JSON)."""
    return base64.b64encode(png_bytes(image)).decode("ascii")


def mask_u8(mask: np.ndarray) -> np.ndarray:
    """A bool mask as uint8 0 / 255."""
    return mask.astype(np.uint8) * 255


def to_json(value: Any, digits: int = 4) -> Any:
    """A JSON-ready copy of ``value``: dataclasses as dicts of all their fields (so new fields come along),
    named and plain tuples as lists, numpy scalars as numbers, floats rounded, NaN as ``None``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name), digits) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_json(value.value, digits)
    if isinstance(value, dict):
        return {str(k): to_json(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v, digits) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist(), digits) if value.size <= 64 else f"<array {value.dtype} {list(value.shape)}>"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, digits)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)
