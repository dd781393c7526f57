"""Limb regions on the work grid: connected regions, splitting two limbs called one, votes and geometry."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from ..resample import GridScores
from .body import centre_at, region_rows
from .frame import LimbFrame, Regions
from .tables import PairTables

__all__ = ["RegionGeometry", "connected_regions", "region_geometry", "split_at_centre", "split_touching"]

_SPLIT_MIN_SHARE = 0.25  # each side holds at least this share of a region to consider a split
_SPLIT_MIN_CELLS = 8
_SPLIT_AGREEMENT = 0.85  # share of pixels a vertical line must put on their own side
_SPLIT_Y_OVERLAP = 0.5  # the two parts overlap over this share of the shorter one's height
_SPLIT_MAX_ASPECT = 2.0  # each part at most this many times wider than tall


class RegionGeometry(NamedTuple):
    """Per region (index 0 unused): cell count, vote in [-1, 1], centroid x and y, person, and its offset in
    [-1, 1] from the whole body's centre line and from the centre line at the region's height."""

    area: np.ndarray
    vote: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    person: np.ndarray
    offset: np.ndarray
    offset_at_height: np.ndarray


def connected_regions(pair_small: np.ndarray, n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Work-grid region ids (h x w int32) and each region's 1-based pair index (int32, [0] unused) from the
    h x w uint8 pair index of each cell."""
    regions = np.zeros(pair_small.shape, np.int32)
    pair_of = [0]
    for k in range(1, n_pairs + 1):
        mask = (pair_small == k).view(np.uint8)
        if not mask.any():
            continue
        n, cc = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
        if n > 1:
            np.add(cc, len(pair_of) - 1, out=cc, where=cc > 0)
            regions += cc
            pair_of.extend([k] * (n - 1))
    return regions, np.array(pair_of, np.int32)


def split_touching(frame: LimbFrame, regions: Regions) -> Regions:
    """Split regions that are two side-by-side limbs (e.g. legs standing together)."""
    rid, region_pair = regions
    cells = frame.cells
    n = len(region_pair)
    area = np.bincount(rid, minlength=n)
    n_left = np.bincount(rid, weights=cells.side_raw > 0, minlength=n)
    both = np.minimum(n_left, area - n_left)
    candidates = np.flatnonzero((both >= _SPLIT_MIN_SHARE * area) & (area >= _SPLIT_MIN_CELLS))
    if candidates.size == 0:
        return regions
    rid = rid.copy()
    pairs = list(region_pair)
    for j in candidates:
        sel = np.flatnonzero(rid == j)
        on_right = _side_by_side(cells.xs[sel], cells.ys[sel], cells.side_raw[sel] > 0)
        if on_right is not None:
            rid[sel[on_right]] = len(pairs)
            pairs.append(pairs[j])
    return Regions(rid, np.array(pairs, np.int32))


def _side_by_side(x: np.ndarray, y: np.ndarray, left: np.ndarray) -> np.ndarray | None:
    """The cells (x, y: (M,) int64, ``left``: (M,) bool labelled left) of one region on the right of a vertical
    line between its left- and right-labelled parts, when these are two limbs side by side; else None."""
    x_left, x_right = x[left].mean(), x[~left].mean()
    if abs(x_left - x_right) < 1.0:
        return None
    on_right = x > 0.5 * (x_left + x_right)
    right_is_left = x_left > x_right
    if np.mean(on_right == (left == right_is_left)) < _SPLIT_AGREEMENT:
        return None
    y_left, y_right = y[left], y[~left]
    overlap = min(y_left.max(), y_right.max()) - max(y_left.min(), y_right.min()) + 1
    shorter = min(np.ptp(y_left), np.ptp(y_right)) + 1
    if overlap < _SPLIT_Y_OVERLAP * shorter:
        return None
    if any(np.ptp(x[part]) + 1 > _SPLIT_MAX_ASPECT * (np.ptp(y[part]) + 1) for part in (on_right, ~on_right)):
        return None  # limbs side by side are columns or blobs; pieces of one horizontal arm stay one limb
    return on_right


def split_at_centre(frame: LimbFrame, regions: Regions, persons_to_split: np.ndarray, centre_split: np.ndarray) -> Regions:
    """Split the regions of the pairs in ``centre_split`` ((n_pairs+1,) bool: legs and shoes) of the given
    persons ((P+1,) bool) that straddle their centre line there (two limbs standing together that the parser
    called one)."""
    rid, region_pair = regions
    cells = frame.cells
    n = len(region_pair)
    y0, y1, region_person = region_rows(rid, cells.ys, cells.person, n)
    candidates = np.flatnonzero(centre_split[region_pair] & persons_to_split[region_person])
    if candidates.size == 0:
        return regions
    area = np.bincount(rid, minlength=n)
    line = centre_at(frame.body, region_person, y0, y1, area)
    right = cells.xs >= line[rid]
    n_right = np.bincount(rid, weights=right, minlength=n)
    both = np.minimum(n_right, area - n_right)
    candidates = candidates[(both[candidates] >= _SPLIT_MIN_SHARE * area[candidates]) & (area[candidates] >= _SPLIT_MIN_CELLS)]
    if candidates.size == 0:
        return regions
    rid = rid.copy()
    pairs = list(region_pair)
    for j in candidates:
        rid[(rid == j) & right] = len(pairs)
        pairs.append(pairs[j])
    return Regions(rid, np.array(pairs, np.int32))


def region_geometry(frame: LimbFrame, regions: Regions, tables: PairTables) -> RegionGeometry:
    """Per region (index 0 unused): area, vote, centroid, person and offsets from its person's centre lines."""
    rid, n = regions.rid, len(regions.pair)
    cells = frame.cells
    area = np.bincount(rid, minlength=n).astype(np.float64)
    m_left, m_right = _side_mass(frame, rid, n, tables, area)
    with np.errstate(invalid="ignore", divide="ignore"):
        vote = np.nan_to_num((m_left - m_right) / (m_left + m_right))
        cx = np.bincount(rid, weights=cells.xs, minlength=n) / np.maximum(area, 1)
        cy = np.bincount(rid, weights=cells.ys, minlength=n) / np.maximum(area, 1)
    y0, y1, person = region_rows(rid, cells.ys, cells.person, n)
    body = frame.body
    spread = np.maximum(body.spread[person], 1.0)
    offset = np.clip((cx - body.centre[person]) / spread, -1.0, 1.0)
    at_height = np.clip((cx - centre_at(body, person, y0, y1, area)) / spread, -1.0, 1.0)
    offset[0] = at_height[0] = 0.0
    return RegionGeometry(area, vote, cx, cy, person, offset, at_height)


def _side_mass(
    frame: LimbFrame, rid: np.ndarray, n: int, tables: PairTables, area: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per region ((n,) float64): its left and right mass, cell counts of each side as the parser labelled
    them, or the probability mass of the pair's left and right class at the cells' samples."""
    cells, probs = frame.cells, frame.probs
    if probs is None:
        m_left = np.bincount(rid, weights=cells.side_raw > 0, minlength=n)
        return m_left, area - m_left
    pk = frame.pair_small.ravel()[cells.idx]
    yf, xf = frame.grid.rows.sample[cells.ys], frame.grid.cols.sample[cells.xs]
    at = probs.at if isinstance(probs, GridScores) else lambda c, y, x: probs[c, y, x]
    m_left = np.bincount(rid, weights=at(tables.left[pk], yf, xf), minlength=n)
    m_right = np.bincount(rid, weights=at(tables.right[pk], yf, xf), minlength=n)
    return m_left, m_right
