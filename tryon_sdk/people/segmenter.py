"""Who is a person: MediaPipe's selfie segmenter (250 KB, Apache-2.0) on ONNX Runtime.

The segmenter sees the whole frame stretched to its input (256x256 for portrait and square frames,
the landscape model's 256x144 for landscape ones; as MediaPipe feeds it, RGB in [0, 1]) and returns the
probability that each cell is a person. It was trained on people at every framing (selfies, half-body,
groups, people far away), which the parser's training photos are not, so it decides *who* is in the
frame; the parser decides *what* each person's pixels are (:mod:`tryon_sdk.people.stage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..errors import InputError
from .models import OnnxModel

__all__ = ["PersonProbability", "PersonSegmenter"]


@dataclass(frozen=True)
class PersonProbability:
    """A frame's person probability on the segmenter's grid.

    Attributes:
        grid: ``h x w`` float32 in [0, 1] (the model's output cells, stretched over the frame).
        size: the frame's ``(H, W)``.
    """

    grid: np.ndarray
    size: tuple[int, int]

    def full(self) -> np.ndarray:
        """``H x W`` float32 at the frame's size (bilinear, cell centres aligned)."""
        H, W = self.size
        return cv2.resize(self.grid, (W, H), interpolation=cv2.INTER_LINEAR)

    def window(self, box: Sequence[int], size: tuple[int, int] | None = None) -> np.ndarray:
        """The probability over a pixel window ``(x0, y0, x1, y1)`` of the frame, resampled to ``size``
        ``(h, w)`` (default: the window's pixels), bilinear at the cells' centres."""
        x0, y0, x1, y1 = (int(v) for v in box)
        h, w = size or (y1 - y0, x1 - x0)
        H, W = self.size
        gh, gw = self.grid.shape
        # pixel centres of the output window, in grid coordinates
        xs = ((x0 + (np.arange(w) + 0.5) * (x1 - x0) / w) * gw / W - 0.5).astype(np.float32)
        ys = ((y0 + (np.arange(h) + 0.5) * (y1 - y0) / h) * gh / H - 0.5).astype(np.float32)
        mx, my = np.meshgrid(xs, ys)
        return cv2.remap(self.grid, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class PersonSegmenter:
    """Person probability of whole frames (MediaPipe selfie segmentation, bundled).

    ``segmenter([frame, ...])`` takes ``H x W x 3`` uint8 RGB frames and returns one
    :class:`PersonProbability` per frame. Landscape frames use the landscape model.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self._square = OnnxModel("selfie_segmentation", threads=threads)
        self._landscape = OnnxModel("selfie_segmentation_landscape", threads=threads)

    def model_for(self, shape: tuple[int, int]) -> OnnxModel:
        """The square model for portrait and square frames, the landscape one for landscape frames."""
        return self._landscape if shape[1] > shape[0] else self._square

    def __call__(self, images: Sequence[np.ndarray]) -> list[PersonProbability]:
        out = []
        for image in images:
            if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise InputError(f"frames must be H x W x 3 uint8 RGB, got {getattr(image, 'shape', type(image).__name__)}")
            model = self.model_for(image.shape[:2])
            h, w = model.size
            x = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * (1 / 255)
            prob = model(x[None])[model.output_names[0]][0, :, :, 0]
            out.append(PersonProbability(np.ascontiguousarray(prob, dtype=np.float32), image.shape[:2]))
        return out
