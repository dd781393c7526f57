"""Plain geometry shared by every stage: :class:`Box`, a pixel bounding box."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Box"]


class Box(NamedTuple):
    """Pixel bounding box, ``x1``/``y1`` exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int
