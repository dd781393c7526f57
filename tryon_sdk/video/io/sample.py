"""A bundled sample with no third-party data: a drawn person walking in a room.

:func:`sample_frames` renders RGB frames and their ground-truth ATR labels from
the same geometry (so a demo can say how well the model did). The figure
faces the camera, so its left arm, leg and shoe are on the image's right.
"""

from __future__ import annotations

import math
from typing import Iterator

import cv2
import numpy as np

__all__ = ["sample_frames", "SAMPLE_FPS"]

SAMPLE_FPS = 10

_SKIN = (224, 180, 150)
_HAIR = (60, 40, 30)
_SHIRT = (190, 40, 50)
_PANTS = (40, 60, 130)
_SHOE = (30, 30, 30)


def _room(h: int, w: int) -> np.ndarray:
    img = np.empty((h, w, 3), np.uint8)
    wall = np.linspace(215, 185, int(h * 0.75))[:, None, None] * np.array([1.0, 0.97, 0.9])
    img[: wall.shape[0]] = wall.astype(np.uint8)
    floor = np.linspace(150, 110, h - wall.shape[0])[:, None, None] * np.array([1.0, 0.8, 0.55])
    img[wall.shape[0] :] = floor.astype(np.uint8)
    return img


def _limb(img, lab, a, b, width, colour, cls):
    a, b = tuple(int(v) for v in a), tuple(int(v) for v in b)
    cv2.line(img, a, b, colour, width, cv2.LINE_AA)
    cv2.line(lab, a, b, int(cls), width, cv2.LINE_8)


def render_person(h: int, w: int, t: float, cx: float) -> tuple[np.ndarray, np.ndarray]:
    """One frame (``HxWx3`` uint8 RGB, ``HxW`` uint8 ATR labels) at walk phase ``t`` (radians), centre ``cx`` (pixels)."""
    img = _room(h, w)
    lab = np.zeros((h, w), np.uint8)
    s = h / 480.0  # body scale
    top = 0.12 * h
    hip_y, shoulder_y = top + 230 * s, top + 75 * s
    swing = math.sin(t)
    # legs and shoes (person's right leg on the image's left)
    for _side, sign, leg_cls, shoe_cls in (("right", -1, 13, 10), ("left", 1, 12, 9)):
        hip = (cx + sign * 18 * s, hip_y)
        foot = (cx + sign * 28 * s + 10 * s * swing * sign, top + 360 * s)
        _limb(img, lab, hip, foot, int(30 * s), _PANTS, 6)
        ankle = foot
        _limb(img, lab, (ankle[0], ankle[1] - 6 * s), (ankle[0], ankle[1] + 4 * s), int(22 * s), _SKIN, leg_cls)
        shoe = np.array([[ankle[0] - 14 * s, ankle[1] + 4 * s], [ankle[0] + 14 * s, ankle[1] + 4 * s],
                         [ankle[0] + 16 * s, ankle[1] + 18 * s], [ankle[0] - 16 * s, ankle[1] + 18 * s]], np.int32)
        cv2.fillPoly(img, [shoe], _SHOE)
        cv2.fillPoly(lab, [shoe], shoe_cls)
    # torso
    torso = np.array([[cx - 45 * s, shoulder_y], [cx + 45 * s, shoulder_y],
                      [cx + 38 * s, hip_y + 10 * s], [cx - 38 * s, hip_y + 10 * s]], np.int32)
    cv2.fillPoly(img, [torso], _SHIRT)
    cv2.fillPoly(lab, [torso], 4)
    # arms: sleeve then skin forearm
    for sign, arm_cls in ((-1, 15), (1, 14)):
        shoulder = (cx + sign * 50 * s, shoulder_y + 10 * s)
        elbow = (cx + sign * 62 * s + 12 * s * swing * sign, shoulder_y + 80 * s)
        hand = (cx + sign * 66 * s + 22 * s * swing * sign, shoulder_y + 150 * s)
        _limb(img, lab, shoulder, elbow, int(24 * s), _SHIRT, 4)
        _limb(img, lab, elbow, hand, int(18 * s), _SKIN, arm_cls)
    # neck, face, hair
    _limb(img, lab, (cx, shoulder_y - 18 * s), (cx, shoulder_y + 2 * s), int(20 * s), _SKIN, 11)
    head = (int(cx), int(top + 30 * s))
    axes = (int(24 * s), int(32 * s))
    cv2.ellipse(img, head, (axes[0] + 4, axes[1] + 4), 0, 180, 360, _HAIR, -1, cv2.LINE_AA)
    cv2.ellipse(lab, head, (axes[0] + 4, axes[1] + 4), 0, 180, 360, 2, -1)
    cv2.ellipse(img, (head[0], head[1] + int(4 * s)), axes, 0, 0, 360, _SKIN, -1, cv2.LINE_AA)
    cv2.ellipse(lab, (head[0], head[1] + int(4 * s)), axes, 0, 0, 360, 11, -1)
    return img, lab


def sample_frames(num_frames: int = 40, size: tuple[int, int] = (432, 768), seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``num_frames`` (frame, labels) pairs of the figure walking left to right, at :data:`SAMPLE_FPS`."""
    h, w = size
    rng = np.random.default_rng(seed)
    for i in range(num_frames):
        cx = w * (0.3 + 0.4 * i / max(1, num_frames - 1))
        img, lab = render_person(h, w, t=i * 0.6, cx=cx)
        noise = rng.integers(-4, 5, img.shape, dtype=np.int16)
        yield np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8), lab
