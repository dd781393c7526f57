"""People first: paste the parsed crops of a frame's people into one full-frame map.

* **Paste** (:func:`paste`): a full-frame ``C x H x W`` probability map that
  is background outside every crop; where crops overlap, each pixel takes the
  crop that is more confident (larger top probability) there.
  :func:`paste_labels` gives its argmax, the same labels, from the crops' own
  labels without building the full-frame map (IMAGE mode without
  probabilities: a 768x432 frame's 18-class map is 24 MB to fill and scan).
* **A person in a crop** (:func:`person_in_crop`): the box and area of the person mask in a crop.

The frame path that uses them is :mod:`tryon_sdk.people_first`.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..geometry import Box
from ..resample import GridScores, window_on_grid
from .person import box_iou

__all__ = ["paste", "paste_grids", "paste_labels", "person_in_crop", "person_score", "grid_score"]

_NEAR = 0.25  # mask components within this share of the previous box's size (per side) are the person
_TRIM = 0.02  # a tracked box leaves out this share of the mask's mass on each side (thin paint bleeding away)


def _pasted_where(
    shape: tuple[int, int], crops: Sequence[torch.Tensor] | None, windows: Sequence[Box]
) -> Iterator[torch.Tensor | None]:
    """Per crop: where it is pasted, as an ``h x w`` bool tensor over its window (``None``: all of it).

    Crops are pasted in order; where a window overlaps earlier ones, a pixel takes the crop that is more
    confident there (larger top probability). ``crops=None``: a single window, no probabilities needed."""
    if crops is None:
        if len(windows) > 1:
            raise InputError(f"{len(windows)} windows: pasting more than one needs the crops' probabilities")
        yield from [None] * len(windows)
        return
    conf: torch.Tensor | None = None  # top probability of the crop pasted at each pixel, -1 where none
    covered: list[Box] = []
    for probs, win in zip(crops, windows):
        x0, y0, x1, y1 = win
        overlaps = any(box_iou(win, c) > 0 for c in covered)
        top = probs.float().amax(0) if overlaps or len(crops) > 1 else None
        if overlaps:
            assert conf is not None and top is not None
            take = top > conf[y0:y1, x0:x1]
            conf[y0:y1, x0:x1] = torch.maximum(top, conf[y0:y1, x0:x1])
            yield take
        else:  # nothing pasted here yet
            if top is not None:
                if conf is None:
                    conf = torch.full(shape, -1.0, device=top.device)
                conf[y0:y1, x0:x1] = top
            yield None
        covered.append(win)


def paste(
    shape: tuple[int, int], crops: Sequence[torch.Tensor], windows: Sequence[Box], num_classes: int, device: Any = None
) -> torch.Tensor:
    """Full-frame ``C x H x W`` float32 probabilities: background outside the crops, the more confident crop
    where crops overlap. ``crops[i]`` is ``C x h x w`` at ``windows[i]``'s size."""
    H, W = shape
    dev = crops[0].device if crops else (device or "cpu")
    full = torch.zeros((num_classes, H, W), dtype=torch.float32, device=dev)
    full[0] = 1.0
    for probs, win, take in zip(crops, windows, _pasted_where(shape, crops, windows)):
        x0, y0, x1, y1 = win
        region = full[:, y0:y1, x0:x1]
        region[:] = probs.float() if take is None else torch.where(take[None], probs.float(), region)
    return full


def paste_grids(
    size: tuple[int, int],
    grid_size: tuple[int, int],
    grids: Sequence[GridScores],
    windows: Sequence[Box],
    num_classes: int,
    device: Any = None,
) -> GridScores:
    """:func:`paste` on a grid over the frame instead of its pixels: each crop's scores (on its own grid, at
    ``windows[i]`` of a frame of ``size``) are resampled onto the frame grid's cells (``grid_size``) in its
    window (:func:`~tryon_sdk.resample.window_on_grid`), then pasted as :func:`paste` does. A stream's frame
    map costs the grid's cells, not the frame's pixels."""
    sampled, cells = [], []
    for g, win in zip(grids, windows):
        (gx0, gy0, gx1, gy1), t = window_on_grid(g.scores, win, size, grid_size)
        if gx1 > gx0 and gy1 > gy0:
            sampled.append(t)
            cells.append(Box(gx0, gy0, gx1, gy1))
    return GridScores(paste(grid_size, sampled, cells, num_classes, device), size)


def paste_labels(
    shape: tuple[int, int], crops: Sequence[torch.Tensor] | None, windows: Sequence[Box], labels: Sequence[np.ndarray]
) -> np.ndarray:
    """``argmax(paste(shape, crops, windows, ...))`` as an ``H x W`` uint8 map, from each crop's ``h x w``
    labels: background outside the crops, the more confident crop where crops overlap. ``crops`` (their
    probabilities) may be ``None`` for a single window."""
    out = np.zeros(shape, np.uint8)
    for lab, win, take in zip(labels, windows, _pasted_where(shape, crops, windows)):
        x0, y0, x1, y1 = win
        region = out[y0:y1, x0:x1]
        region[:] = lab if take is None else np.where(take.cpu().numpy(), lab, region)
    return out


def person_in_crop(
    mask: np.ndarray, window: Box, near: Sequence[float] | None
) -> tuple[Box, int, np.ndarray] | None:
    """Box (frame pixels), pixel area and mask (``h x w`` bool) of the person in a crop's person mask.

    ``near``: the person's previous box (frame pixels); only mask components touching it (grown by half its
    size) count, so a neighbour stepping into the crop does not join. ``None`` takes every component.
    """
    if not mask.any():
        return None
    x0w, y0w = window.x0, window.y0
    if near is not None:
        n, cc, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        bw, bh = near[2] - near[0], near[3] - near[1]
        nx0, ny0 = near[0] - x0w - _NEAR * bw, near[1] - y0w - _NEAR * bh
        nx1, ny1 = near[2] - x0w + _NEAR * bw, near[3] - y0w + _NEAR * bh
        keep = np.zeros(n, bool)
        for k in range(1, n):
            x, y, w, h = stats[k, :4]
            keep[k] = x < nx1 and x + w > nx0 and y < ny1 and y + h > ny0
        if not keep.any():
            return None
        mask = keep[cc]
    if near is not None:  # tracking: the span holding all but a trimmed share of the mass on each side
        (xa, xb), (ya, yb) = _span(mask.sum(axis=0)), _span(mask.sum(axis=1))
    else:
        ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        (xa, xb), (ya, yb) = (int(xs[0]), int(xs[-1]) + 1), (int(ys[0]), int(ys[-1]) + 1)
    box = Box(xa + x0w, ya + y0w, xb + x0w, yb + y0w)
    return box, int(np.count_nonzero(mask)), mask


def person_score(probs_bg: torch.Tensor, mask: np.ndarray) -> float:
    """A person's score: the mean probability of not being background over their mask (both ``h x w``)."""
    return float(1.0 - probs_bg.float().cpu().numpy()[mask].mean())


def grid_score(grid: GridScores) -> float:
    """:func:`person_score` of everyone in a crop, on the model's grid (no full-size probabilities needed)."""
    person = grid.grid_labels != 0
    return person_score(grid.scores[0], person) if person.any() else 0.0


def _span(profile: np.ndarray) -> tuple[int, int]:
    """``[a, b)`` holding all of a mass profile but :data:`_TRIM` of it on each side."""
    c = np.cumsum(profile, dtype=np.float64)
    total = c[-1]
    return int(np.searchsorted(c, _TRIM * total, side="right")), int(np.searchsorted(c, (1 - _TRIM) * total)) + 1
