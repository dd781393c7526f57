"""Persons' centre lines on the work grid: the whole body's, and the body's at a limb's height."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["BodyRows", "body_rows", "centre_at", "region_rows"]

_BAND_MIN_CELLS = 4  # body cells at a limb's height from which they, not the whole body, give the centre line
_BAND_MIN_SHARE = 0.5  # ... and at least this share of the limb's own cells


class BodyRows(NamedTuple):
    """Per person: cumulative per-row count and sum of x of its non-limb cells (P x h+1); whole-body
    centre and spread (P)."""

    n_cells: np.ndarray
    sum_x: np.ndarray
    centre: np.ndarray
    spread: np.ndarray


def body_rows(small: np.ndarray, pair_small: np.ndarray, persons: np.ndarray, n_persons: int) -> BodyRows:
    """Per person and work-grid row: count, sum of x and of x² of its non-limb cells (torso, head, clothes).

    small: h x w uint8 labels on the work grid; pair_small: h x w uint8 their 1-based pair index (0 not a
    limb); persons: h x w int32 person ids, ``n_persons`` of them counting the background.
    """
    h, w = small.shape
    core = np.flatnonzero((small != 0) & (pair_small == 0))
    key = persons.ravel()[core].astype(np.int64) * h + core // w
    x = (core % w).astype(np.float64)
    size = n_persons * h
    rows = [np.bincount(key, weights=wt, minlength=size).reshape(n_persons, h) for wt in (None, x, x * x)]
    cnt, sx, sxx = (np.concatenate([np.zeros((n_persons, 1)), np.cumsum(r, axis=1)], axis=1) for r in rows)
    # no torso or head visible (a legs-only crop): the limbs themselves give the line
    allc = np.flatnonzero(small != 0)
    pid = persons.ravel()[allc]
    xa = (allc % w).astype(np.float64)
    tot = [np.bincount(pid, weights=wt, minlength=n_persons) for wt in (None, xa, xa * xa)]
    thin = cnt[:, -1] < 4
    c, s1, s2 = (np.where(thin, a, b[:, -1]) for a, b in zip(tot, (cnt, sx, sxx), strict=True))
    safe = np.maximum(c, 1)
    centre = s1 / safe
    spread = np.sqrt(np.maximum(s2 / safe - centre**2, 0.0))
    return BodyRows(cnt, sx, centre, spread)


def centre_at(body: BodyRows, person: np.ndarray, y0: np.ndarray, y1: np.ndarray, area: np.ndarray) -> np.ndarray:
    """x of each region's person's centre line over rows ``y0..y1`` (inclusive): the body at the limb's
    height (trousers around legs), or the whole body's when too little of it is there (bare legs, a foot
    below the trousers: a ragged hem would put the line anywhere). All arguments but ``body`` are per region."""
    n = body.n_cells[person, y1 + 1] - body.n_cells[person, y0]
    sx = body.sum_x[person, y1 + 1] - body.sum_x[person, y0]
    with np.errstate(invalid="ignore", divide="ignore"):
        band = sx / n
    return np.where(n >= np.maximum(_BAND_MIN_CELLS, _BAND_MIN_SHARE * area), band, body.centre[person])


def region_rows(rid: np.ndarray, ys: np.ndarray, person: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per region (``n`` of them, [0] unused): first and last work-grid row, and its person (all cells of a
    region share one). rid, ys, person: (N,) per limb cell."""
    y0 = np.zeros(n, np.int64)
    y1 = np.zeros(n, np.int64)
    owner = np.zeros(n, np.int64)
    if rid.size:
        y0[:] = ys.max()
        np.minimum.at(y0, rid, ys)
        np.maximum.at(y1, rid, ys)
        owner[rid] = person
    y0[0] = y1[0] = 0
    return y0, y1, owner
