"""Is there a face: MediaPipe's BlazeFace short-range detector (Apache-2.0) on a person's head.

A parser trained on front views paints the back of a head at close range as Face, so the facing of a
person cannot come from the parser alone. BlazeFace was trained on faces, and scores a face seen from
the front high and the back of a head low. :class:`FaceDetector` runs it on square head crops (128x128,
aspect kept with zero padding, RGB in [-1, 1], as MediaPipe feeds it) and decodes its 896 SSD anchors
(strides 8 and 16; 2 and 6 anchors per cell; fixed anchor size) into the best face of each crop: the
face's score (a sigmoid, whether or not it clears a detection threshold), box and six keypoints (the
person's right eye, left eye, nose tip, mouth centre, right and left ear tragion).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..errors import InputError
from .models import OnnxModel

__all__ = ["Face", "FaceDetector", "blazeface_anchors"]

_INPUT = 128
_SCORE_CLIP = 100.0
RIGHT_EYE, LEFT_EYE, NOSE, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)


def blazeface_anchors() -> np.ndarray:
    """The short-range model's 896 anchor centres, ``896 x 2`` float32 ``(x, y)`` in [0, 1]."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        n = _INPUT // stride
        ys, xs = np.mgrid[0:n, 0:n]
        centres = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


_ANCHORS = blazeface_anchors()


@dataclass(frozen=True)
class Face:
    """The best face in a head crop, in the crop's pixels.

    Attributes:
        score: the detector's confidence in [0, 1] (front views of faces ~0.9, backs of heads ~0.5).
        box: ``(x0, y0, x1, y1)`` float pixels.
        keypoints: ``6 x 2`` float32 ``(x, y)``: right eye, left eye, nose tip, mouth, right ear, left ear
            (the person's own sides).
    """

    score: float
    box: tuple[float, float, float, float]
    keypoints: np.ndarray

    @property
    def turn(self) -> float:
        """How far the nose lies off the eyes' midpoint, in eye distances (0 frontal, ~1 profile)."""
        eyes = self.keypoints[[RIGHT_EYE, LEFT_EYE]]
        dist = float(np.linalg.norm(eyes[1] - eyes[0]))
        mid = eyes.mean(0)
        return float(abs(self.keypoints[NOSE, 0] - mid[0]) / max(dist, 1e-6))


class FaceDetector:
    """The best face of each square crop: ``detector([crop, ...]) -> [Face, ...]``.

    Crops are ``h x w x 3`` uint8 RGB, any size; a non-square crop is padded to a square first.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self._model = OnnxModel("face_detection_short_range", threads=threads)
        self._regressors, self._scores = "regressors", "classificators"

    def __call__(self, crops: Sequence[np.ndarray]) -> list[Face]:
        if not crops:
            return []
        batch, scales = [], []
        for crop in crops:
            if not isinstance(crop, np.ndarray) or crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
                raise InputError(f"crops must be h x w x 3 uint8 RGB, got {getattr(crop, 'shape', type(crop).__name__)}")
            h, w = crop.shape[:2]
            side = max(h, w, 1)
            scale = _INPUT / side
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            x = np.zeros((_INPUT, _INPUT, 3), np.float32)
            x[:nh, :nw] = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            batch.append(x * (2 / 255) - 1)
            scales.append(side / _INPUT)
        out = self._model(np.stack(batch))
        regs, logits = out[self._regressors], out[self._scores][..., 0]
        faces = []
        for reg, logit, px in zip(regs, logits, scales):
            k = int(np.argmax(logit))
            score = float(1 / (1 + np.exp(-np.clip(logit[k], -_SCORE_CLIP, _SCORE_CLIP))))
            r = reg[k] / _INPUT
            cx, cy = r[0] + _ANCHORS[k, 0], r[1] + _ANCHORS[k, 1]
            bw, bh = r[2], r[3]
            box = tuple(float(v * _INPUT * px) for v in (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))
            kps = (r[4:16].reshape(6, 2) + _ANCHORS[k]) * _INPUT * px
            faces.append(Face(score, box, kps.astype(np.float32)))  # type: ignore[arg-type]
        return faces
