"""Garment-agnostic try-on masks: where any garment of a category could lie, not where the old one lies.

:func:`tryon_sdk.regions.agnostic_mask` dilates the old garment's classes: a try-on model given that
mask can only paint a garment of the old one's outline (a tight top cannot become a loose one, shorts
cannot become trousers, a slim skirt cannot flare). :func:`garment_agnostic_mask` masks the area any
garment of the category could take, built from the person's geometry in the parse (per person):

* ``upper_body``: the torso from the neck line down to the hips (the lowest of: the bottom of the
  upper garment, the top of the lower garment, 55% of the person's height), and the arms;
* ``lower_body``: from the waist (the top of the lower garment, or 45% of the height, whichever is
  higher) down to the ankles (the top of the shoes), the gap between the legs included;
* ``dresses``: from the neck line down to the ankles, and the arms.

Each row of that band is masked from the leftmost to the rightmost body pixel of the row (arms and
legs, torso and garments), widened on both sides by :attr:`AgnosticOptions.margin` of the person's
width; the parse's own pixels of the category's garments are added, grown by 2% of the image's
longer side (as :func:`~tryon_sdk.regions.agnostic_mask` does). Then the kept parts are removed:
face, hair, hat, sunglasses, shoes and bag as parsed, the face and the **hands** grown by
:attr:`AgnosticOptions.keep_margin` of the person's height. ATR has no hand class: a hand is the end
of an arm region, the pixels within :attr:`AgnosticOptions.hand_length` of the person's height of
the point farthest (along the arm, a geodesic distance) from the arm's end nearest to the neck
(:func:`hand_mask`); an arm region shorter than that (a hand out of a long sleeve) is all hand.

People: one band per person, from the people's boxes when given (``result.people``), else from the
connected person regions of the parse (any region at least a tenth the size of the largest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .errors import ConfigError, InputError

__all__ = ["CATEGORIES", "AgnosticOptions", "BodyRows", "garment_agnostic_mask", "hand_mask", "person_boxes", "body_rows"]

CATEGORIES: tuple[str, ...] = ("upper_body", "lower_body", "dresses")

HAT, HAIR, SUNGLASSES, UPPER, SKIRT, PANTS, DRESS, BELT = 1, 2, 3, 4, 5, 6, 7, 8
L_SHOE, R_SHOE, FACE, L_LEG, R_LEG, L_ARM, R_ARM, BAG, SCARF = 9, 10, 11, 12, 13, 14, 15, 16, 17
_HEAD = (HAT, HAIR, SUNGLASSES, FACE)
_ARMS = (L_ARM, R_ARM)
_GARMENTS: dict[str, tuple[int, ...]] = {
    "upper_body": (UPPER, SCARF),
    "lower_body": (SKIRT, PANTS, BELT),
    "dresses": (UPPER, SKIRT, PANTS, DRESS, BELT, SCARF),
}


@dataclass(frozen=True)
class AgnosticOptions:
    """Sizes of a garment-agnostic mask, as shares of the person's box.

    Attributes:
        margin: each masked row is widened by this share of the person's width on both sides
            (0.15: a garment 10% of the person's width wider than the old one still fits, with room for parse errors).
        vertical_margin: the band's ends move out by this share of the person's height.
        hand_length: a hand is the last this-share-of-the-height of an arm region (0.09; a hand is
            about 10.8% of a person's height, wrist crease to fingertip, less when it hangs bent).
        hand_reach: hand pixels are at least this share of the height away from the neck (an arm
            cannot put its hand closer, bar touching the shoulder; straps parsed as arms are not hands).
        keep_margin: the face and the hands are kept out of the mask grown by this share of the height.
        garment_dilation: the parse's garment pixels are added grown by this share of the image's
            longer side (as :func:`~tryon_sdk.regions.agnostic_mask`).
    """

    margin: float = 0.15
    vertical_margin: float = 0.05
    hand_length: float = 0.09
    hand_reach: float = 0.2
    keep_margin: float = 0.005
    garment_dilation: float = 0.02


@dataclass(frozen=True)
class BodyRows:
    """A person's rows (image pixels) that the bands are cut from.

    Attributes:
        top, bottom: the person's first and last row; height = bottom - top + 1.
        width: the person's width in pixels (its box).
        shoulder: the top of the shoulders (the first rows of body pixels that are not head).
        chin: the last row of the head (:func:`chin_row`); face, hair, hat and sunglasses below it are not kept.
        neck: the neck line (bottom of the face, or the top of the torso garment if higher).
        hip: where an upper garment ends at the lowest.
        waist: where a lower garment starts at the highest.
        ankle: where the legs end (top of the shoes).
    """

    top: int
    bottom: int
    width: int
    shoulder: int
    chin: int
    neck: int
    hip: int
    waist: int
    ankle: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1


def _check(labels: np.ndarray, category: str) -> None:
    if category not in CATEGORIES:
        raise ConfigError(f"unknown try-on category {category!r}; valid: {', '.join(CATEGORIES)}")
    if not isinstance(labels, np.ndarray) or labels.ndim != 2 or labels.dtype != np.uint8:
        raise InputError(f"labels must be an HxW uint8 array of ATR ids, got {getattr(labels, 'dtype', type(labels))} {getattr(labels, 'shape', '')}")


def person_boxes(labels: np.ndarray, min_share: float = 0.1) -> list[tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` boxes (exclusive ends) of the person regions of ``labels`` (HxW uint8), largest first.

    Regions are the connected non-background pixels after a closing that joins a person's parts;
    regions smaller than ``min_share`` of the largest are dropped.
    """
    person = (labels > 0).astype(np.uint8)
    if not person.any():
        return []
    k = max(3, round(0.01 * max(labels.shape)) | 1)
    joined = cv2.morphologyEx(person, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.argsort(areas)[::-1]
    out = []
    for i in order:
        if areas[i] < min_share * areas[order[0]]:
            break
        x, y, w, h = stats[i + 1, :4]
        out.append((int(x), int(y), int(x + w), int(y + h)))
    return out


def _row_pct(mask: np.ndarray, q: float) -> float | None:
    ys = np.nonzero(mask.any(axis=1))[0] if q in (0, 100) else np.nonzero(mask)[0]
    if ys.size < 20:
        return None
    return float(np.percentile(ys, q))


def chin_row(face: np.ndarray) -> int | None:
    """The last row of the head in a person's ``face`` mask (HxW bool): the rest below it is the neck.

    Parsers trained on ATR paint the neck as Face. Below the face's widest row, the first row narrower
    than 55% of that width (a neck is about half a face wide) ends the head; ``None`` without a face.
    """
    widths = face.sum(axis=1).astype(np.float32)
    rows = np.nonzero(widths)[0]
    if rows.size < 5:
        return None
    widths = np.convolve(widths, np.ones(5, np.float32) / 5, mode="same")
    top, bottom = int(rows[0]), int(rows[-1])
    upper = top + max(1, int(0.7 * (bottom - top + 1)))
    widest = top + int(np.argmax(widths[top:upper]))
    narrow = np.nonzero(widths[widest : bottom + 1] < 0.55 * widths[widest])[0]
    return widest + int(narrow[0]) if narrow.size else bottom


def body_rows(crop: np.ndarray) -> BodyRows | None:
    """The :class:`BodyRows` of the one person in ``crop`` (HxW uint8 ATR ids of the person's box), or ``None``."""
    person = (crop > 0) & (crop != BAG)
    ys, xs = np.nonzero(person)
    if ys.size < 50:
        return None
    top, bottom = int(ys.min()), int(ys.max())
    height = bottom - top + 1
    width = int(xs.max() - xs.min() + 1)
    face = crop == FACE
    torso = np.isin(crop, (UPPER, DRESS))
    lower = np.isin(crop, (SKIRT, PANTS))
    shoes = np.isin(crop, (L_SHOE, R_SHOE))
    legs = np.isin(crop, (L_LEG, R_LEG))
    chin = _row_pct(face, 99)
    torso_top = _row_pct(torso, 2)
    neck = min(v for v in (chin, torso_top, top + 0.18 * height) if v is not None)
    body = person & ~np.isin(crop, _HEAD)
    shoulder = min(v for v in (_row_pct(body & ~np.isin(crop, _ARMS), 0.5), neck) if v is not None)
    upper_bottom = _row_pct(crop == UPPER, 99)
    lower_top = _row_pct(lower, 2)
    hip = max(v for v in (upper_bottom, lower_top, top + 0.55 * height) if v is not None)
    waist = min(v for v in (lower_top, top + 0.40 * height) if v is not None)
    ankle_candidates = [v for v in (_row_pct(shoes, 5), _row_pct(legs | lower | (crop == DRESS), 99)) if v is not None]
    ankle = max(ankle_candidates) if ankle_candidates else bottom
    ankle = max(ankle, top + 0.75 * height)
    chin_at = chin_row(face)
    head_end = chin_at if chin_at is not None else int(neck)
    return BodyRows(top, bottom, width, int(shoulder), head_end, int(neck), int(hip), int(waist), int(min(ankle, bottom)))


def _geodesic(region: np.ndarray, seeds: np.ndarray, step: int) -> np.ndarray:
    """Chessboard geodesic distance (in ``step``-pixel steps) from ``seeds`` inside ``region`` (bool 2D); -1 unreached."""
    dist = np.full(region.shape, -1, np.int32)
    frontier = (seeds & region).astype(np.uint8)
    seen = frontier.copy()
    kernel = np.ones((3, 3), np.uint8)
    d = 0
    reg = region.astype(np.uint8)
    while frontier.any():
        dist[frontier.astype(bool)] = d
        grown = cv2.dilate(seen, kernel) & reg
        frontier = grown & (1 - seen)
        seen = grown | seen
        d += step
    return dist


def hand_mask(labels: np.ndarray, box: tuple[int, int, int, int] | None = None, options: AgnosticOptions | None = None) -> np.ndarray:
    """The hands in ``labels`` (HxW uint8 ATR ids): the ends of the arm regions (HxW bool; see the module docstring).

    ``box`` (``x0, y0, x1, y1``) limits the search to one person (default: every person region).
    """
    options = options or AgnosticOptions()
    out = np.zeros(labels.shape, bool)
    boxes = [box] if box is not None else person_boxes(labels)
    for b in boxes:
        x0, y0, x1, y1 = b
        crop = labels[y0:y1, x0:x1]
        rows = body_rows(crop)
        if rows is None:
            continue
        out[y0:y1, x0:x1] |= _hands_in(crop, rows, options)
    return out


def _hands_in(crop: np.ndarray, rows: BodyRows, options: AgnosticOptions) -> np.ndarray:
    hands = np.zeros(crop.shape, bool)
    arms = np.isin(crop, _ARMS).astype(np.uint8)
    if not arms.any():
        return hands
    hand_px = options.hand_length * rows.height
    scale = max(1, int(rows.height // 400))  # geodesic steps on a grid of at most ~400 rows per person
    n, comp, stats, _ = cv2.connectedComponentsWithStats(arms, connectivity=8)
    body_x = np.nonzero((crop > 0).any(axis=0))[0]
    neck = np.array([rows.neck, (body_x.min() + body_x.max()) / 2.0])
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if area < 10:
            continue
        region = comp[y : y + h, x : x + w] == i
        small = region[::scale, ::scale]
        ys, xs = np.nonzero(small)
        if ys.size == 0:
            continue
        d_neck = np.hypot(ys * scale + y - neck[0], xs * scale + x - neck[1])
        seeds = np.zeros_like(small)
        near = d_neck <= d_neck.min() + 2 * scale
        seeds[ys[near], xs[near]] = True
        dist = _geodesic(small, seeds, scale)
        far = dist.max()
        part = (dist >= far - hand_px) & small if far > hand_px else small
        # a hand lies away from the neck (a strap or a shoulder parsed as arm is not one)
        far_from_neck = np.zeros_like(small)
        far_from_neck[ys, xs] = d_neck >= options.hand_reach * rows.height
        part &= far_from_neck
        full = np.repeat(np.repeat(part, scale, axis=0), scale, axis=1)[:h, :w]
        hands[y : y + h, x : x + w] |= full & region
    return hands


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _band(crop: np.ndarray, rows: BodyRows, category: str, options: AgnosticOptions) -> np.ndarray:
    """The rows of the category's band, each from the leftmost to the rightmost body pixel, widened."""
    h, w = crop.shape
    vm = options.vertical_margin * rows.height
    start = rows.shoulder - vm if category != "lower_body" else rows.waist - vm
    end = rows.hip + vm if category == "upper_body" else rows.ankle + vm
    y0, y1 = max(0, int(start)), min(h, int(np.ceil(end)) + 1)
    body = (crop > 0) & (crop != BAG)
    body[: rows.chin + 1] &= ~np.isin(crop[: rows.chin + 1], _HEAD)  # the neck and hair below the chin count
    band = np.zeros((h, w), bool)
    if y1 <= y0:
        return band
    sub = body[y0:y1]
    has = sub.any(axis=1)
    first = np.argmax(sub, axis=1)
    last = w - 1 - np.argmax(sub[:, ::-1], axis=1)
    if not has.any():
        return band
    # rows without body pixels (a gap in the parse) take their neighbours' extent; none above the first
    idx = np.nonzero(has)[0]
    y0, sub, has, first, last = y0 + idx[0], sub[idx[0] :], has[idx[0] :], first[idx[0] :], last[idx[0] :]
    idx = idx - idx[0]
    fill = np.interp(np.arange(len(has)), idx, first[idx]), np.interp(np.arange(len(has)), idx, last[idx])
    # a row's extent is the median of its neighbours' (2% of the height): one-row spikes (a stray pixel) go
    k = max(1, int(0.01 * rows.height))
    if len(has) > 2 * k + 1:
        fill = tuple(np.median(np.lib.stride_tricks.sliding_window_view(np.pad(f, k, mode="edge"), 2 * k + 1), axis=1) for f in fill)
    m = options.margin * rows.width
    left = np.clip(np.floor(fill[0] - m), 0, w).astype(int)
    right = np.clip(np.ceil(fill[1] + m) + 1, 0, w).astype(int)
    cols = np.arange(w)[None, :]
    band[y0:y1] = (cols >= left[:, None]) & (cols < right[:, None])
    return band


def garment_agnostic_mask(
    labels: np.ndarray,
    category: str,
    *,
    boxes: Sequence[tuple[int, int, int, int]] | None = None,
    options: AgnosticOptions | None = None,
) -> np.ndarray:
    """Inpainting mask (HxW bool) where any garment of ``category`` could lie, from a parse (HxW uint8 ATR ids).

    ``category``: one of :data:`CATEGORIES`. ``boxes``: the people's ``(x0, y0, x1, y1)`` boxes (e.g.
    ``[p.box for p in result.people]``; default: the person regions of the parse). See the module docstring.
    """
    _check(labels, category)
    options = options or AgnosticOptions()
    H, W = labels.shape
    mask = np.zeros((H, W), bool)
    keep = np.isin(labels, (L_SHOE, R_SHOE))
    head = np.isin(labels, _HEAD)  # kept above each person's chin; the neck and hair over the shoulders are masked
    grown_keep = np.zeros((H, W), bool)
    people = list(boxes) if boxes is not None else person_boxes(labels)
    for box in people:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        # a person's box, widened so that the margins fit
        pad_x, pad_y = int(options.margin * (x1 - x0)) + 2, int(options.vertical_margin * (y1 - y0)) + 2
        bx0, by0, bx1, by1 = max(0, x0 - pad_x), max(0, y0 - pad_y), min(W, x1 + pad_x), min(H, y1 + pad_y)
        crop = labels[by0:by1, bx0:bx1]
        rows = body_rows(crop)
        if rows is None:
            continue
        part = _band(crop, rows, category, options)
        if category != "lower_body":
            arms = np.isin(crop, _ARMS).astype(np.uint8)
            r = max(1, round(options.margin * rows.width / 2))
            part |= cv2.dilate(arms, _disk(r)).astype(bool)
        mask[by0:by1, bx0:bx1] |= part
        head_end = by0 + rows.chin + 1
        keep[by0:head_end, bx0:bx1] |= head[by0:head_end, bx0:bx1]
        r_keep = max(1, round(options.keep_margin * rows.height))
        protect = _hands_in(crop, rows, options)
        protect[: rows.chin + 1] |= crop[: rows.chin + 1] == FACE
        grown_keep[by0:by1, bx0:bx1] |= cv2.dilate(protect.astype(np.uint8), _disk(r_keep)).astype(bool)
    garments = np.isin(labels, _GARMENTS[category]).astype(np.uint8)
    if garments.any():
        r = max(1, round(options.garment_dilation * max(H, W)))
        mask |= cv2.dilate(garments, _disk(r)).astype(bool)
    mask &= ~(keep | grown_keep)
    return mask
