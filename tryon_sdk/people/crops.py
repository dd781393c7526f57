"""People first, step two: parse a crop around each person and paste the crops into one full-frame map.

* **Paste** (:func:`paste`): a full-frame ``C x H x W`` probability map that
  is background outside every crop; where crops overlap, each pixel takes the
  crop that is more confident (larger top probability) there.
  :func:`paste_labels` gives its argmax, the same labels, from the crops' own
  labels without building the full-frame map (IMAGE mode without
  probabilities: a 768x432 frame's 18-class map is 24 MB to fill and scan).
* **IMAGE mode** (:func:`parse_images` routes each image people first or whole,
  by ``roi`` and its size; :func:`parse_people_first`): detection (or the app's boxes),
  every crop of every image in one batch, paste, and each person's box, area,
  score and head-based facing from their crop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..labels import argmax_labels
from ..regions import Box
from ..resample import GridScores, window_on_grid
from .detect import crop_window, detect_people
from .person import PeopleOptions, Person, box_iou, coerce_options, head_facing, use_people_first

if TYPE_CHECKING:
    from ..parser import Parser

__all__ = [
    "paste",
    "paste_grids",
    "paste_labels",
    "parse_images",
    "parse_people_first",
    "person_in_crop",
    "person_score",
    "grid_score",
]

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



def parse_people_first(
    parser: "Parser",
    images: Sequence[np.ndarray],
    options: PeopleOptions,
    boxes: Sequence[np.ndarray | None] | None = None,
    *,
    probabilities: bool = True,
) -> list[tuple[torch.Tensor | None, np.ndarray, list[Person]]]:
    """IMAGE mode, people first: per image its full-frame ``C x H x W`` probabilities (``None`` unless
    ``probabilities``), its ``H x W`` uint8 labels and its people.

    ``boxes[i]`` (checked ``N x 4`` arrays) replace the detection for image ``i``. One detection pass for all
    images without boxes, then every crop of every image in batches of the parser's choosing.
    """
    boxes = list(boxes) if boxes is not None else [None] * len(images)
    need = [i for i, b in enumerate(boxes) if b is None]
    found = dict(zip(need, detect_people(parser, [images[i] for i in need], options)))
    # nobody at low resolution: look again at the model's input size (a photo filled by one person can fool
    # the small pass); a video searches again on the next frame instead
    again = [i for i in need if not found[i]]
    if again and options.detect_scale < 1.0:
        found.update(zip(again, detect_people(parser, [images[i] for i in again], options, scale=1.0)))
    plan: list[list[Box]] = []
    for i, image in enumerate(images):
        shape = image.shape[:2]
        src = [d.box for d in found[i]] if boxes[i] is None else [tuple(b) for b in boxes[i]]  # type: ignore[union-attr]
        plan.append([crop_window(b, shape, parser.config.input_size, options.margin) for b in src])
    grids = parser.predict_region_grids(images, plan)
    out = []
    for i, image in enumerate(images):
        shape = image.shape[:2]
        # overlapping crops are pasted by confidence, which needs their probabilities at full size
        full_size = probabilities or len(grids[i]) > 1
        crops = [g.full() for g in grids[i]] if full_size else []
        crop_labels = [argmax_labels(c) for c in crops] if full_size else [g.labels() for g in grids[i]]
        people = []
        for g, win, lab in zip(grids[i], plan[i], crop_labels):
            found_p = person_in_crop(lab != 0, win, None)
            if found_p is None:
                continue
            box, area, _ = found_p
            sub = lab[box.y0 - win.y0 : box.y1 - win.y0, box.x0 - win.x0 : box.x1 - win.x0]
            people.append(Person(box, area, head_facing(sub, options.facing, box.y0 == 0), None, grid_score(g)))
        full = paste(shape, crops, plan[i], parser.config.num_classes, parser.device) if probabilities else None
        if full is not None:
            labels = argmax_labels(full)
        else:
            labels = paste_labels(shape, crops if full_size else None, plan[i], crop_labels)
        out.append((full, labels, people))
    return out


def parse_images(
    parser: "Parser",
    images: Sequence[np.ndarray],
    roi: Any,
    boxes: Sequence[np.ndarray | None] | None,
    probabilities: bool,
) -> list[tuple[torch.Tensor | None, np.ndarray | None, list[Person] | None]]:
    """IMAGE mode: per image its ``C x H x W`` scores, its labels and its people.

    An image is parsed people first when ``roi`` asks for it (:func:`use_people_first`) or it has app-given
    ``boxes``: labels and people come with it. Else it is parsed whole at the model's input size, and its
    people are ``None``. The scores come only when ``probabilities`` (else ``None``: labels are taken on the
    model's grid, :class:`~tryon_sdk.resample.GridScores`).
    """
    options = coerce_options(roi)
    boxes = list(boxes) if boxes is not None else [None] * len(images)
    input_size = parser.config.input_size
    first = [
        i
        for i, (im, b) in enumerate(zip(images, boxes))
        if options is not None and (b is not None or use_people_first(roi, im.shape[:2], input_size))
    ]
    found: dict[int, tuple[torch.Tensor | None, np.ndarray | None, list[Person] | None]] = {}
    if first:
        assert options is not None
        done = parse_people_first(
            parser, [images[i] for i in first], options, [boxes[i] for i in first], probabilities=probabilities
        )
        found = dict(zip(first, done))
    whole = [i for i in range(len(images)) if i not in found]
    for i, grid in zip(whole, parser.predict_grids([images[i] for i in whole], probabilities=probabilities)):
        found[i] = (grid.full(), None, None) if probabilities else (None, grid.labels(), None)
    return [found[i] for i in range(len(images))]
