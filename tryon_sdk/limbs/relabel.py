"""Writing the decided sides back to the full-resolution labels."""

from __future__ import annotations

import cv2
import numpy as np

from .frame import LimbFrame, Regions
from .tables import PairTables

__all__ = ["relabel"]


def relabel(frame: LimbFrame, tables: PairTables, region_map: np.ndarray, regions: Regions, out_side: np.ndarray) -> np.ndarray:
    """Full-resolution labels (H x W uint8, a new array) with every pair pixel of the regions whose labels
    change set to its region's side (``out_side``: (R+1,) +1 left, -1 right), and (on a coarse work grid) the
    pair pixels no region reaches set to the side of the limb they belong to.

    region_map: h x w int32 region ids of ``regions`` (the limb cells' ids written into the frame's map).
    """
    lab, s, grid = frame.labels, frame.stride, frame.grid
    fixed = lab.copy()
    need = _changed(frame, regions, out_side)
    pair_all = cv2.LUT(lab, tables.pair) if s > 1 else None
    y0, y1, x0, x1 = _cells_to_visit(frame, need[regions.rid], pair_all)
    if y1 <= y0 or x1 <= x0:
        return fixed
    box = grid.pixels(y0, y1, x0, x1)
    crop = lab[box]
    pair_full = pair_all[box] if pair_all is not None else cv2.LUT(crop, tables.pair)
    pix = np.flatnonzero(pair_full != 0)
    if pix.size == 0:
        return fixed
    side_map = np.where(need, out_side, 0)
    reg = region_map[y0:y1, x0:x1]
    if s > 1:
        # thin parts may fall between samples: fill empty cells from a neighbouring region
        grown = cv2.dilate(reg.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
        reg = np.where(reg > 0, reg, grown)
    cw = crop.shape[1]
    yf, xf = np.divmod(pix, cw)
    region_of = reg[grid.rows.cell[yf + box[0].start] - y0, grid.cols.cell[xf + box[1].start] - x0]
    pk = pair_full.ravel()[pix]
    region_of = np.where(regions.pair[region_of] == pk, region_of, 0)  # a neighbour of another pair is no guide
    new_side = side_map[region_of]
    old = crop.ravel()[pix]
    new = np.where(new_side > 0, tables.left[pk], np.where(new_side < 0, tables.right[pk], old))
    patch = crop.copy()
    patch.ravel()[pix] = new
    missed = region_of == 0
    if s > 1 and missed.any() and not missed.all():
        _follow_nearest(patch, pair_full, pix[missed], pix[~missed], tables)
    fixed[box] = patch
    return fixed


def _changed(frame: LimbFrame, regions: Regions, out_side: np.ndarray) -> np.ndarray:
    """(R+1,) bool: regions with cells the parser labelled other than their decided side."""
    rid, n = regions.rid, len(regions.pair)
    area = np.bincount(rid, minlength=n).astype(np.float64)
    n_left_cells = np.bincount(rid, weights=frame.cells.side_raw > 0, minlength=n)
    return np.where(out_side > 0, area - n_left_cells, np.where(out_side < 0, n_left_cells, 0)) > 0


def _cells_to_visit(frame: LimbFrame, changing: np.ndarray, pair_all: np.ndarray | None) -> tuple[int, int, int, int]:
    """Work-grid rows ``y0..y1-1`` and columns ``x0..x1-1`` to relabel: around the ``changing`` limb cells
    ((N,) bool) and, given all pair pixels (``pair_all``: H x W uint8 pair index), around every one of these."""
    grid, cells = frame.grid, frame.cells
    h, w = frame.region_map.shape
    # only the box around the regions that change is visited (one cell of margin for the dilation) ...
    y0, y1, x0, x1 = h, 0, w, 0
    if changing.any():
        y0, y1 = max(int(cells.ys[changing].min()) - 1, 0), min(int(cells.ys[changing].max()) + 2, h)
        x0, x1 = max(int(cells.xs[changing].min()) - 1, 0), min(int(cells.xs[changing].max()) + 2, w)
    if pair_all is not None:  # ... and every pair pixel: a sliver between the samples may reach far from any region
        pair_rows = np.flatnonzero(pair_all.any(axis=1))
        if pair_rows.size:
            pair_cols = np.flatnonzero(pair_all[pair_rows[0] : pair_rows[-1] + 1].any(axis=0))
            y0, y1 = min(y0, int(grid.rows.cell[pair_rows[0]])), max(y1, int(grid.rows.cell[pair_rows[-1]]) + 1)
            x0, x1 = min(x0, int(grid.cols.cell[pair_cols[0]])), max(x1, int(grid.cols.cell[pair_cols[-1]]) + 1)
    return y0, y1, x0, x1


def _follow_nearest(
    patch: np.ndarray, pair_full: np.ndarray, missed: np.ndarray, reached: np.ndarray, tables: PairTables
) -> None:
    """Pair pixels no work-grid region reaches (a sliver thinner than the work stride, between its samples)
    take the side of the nearest reached pixel of the same connected limb, in place (``missed``,
    ``reached``: flat indices into ``patch``, ``pair_full``: its pair index); a sliver on its own keeps its labels."""
    w = patch.shape[1]
    _, comp = cv2.connectedComponents((pair_full != 0).view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    # a limb: connected pixels of one pair (an arm touching a leg does not lend it its side)
    key = comp.ravel().astype(np.int64) * (tables.n_pairs + 1) + pair_full.ravel()
    flat = patch.ravel()
    missed_pair = pair_full.ravel()[missed]
    for c in np.unique(key[missed]):
        in_c = key[missed] == c
        miss, seeds = missed[in_c], reached[key[reached] == c]
        if seeds.size == 0:
            continue
        ys, xs = np.divmod(np.concatenate([miss, seeds]), w)
        y0, x0 = ys.min(), xs.min()
        box = np.ones((ys.max() - y0 + 1, xs.max() - x0 + 1), np.uint8)
        sy, sx = np.divmod(seeds, w)
        box[sy - y0, sx - x0] = 0
        _, nearest = cv2.distanceTransformWithLabels(box, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
        # DIST_LABEL_PIXEL numbers the zero pixels from 1 in scan order
        zy, zx = np.divmod(np.flatnonzero(box.ravel() == 0), box.shape[1])
        my, mx = np.divmod(miss, w)
        k = nearest[my - y0, mx - x0] - 1
        source = (zy[k] + y0) * w + zx[k] + x0
        pair = missed_pair[in_c]
        flat[miss] = np.where(tables.side[flat[source]] > 0, tables.left[pair], tables.right[pair])
