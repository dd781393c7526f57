"""The people stage: who is in a frame, the crop to parse around each, their person mask and their face.

:class:`PeopleStage` takes frames (and, where the caller has them, the engine's coarse person scores)
and returns, per frame, the people it found as :class:`FoundPerson` records:

* **Detection.** The person segmenter (:mod:`~tryon_sdk.people.segmenter`) on the whole frame (frames
  wider than 2:1 in overlapping 16:9 tiles, so people in a wide group are not squeezed); person
  probability over 0.5, connected components with the size rules of
  :func:`~tryon_sdk.people.detect.person_components`. The engine's coarse pass, when given, adds the
  people the segmenter missed (small and far away, where a selfie segmenter is weak): a component whose
  centre lies in no segmenter box and that holds no segmenter box's centre; for these the parser alone
  decides which pixels are the person. The app's ``boxes`` skip it all.
* **Splitting.** A component that holds two or more heads side by side (peaks of its top outline at
  least a head apart and about as high, with a shoulder dip between them, every part at least a head
  wide) is split at the dips: touching people are parsed as separate people.
* **Crop** (:func:`~tryon_sdk.people.detect.crop_window`): the box grown by ``margin``, at the parser's
  aspect ratio.
* **Person mask.** The segmenter again, on the crop: at that scale the person fills its input as in
  the selfies it was trained on (on CCP framings this found every person side by side and gave the best
  coarse mIoU of the variants tried: whole-frame mask, crop mask, their maximum).
* **Face.** The head is the top of the crop's mask (its width from the mask's top rows); BlazeFace
  (:mod:`~tryon_sdk.people.faces`) scores a square crop around it, all heads of all frames in one batch.
  Heads under ``min_head_px`` wide get no face (too few pixels to tell).

Nothing here knows the parser: the caller passes the parser's input size and coarse scores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..errors import ConfigError, InputError
from ..geometry import Box
from .detect import crop_window, person_components
from .faces import Face, FaceDetector
from .person import PeopleOptions
from .segmenter import PersonProbability, PersonSegmenter

__all__ = ["FoundPerson", "PeopleStage", "head_box", "split_by_heads"]

_TILE_ASPECT = 2.0  # frames wider than this (W / H) are segmented in 16:9 tiles
_HEAD_SIDE = 2.2  # the face detector sees a square this many head widths wide
_MIN_HEAD_PX = 8  # narrower heads get no face detection
_DIP = 0.35  # a dip between two heads is at least this many head widths below both
_HEAD_APART = 1.2  # two heads' peaks are at least this many head widths apart
_HEAD_LEVEL = 1.0  # ... and at most this many head widths lower than the highest head


@dataclass(frozen=True)
class FoundPerson:
    """One person found in a frame.

    Attributes:
        box: the person's pixel box in the frame (from the detection, or the app's box).
        window: the crop parsed around them, at the parser's aspect ratio (frame pixels).
        probability: person probability over ``window`` (:class:`PersonProbability` with ``size`` the
            window's ``(h, w)``); ``None`` without the person model.
        score: mean person probability over the detection's component, in [0, 1] (1 for app boxes).
        head: the square head crop given to the face detector (frame pixels, may reach outside the frame).
        face: the best face in it, in frame pixels (``None``: head too small or not found).
        seen_by_model: the person model found this person (``False``: only the engine's coarse pass did,
            so the person model's mask is not to be trusted for them).
    """

    box: Box
    window: Box
    probability: PersonProbability | None
    score: float
    head: tuple[float, float, float, float] | None = None
    face: Face | None = None
    seen_by_model: bool = True


def head_box(mask: np.ndarray) -> tuple[tuple[float, float, float, float], float] | None:
    """Square head crop ``(x0, y0, x1, y1)`` and head width, in ``mask``'s pixels, from the top of a person
    mask (``h x w`` bool): the head is the top rows, as wide as the 90th percentile of their widths."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    widths = np.count_nonzero(mask[top:bottom], axis=1)
    height = bottom - top
    hw = float(np.median(widths[: max(2, height // 8)]))
    for _ in range(2):  # a head is about 1.3 widths tall: look at the rows above the shoulders
        hw = float(np.percentile(widths[: int(max(2, min(height, 1.2 * hw)))], 90))
    n = int(max(2, min(height, 1.2 * hw)))
    cols = np.nonzero(mask[top : top + n])[1]
    cx, cy, s = float(cols.mean()) + 0.5, top + 0.6 * hw, _HEAD_SIDE * hw
    return (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2), hw


def split_by_heads(mask: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges ``[(x0, x1), ...]`` of the people side by side in one component's mask (``h x w`` bool):
    split at the dips of its top outline between heads (see the module docstring); one range if one head."""
    h, w = mask.shape
    filled = mask.any(axis=0)
    if w < 3 or not filled.any():
        return [(0, w)]
    top = np.where(filled, mask.argmax(axis=0), h).astype(np.float64)
    rows = np.flatnonzero(mask.any(axis=1))
    # the head's width: the run of mask through the highest column, a tenth of the component's height down
    x_top = int(np.argmin(top))
    row = mask[min(h - 1, int(top[x_top] + 0.1 * (rows[-1] - rows[0] + 1)))]
    if not row[x_top]:  # a thin spike on top (a raised hand): no head to measure, no split
        return [(0, w)]
    a, b = x_top, x_top
    while a > 0 and row[a - 1]:
        a -= 1
    while b < w - 1 and row[b + 1]:
        b += 1
    hw = max(float(b - a + 1), 2.0)
    k = max(1, int(hw / 4))
    smooth = np.convolve(np.pad(top, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), mode="valid")
    peaks = [x for x in range(w) if filled[x] and smooth[x] == smooth[max(0, x - int(hw / 2)) : x + int(hw / 2) + 1].min()]
    heads: list[int] = []
    highest = float(smooth[filled].min())
    for x in peaks:  # one peak per plateau; a head of a person beside another is about as high
        if smooth[x] - highest > _HEAD_LEVEL * hw:
            continue
        if not heads or x - heads[-1] > hw / 2:
            heads.append(x)
    cuts = []
    for a, b in zip(heads, heads[1:]):
        if b - a < _HEAD_APART * hw:
            continue
        dip = a + int(np.argmax(smooth[a : b + 1]))
        if smooth[dip] - max(smooth[a], smooth[b]) >= _DIP * hw:
            cuts.append(dip)
    bounds = [0, *cuts, w]
    parts = [(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    if any(b - a < hw for a, b in parts):  # a sliver is an arm or a bag, not a person
        return [(0, w)]
    return parts


def _tiles(shape: tuple[int, int]) -> list[Box]:
    """Windows the whole-frame segmentation runs on: the frame, or overlapping 16:9 tiles of a wide one."""
    H, W = shape
    if W <= _TILE_ASPECT * H:
        return [Box(0, 0, W, H)]
    tw = min(W, int(round(H * 16 / 9)))
    n = int(np.ceil((W - tw) / (0.75 * tw))) + 1
    return [Box(int(x), 0, int(x) + tw, H) for x in np.linspace(0, W - tw, n).round()]


def _match(a: Sequence[float], b: Sequence[float]) -> bool:
    """Either box holds the other's centre."""
    def inside(box: Sequence[float], other: Sequence[float]) -> bool:
        cx, cy = 0.5 * (other[0] + other[2]), 0.5 * (other[1] + other[3])
        return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]

    return inside(a, b) or inside(b, a)


def _pad_crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """``image[box]`` with zeros where the box reaches outside the image."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    H, W = image.shape[:2]
    out = np.zeros((max(1, y1 - y0), max(1, x1 - x0), 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


class PeopleStage:
    """Finds people with the bundled person and face models (see the module docstring).

    Args:
        options: :class:`PeopleOptions` (``max_people``, ``margin``, ``min_area``, ``min_relative``).
        input_size: the parser's input ``(h, w)``; crops take its aspect ratio.
        faces: run the face detector (facing); ``False`` leaves ``face`` ``None``.
    """

    def __init__(
        self,
        options: PeopleOptions | None = None,
        *,
        input_size: tuple[int, int],
        faces: bool = True,
        threads: int | None = None,
    ) -> None:
        self.options = options or PeopleOptions()
        self.input_size = (int(input_size[0]), int(input_size[1]))
        models = self.options.person_model
        self.segmenter = PersonSegmenter(threads=threads) if models else None
        self.face_detector = FaceDetector(threads=threads) if faces and models else None

    # ---------------------------------------------------------------- detection
    def segment(self, image: np.ndarray) -> np.ndarray:
        """Whole-frame person probability on a coarse grid (``h x w`` float32, about 1/4 of the frame's
        pixels per side at most 256 wide), tiles merged by their maximum."""
        if self.segmenter is None:
            raise ConfigError("this people stage has no person model (PeopleOptions.person_model=False)")
        H, W = image.shape[:2]
        gw = min(W, 256 * max(1, len(_tiles((H, W)))))
        gh = max(1, round(H * gw / W))
        out = np.zeros((gh, gw), np.float32)
        for t in _tiles((H, W)):
            p = self.segmenter([np.ascontiguousarray(image[t.y0 : t.y1, t.x0 : t.x1])])[0]
            gx0, gx1 = round(t.x0 * gw / W), round(t.x1 * gw / W)
            win = cv2.resize(p.grid, (max(1, gx1 - gx0), gh), interpolation=cv2.INTER_LINEAR)
            np.maximum(out[:, gx0:gx1], win, out=out[:, gx0:gx1])
        return out

    def detect(self, image: np.ndarray, coarse: np.ndarray | None = None) -> list[tuple[tuple[float, ...], float]]:
        """Person boxes (frame pixels) and scores in one frame, largest first.

        coarse: the engine's person probability (``1 - P(background)``) over the frame on any grid, to add
        people the segmenter missed. Their score is negative (minus half the engine's mean probability),
        which marks them for :meth:`describe` as not seen by the person model.
        """
        opt = self.options
        H, W = image.shape[:2]
        found = self._components(self.segment(image), (H, W), split=True) if self.segmenter is not None else []
        if coarse is not None and self.segmenter is None:
            found = self._components(np.asarray(coarse, np.float32), (H, W), split=False)
        elif coarse is not None:
            extra = [c for c in self._components(np.asarray(coarse, np.float32), (H, W), split=False)
                     if not any(_match(c[0], f[0]) for f in found)]
            found += [(b, -0.5 * s) for b, s in extra]  # the segmenter did not see them: half the score, negative
        found.sort(key=lambda f: -(f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))
        return found[: opt.max_people]

    def _components(
        self, grid: np.ndarray, shape: tuple[int, int], *, split: bool
    ) -> list[tuple[tuple[float, ...], float]]:
        opt = self.options
        H, W = shape
        gh, gw = grid.shape
        comps = person_components(grid, opt.min_area * gh * gw)
        if not comps:
            return []
        best = max(m for _, m in comps)
        out = []
        for b, m in comps:
            if m < opt.min_relative * best:
                continue
            x0, y0, x1, y1 = b
            parts = [(x0, x1)]
            if split:
                sub = grid[y0:y1, x0:x1] > 0.5
                parts = [(x0 + a, x0 + c) for a, c in split_by_heads(sub)]
            for a, c in parts:
                sub = grid[y0:y1, a:c]
                on = sub > 0.5
                if not on.any():
                    continue
                ys, xs = np.nonzero(on)
                box = (
                    (a + xs.min()) * W / gw, (y0 + ys.min()) * H / gh,
                    min(W, (a + xs.max() + 1) * W / gw), min(H, (y0 + ys.max() + 1) * H / gh),
                )
                out.append((box, float(sub[on].mean())))
        return out

    # ------------------------------------------------------------------ people
    def __call__(
        self,
        images: Sequence[np.ndarray],
        *,
        coarse: Sequence[np.ndarray | None] | None = None,
        boxes: Sequence[Sequence[Sequence[float]] | None] | None = None,
    ) -> list[list[FoundPerson]]:
        """The people of each frame (``H x W x 3`` uint8 RGB).

        coarse: per frame, the engine's coarse person probability (or ``None``), see :meth:`detect`.
        boxes: per frame, the app's person boxes (``None``: find them); app boxes get score 1.
        """
        if coarse is not None and len(coarse) != len(images):
            raise InputError(f"{len(images)} frames but {len(coarse)} coarse maps")
        if boxes is not None and len(boxes) != len(images):
            raise InputError(f"{len(images)} frames but {len(boxes)} entries in boxes")
        people: list[list[FoundPerson]] = []
        for i, image in enumerate(images):
            given = boxes[i] if boxes is not None else None
            if given is None:
                dets = self.detect(image, coarse[i] if coarse is not None else None)
            else:
                dets = [(tuple(float(v) for v in b), 1.0) for b in given]
            people.append(self.describe(image, dets))
        self.add_faces(images, people)
        return people

    def describe(self, image: np.ndarray, detections: Sequence[tuple[Sequence[float], float]]) -> list[FoundPerson]:
        """Crop, crop mask and head of each detection ``(box, score)`` in one frame (faces not yet); a
        negative score marks a person only the engine's coarse pass found (see :meth:`detect`)."""
        shape = image.shape[:2]
        out = []
        for box, score in detections:
            win = crop_window(box, shape, self.input_size, self.options.margin)
            b = Box(*(int(round(v)) for v in box))
            seen = score >= 0 and self.segmenter is not None
            if self.segmenter is None:
                out.append(FoundPerson(b, win, None, abs(score), seen_by_model=False))
                continue
            crop = np.ascontiguousarray(image[win.y0 : win.y1, win.x0 : win.x1])
            grid = self.segmenter([crop])[0].grid
            prob = PersonProbability(grid, (win.y1 - win.y0, win.x1 - win.x0))
            out.append(FoundPerson(b, win, prob, abs(score), self._head(prob, win, box), seen_by_model=seen))
        return out

    @staticmethod
    def _head(prob: PersonProbability, win: Box, box: Sequence[float]) -> tuple[float, float, float, float] | None:
        """The square head crop of the person in ``box``, from the crop's mask (frame pixels)."""
        x0, y0 = max(int(box[0]), win.x0), max(int(box[1]), win.y0)
        x1, y1 = min(int(np.ceil(box[2])), win.x1), min(int(np.ceil(box[3])), win.y1)
        if x1 <= x0 or y1 <= y0:
            return None
        local = (x0 - win.x0, y0 - win.y0, x1 - win.x0, y1 - win.y0)
        scale = min(1.0, 256 / max(1, y1 - y0))  # find the head on at most a 256-row mask
        size = (max(1, round((y1 - y0) * scale)), max(1, round((x1 - x0) * scale)))
        mask = prob.window(local, size) > 0.5
        n, cc, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
        if n <= 1:
            return None
        mask = cc == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        found = head_box(mask)
        if found is None or found[1] / scale < _MIN_HEAD_PX:
            return None
        hx0, hy0, hx1, hy1 = found[0]
        return (x0 + hx0 / scale, y0 + hy0 / scale, x0 + hx1 / scale, y0 + hy1 / scale)

    def add_faces(self, images: Sequence[np.ndarray], people: list[list[FoundPerson]]) -> None:
        """Score each person's head crop with the face detector (all heads of all frames in one batch), in place."""
        if self.face_detector is None:
            return
        where = [(i, k) for i, ps in enumerate(people) for k, p in enumerate(ps) if p.head is not None]
        crops = [_pad_crop(images[i], people[i][k].head) for i, k in where]  # type: ignore[arg-type]
        for (i, k), face in zip(where, self.face_detector(crops)):
            p = people[i][k]
            hx0, hy0 = round(p.head[0]), round(p.head[1])  # type: ignore[index]
            moved = Face(
                face.score,
                (face.box[0] + hx0, face.box[1] + hy0, face.box[2] + hx0, face.box[3] + hy0),
                face.keypoints + np.array([hx0, hy0], np.float32),
            )
            people[i][k] = dataclasses.replace(p, face=moved)
