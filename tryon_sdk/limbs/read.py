"""Reading a frame for the limb stage: checking the inputs and building its :class:`~.frame.LimbFrame`."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..people.facing import HeadObservation
from ..resample import GridScores, WorkGrid
from .body import body_rows
from .frame import LimbCells, LimbFrame, Regions
from .options import LimbOptions
from .regions import connected_regions
from .tables import PairTables

__all__ = ["as_labels", "check_probs", "read_frame", "work_stride"]


def as_labels(labels: np.ndarray | torch.Tensor) -> np.ndarray:
    """The H x W uint8 label map (numpy or torch) as a C-contiguous numpy array."""
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.dtype != np.uint8:
        desc = f"shape {arr.shape} dtype {arr.dtype}" if isinstance(arr, np.ndarray) else type(labels).__name__
        raise InputError(f"labels must be an H x W uint8 array or tensor, got {desc}")
    return np.ascontiguousarray(arr)


def check_probs(
    probabilities: np.ndarray | torch.Tensor | GridScores | None, shape: tuple[int, int], max_class: int
) -> np.ndarray | GridScores | None:
    """C x H x W float probabilities (numpy, or the :class:`GridScores` as given) for an H x W frame, with a
    class ``max_class`` at least; None stays None."""
    if probabilities is None:
        return None
    p = probabilities
    if isinstance(p, GridScores):
        if tuple(p.size) != tuple(shape):
            raise InputError(f"probabilities are for a {p.size[0]} x {p.size[1]} frame, labels {shape[0]} x {shape[1]}")
        if p.scores.shape[0] <= max_class:
            raise InputError(f"probabilities have {p.scores.shape[0]} classes; the limb pairs need {max_class + 1}")
        return p
    if isinstance(p, torch.Tensor):
        p = p.detach().cpu()
        p = (p if p.dtype == torch.float32 else p.float()).numpy()
    if not isinstance(p, np.ndarray) or p.ndim != 3 or p.shape[1:] != shape or p.dtype.kind != "f":
        desc = f"shape {p.shape} dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
        raise InputError(f"probabilities must be a C x {shape[0]} x {shape[1]} float array, got {desc}")
    if p.shape[0] <= max_class:
        raise InputError(f"probabilities have {p.shape[0]} classes; the limb pairs need {max_class + 1}")
    return p


def work_stride(options: LimbOptions, shape: tuple[int, int]) -> int:
    """The work grid's stride for an H x W frame: ``options.work_stride``, else ``clip(min(H, W) // 96, 1, 8)``."""
    if options.work_stride is not None:
        return options.work_stride
    return int(np.clip(min(shape) // 96, 1, 8))


def read_frame(
    labels: np.ndarray,
    options: LimbOptions,
    tables: PairTables,
    probs: np.ndarray | GridScores | None = None,
    heads: Sequence[HeadObservation] | None = None,
) -> LimbFrame:
    """The work grid of H x W uint8 ``labels`` (:func:`as_labels`), its persons, centre lines and limb regions.

    probs: checked probabilities (:func:`check_probs`); heads: the people stage's head observations.
    """
    s = work_stride(options, labels.shape)
    grid = WorkGrid.of(labels.shape, s)
    small = grid.sample(labels)
    pair_small = cv2.LUT(small, tables.pair)
    fg_bool = small != 0
    fg = fg_bool.view(np.uint8)
    bridged = cv2.dilate(fg, tables.gap_kernel) if tables.gap_kernel is not None else fg
    n_persons, persons, pstats, _ = cv2.connectedComponentsWithStats(bridged, connectivity=8, ltype=cv2.CV_32S)
    fg_idx = np.flatnonzero(fg_bool)
    region_map, region_pair = connected_regions(pair_small, tables.n_pairs)
    idx = np.flatnonzero(region_map != 0)  # flatnonzero is several times faster on bool
    ys, xs = np.divmod(idx, small.shape[1])
    cells = LimbCells(idx, xs, ys, tables.side[small.ravel()[idx]], persons.ravel()[idx])
    return LimbFrame(
        labels=labels,
        probs=probs,
        heads=heads,
        stride=s,
        grid=grid,
        small=small,
        pair_small=pair_small,
        persons=persons,
        n_persons=n_persons,
        person_stats=pstats,
        person_area=np.bincount(persons.ravel()[fg_idx], minlength=n_persons),
        fg_idx=fg_idx,
        body=body_rows(small, pair_small, persons, n_persons),
        region_map=region_map,
        regions=Regions(region_map.ravel()[idx], region_pair),
        cells=cells,
    )
