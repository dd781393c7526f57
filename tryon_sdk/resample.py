"""From the model's grid to an image's own size: class scores, or straight to labels.

The network's scores for an image (or a crop) live on its letterboxed grid,
smaller than the image. :meth:`GridScores.full` resizes every class
bilinearly (what probability outputs and temporal smoothing need).
:meth:`GridScores.labels` gives ``argmax(full())`` without building the
``C x H x W`` map: a pixel whose four bilinear source cells share one argmax
keeps it (a convex mix of score vectors that all peak at class ``k`` peaks
at ``k``), so only pixels next to a label boundary on the grid (a band a
cell or two wide) are interpolated, class by class. A 768x432 frame on a
288x162 grid has its labels in a fraction of the time and memory the full
resize and argmax take, and the same labels (bar float rounding on exact
ties).

:class:`WorkGrid` is the other way: a grid ``s`` times coarser than an image, sampled at its cells'
centres (:func:`centre_samples`) so that a mirrored image gives the mirrored grid, with each pixel's cell.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .labels import argmax_labels

__all__ = ["GridScores", "WorkAxis", "WorkGrid", "centre_samples", "upsampled_labels", "window_on_grid", "work_axis"]


@dataclass(frozen=True)
class GridScores:
    """Class scores on the model's grid (``C x h x w`` float tensor) for an image or crop of ``size`` (H, W)."""

    scores: torch.Tensor
    size: tuple[int, int]

    @property
    def scale(self) -> float:
        """The grid's scale: its height over the image's."""
        return self.scores.shape[-2] / self.size[0]

    @functools.cached_property
    def grid_labels(self) -> np.ndarray:
        """``h x w`` uint8 argmax on the grid itself."""
        return argmax_labels(self.scores)

    def full(self) -> torch.Tensor:
        """``C x H x W`` scores at the image's size (bilinear, ``align_corners=False``)."""
        if tuple(self.scores.shape[-2:]) == tuple(self.size):
            return self.scores
        return F.interpolate(self.scores[None], size=self.size, mode="bilinear", align_corners=False)[0]

    def labels(self) -> np.ndarray:
        """``H x W`` uint8 ``argmax(self.full())``, interpolating classes only near label boundaries."""
        return upsampled_labels(self.scores, self.size, grid_labels=self.grid_labels)

    def at(self, classes: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """``self.full()[classes, ys, xs]`` (float32, one value per point) without resizing the map."""
        a = self.scores.detach().float().cpu().numpy()
        if tuple(a.shape[-2:]) == tuple(self.size):
            return a[classes, ys, xs]
        return _bilinear_at(a, classes, ys, xs, self.size)


def _bilinear_axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source cells and weight of bilinear resizing along one axis, as torch computes them (float32)."""
    scale = np.float32(n_in / n_out)
    src = np.maximum(scale * (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5), 0)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    lam = np.clip(src - i0, 0, 1).astype(np.float32)
    return i0, np.minimum(i0 + 1, n_in - 1), lam


def _bilinear_at(a: np.ndarray, classes: np.ndarray | slice, ys: np.ndarray, xs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Values of ``a`` (``C x h x w``) resized bilinearly to ``size``, at the output pixels (``ys``, ``xs``):
    ``len(ys)`` values for per-point ``classes``, ``C x len(ys)`` for ``slice(None)``."""
    y0, y1, wy = _bilinear_axis(a.shape[-2], size[0])
    x0, x1, wx = _bilinear_axis(a.shape[-1], size[1])
    ya, yb, xa, xb, ly, lx = y0[ys], y1[ys], x0[xs], x1[xs], wy[ys], wx[xs]
    top = (1 - lx) * a[classes, ya, xa] + lx * a[classes, ya, xb]
    return (1 - ly) * top + ly * ((1 - lx) * a[classes, yb, xa] + lx * a[classes, yb, xb])


def upsampled_labels(scores: torch.Tensor, size: tuple[int, int], *, grid_labels: np.ndarray | None = None) -> np.ndarray:
    """``argmax`` of ``scores`` (``C x h x w``) resized bilinearly to ``size`` (H, W): ``H x W`` uint8 ids.

    Equal to ``argmax_labels(F.interpolate(scores[None], size, mode="bilinear")[0])``; only the pixels whose
    source cells disagree are interpolated. ``grid_labels``: the argmax on the grid, when already known.
    """
    low = argmax_labels(scores) if grid_labels is None else grid_labels
    h, w = low.shape
    H, W = int(size[0]), int(size[1])
    if (h, w) == (H, W):
        return low.copy()
    # grid cells whose 2x2 neighbourhood (clamped at the edges) holds more than one label
    down = np.concatenate([low[1:], low[-1:]], axis=0)
    mixed = (low != down) | (low != np.concatenate([low[:, 1:], low[:, -1:]], axis=1))
    mixed |= low != np.concatenate([down[:, 1:], down[:, -1:]], axis=1)
    y0, x0 = _bilinear_axis(h, H)[0], _bilinear_axis(w, W)[0]
    out = low.take(y0, axis=0).take(x0, axis=1)
    if mixed.any():
        ys, xs = _band(mixed, y0, x0)
        values = _bilinear_at(scores.detach().float().cpu().numpy(), slice(None), ys, xs, (H, W))
        out[ys, xs] = argmax_labels(torch.from_numpy(values))
    return out


def _band(mixed: np.ndarray, y0: np.ndarray, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the output pixels whose source cell (``y0[row]``, ``x0[col]``) is ``mixed``.

    Cells map to runs of consecutive columns (``x0`` is sorted), so the band is built from the (row, cell)
    pairs without scanning every output pixel.
    """
    rows, cells = np.nonzero(mixed.take(y0, axis=0))
    per_cell = np.bincount(x0, minlength=mixed.shape[1])
    first = np.cumsum(per_cell) - per_cell  # first output column of each cell
    n = per_cell[cells]
    ys = np.repeat(rows, n)
    start = np.cumsum(n) - n
    xs = np.repeat(first[cells] - start, n) + np.arange(int(n.sum()))
    return ys, xs


def _window_cells(start: int, stop: int, n_frame: int, n_grid: int) -> tuple[int, int, torch.Tensor]:
    """Along one axis: the frame-grid cells ``[j0, j1)`` whose centres lie in the window ``[start, stop)`` (frame
    pixels), and their centres in the window's normalised coordinates (-1 and 1 at its edges, float64)."""
    s = n_grid / n_frame
    j0 = max(0, math.ceil(start * s - 0.5))
    j1 = min(n_grid, max(j0, math.ceil(stop * s - 0.5)))
    u = (torch.arange(j0, j1, dtype=torch.float64) + 0.5) / s - start  # cell centres in window pixels
    return j0, j1, 2 * u / (stop - start) - 1


def window_on_grid(
    scores: torch.Tensor, window: tuple[int, int, int, int], frame_size: tuple[int, int], grid_size: tuple[int, int]
) -> tuple[tuple[int, int, int, int], torch.Tensor]:
    """A window's scores resampled onto a grid over the whole frame.

    ``scores``: ``C x h x w`` on the window's own grid; ``window``: ``(x0, y0, x1, y1)`` frame pixels;
    ``frame_size``: the frame's ``(H, W)``; ``grid_size``: the frame grid's ``(gh, gw)``, cell ``(i, j)``
    centred on frame pixel ``((i + 0.5) * H / gh, (j + 0.5) * W / gw)``. Returns the grid cells
    ``(gx0, gy0, gx1, gy1)`` whose centres lie in the window and the ``C x (gy1 - gy0) x (gx1 - gx0)`` float32
    scores there: the window's map resized bilinearly to the frame (``align_corners=False``, edges clamped)
    and sampled at those centres, without building it. Cell centres are mirror-symmetric, so a mirrored
    window gives the mirrored cells.
    """
    x0, y0, x1, y1 = (int(v) for v in window)
    gy0, gy1, ny = _window_cells(y0, y1, frame_size[0], grid_size[0])
    gx0, gx1, nx = _window_cells(x0, x1, frame_size[1], grid_size[1])
    a = scores.float()
    if gy1 == gy0 or gx1 == gx0:  # a window narrower than a cell
        return (gx0, gy0, gx1, gy1), a.new_zeros((a.shape[0], gy1 - gy0, gx1 - gx0))
    if tuple(grid_size) == tuple(frame_size):  # cells are pixels: the plain resize, about twice as fast
        resized = F.interpolate(a[None], size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False)[0]
        return (gx0, gy0, gx1, gy1), resized
    grid = torch.stack(torch.meshgrid(nx, ny, indexing="xy"), -1).to(a.device, torch.float32)
    out = F.grid_sample(a[None], grid[None], mode="bilinear", padding_mode="border", align_corners=False)[0]
    return (gx0, gy0, gx1, gy1), out


def centre_samples(n: int, s: int) -> np.ndarray:
    """Pixel indices of ``ceil(n / s)`` samples over ``n`` pixels (one more where ``n`` is even and that
    count odd), one at the centre of each of as many equal cells, picked mirror-symmetrically (index ``k``
    from the end is ``n - 1`` minus index ``k`` from the start): a mirrored frame is sampled at the mirrored
    pixels, which every ``s``-th pixel from the first is not."""
    m = -(-n // s)
    m += (n % 2 == 0) and (m % 2 == 1) and m < n  # an even row has no middle pixel for a middle cell
    first = np.floor((np.arange(m) + 0.5) * (n / m)).astype(np.int64)
    return np.where(np.arange(m) < m / 2, first, n - 1 - first[::-1])


class WorkAxis(NamedTuple):
    """One axis of a work grid (:func:`work_axis`): the pixel each cell samples, each pixel's cell, each cell's pixel span."""

    sample: np.ndarray  # (n_cells,) int64 pixel index sampled by each cell
    cell: np.ndarray  # (n_pixels,) int64 cell of each pixel (its nearest sample)
    start: np.ndarray  # (n_cells,) first pixel of each cell
    stop: np.ndarray  # (n_cells,) one past its last pixel


def work_axis(n: int, s: int) -> WorkAxis:
    """``ceil(n / s)`` cells over ``n`` pixels, mirror-symmetric (:func:`centre_samples`): each cell samples the
    pixel at its centre; a pixel belongs to the nearest sample, ties going towards the middle, so cell ``k``
    from the end is cell ``k`` from the start mirrored."""
    sample = centre_samples(n, s)
    m = len(sample)
    p = np.arange(n)
    hi = np.clip(np.searchsorted(sample, p), 1, max(m - 1, 1)) if m > 1 else np.zeros(n, np.int64)
    lo = np.maximum(hi - 1, 0)
    d_lo, d_hi = np.abs(p - sample[lo]), np.abs(sample[hi] - p)
    towards_middle = np.where(p < (n - 1) / 2, hi, lo)
    cell = np.where(d_lo < d_hi, lo, np.where(d_hi < d_lo, hi, towards_middle))
    start = np.searchsorted(cell, np.arange(m), side="left")
    stop = np.searchsorted(cell, np.arange(m), side="right")
    return WorkAxis(sample, cell, start, stop)


class WorkGrid(NamedTuple):
    """A grid ``s`` times coarser than an image, sampled at its cells' centres (:func:`work_axis` per axis)."""

    rows: WorkAxis
    cols: WorkAxis

    @staticmethod
    def of(shape: tuple[int, int], s: int) -> "WorkGrid":
        """The work grid of stride ``s`` over an image of ``shape`` (H, W)."""
        return WorkGrid(work_axis(shape[0], s), work_axis(shape[1], s))

    def sample(self, image: np.ndarray) -> np.ndarray:
        """``h x w`` (C-contiguous) values of an ``H x W`` image at the cells' samples."""
        return np.ascontiguousarray(image.take(self.rows.sample, axis=0).take(self.cols.sample, axis=1))

    def cells(self, box: tuple[int, int, int, int]) -> tuple[slice, slice]:
        """The cells covering a pixel box ``(x0, y0, x1, y1)`` (exclusive ends, inside the image)."""
        x0, y0, x1, y1 = box
        return (
            slice(int(self.rows.cell[y0]), int(self.rows.cell[max(y1 - 1, y0)]) + 1),
            slice(int(self.cols.cell[x0]), int(self.cols.cell[max(x1 - 1, x0)]) + 1),
        )

    def pixels(self, y0: int, y1: int, x0: int, x1: int) -> tuple[slice, slice]:
        """The pixels of cells ``y0..y1-1`` x ``x0..x1-1``."""
        return (
            slice(int(self.rows.start[y0]), int(self.rows.stop[y1 - 1])),
            slice(int(self.cols.start[x0]), int(self.cols.stop[x1 - 1])),
        )
