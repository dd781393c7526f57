"""Quality metrics of a sequence of label maps (used by ``tryon-sdk eval-video``).

* **flicker**: mean, over consecutive frames, of the share of pixels whose
  label changes.
* **agreement**: mean share of pixels equal to the raw per-frame labels.
* **transient left/right swaps**, per pair: times the image-side order of
  the left and right limb (x of the centroids of the largest region of each
  class, when both have ``min_side_pixels``) flips and flips back within
  ``swap_window`` frames. A flip that lasts longer is a real turn and is not
  counted. With several people in the frame the order is not meaningful.
* **mixed limbs**: share of limb regions (connected components of the union
  of a pair's two classes, 8-connectivity, at least ``min_region_area``
  pixels) whose minority side exceeds ``mixed_threshold`` of their pixels.
  Two touching limbs (legs or shoes standing together) count as one mixed
  region too; ``side_by_side_regions`` counts the mixed regions whose sides
  sit side by side (a vertical line puts ``side_by_side_agreement`` of their
  pixels on their own side: two limbs, each with one side), and
  ``mixed_within_limb_share`` leaves them out: limbs labelled partly left,
  partly right.
* **flip equivariance**: agreement, over pixels that are a limb in either
  map, between the parse of a mirrored frame and the mirrored parse of the
  frame with sides swapped (:func:`~tryon_sdk.labels.hflip_labels`).
* **own-side share** (:func:`own_side_counts`, needs the truth of how the
  person faces and where the body's centre line is): share of limb pixels on
  the person's own side, i.e. left limbs on the image's left of the centre
  line for a back view, on its right for a front view.

:class:`VideoMetrics` is an accumulator fed frame by frame (memory stays flat
over a long video: it keeps the previous frame only); the functions
(:func:`flicker`, :func:`agreement`, :func:`transient_swaps`,
:func:`mixed_limb_share`, :func:`flip_equivariance`) and
:func:`compute_video_metrics` take whole lists. Label maps are H x W integer
arrays or tensors; all frames of a sequence have the same size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

import cv2
import numpy as np
import torch

from ...errors import ConfigError, InputError
from ...labels import ATR_CLASSES, FLIP_PAIRS, IGNORE_INDEX, swap_lr

__all__ = [
    "VideoMetrics",
    "VideoMetricsResult",
]

LabelMap = np.ndarray | torch.Tensor


def as_label_map(labels: LabelMap, name: str = "labels") -> np.ndarray:
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.dtype.kind not in "iub":
        desc = f"shape {arr.shape} dtype {arr.dtype}" if isinstance(arr, np.ndarray) else type(labels).__name__
        raise InputError(f"{name} must be an H x W integer label map, got {desc}")
    return arr


def _pair_name(pair: tuple[int, int]) -> str:
    left, right = pair
    if max(pair) < len(ATR_CLASSES):
        return f"{ATR_CLASSES[left]}/{ATR_CLASSES[right]}"
    return f"{left}/{right}"


@dataclass(frozen=True)
class VideoMetricsResult:
    """Metrics of one sequence; ``None`` where the needed input was not given, NaN where undefined."""

    frames: int
    flicker: float
    raw_flicker: float | None
    flicker_ratio: float | None  # flicker / raw_flicker
    agreement: float | None
    transient_swaps: dict[str, int] = field(default_factory=dict)  # per pair, e.g. "Left-arm/Right-arm"
    total_transient_swaps: int = 0
    limb_regions: int = 0
    mixed_regions: int = 0
    mixed_limb_share: float = math.nan
    side_by_side_regions: int = 0
    mixed_within_limb_share: float = math.nan
    flip_equivariance: float | None = None

    def as_dict(self) -> dict:
        """Plain dict (JSON-serialisable; NaN stays NaN)."""
        return asdict(self)


class _SwapCounter:
    """Counts flips of a pair's image-side order that flip back within ``window`` frames."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.count = 0
        self._last = 0  # last defined order: +1 left on the image's right, -1 left on its left
        self._before = 0  # order before a pending flip
        self._flip_frame: int | None = None

    def update(self, t: int, order: int) -> None:
        if self._flip_frame is not None and t - self._flip_frame > self.window:
            self._flip_frame = None  # lasted: a real change, not a transient
        if order == 0:
            return
        if self._last != 0 and order != self._last:
            if self._flip_frame is not None and order == self._before:
                self.count += 1
                self._flip_frame = None
            else:
                self._before, self._flip_frame = self._last, t
        self._last = order


class VideoMetrics:
    """Accumulates the video metrics frame by frame.

    ``update(labels, raw=None, mirrored=None)`` per frame: ``labels`` the
    output to judge, ``raw`` the raw per-frame labels (for agreement and raw
    flicker), ``mirrored`` the parse of the horizontally mirrored frame (for
    flip equivariance). ``result()`` at any time.
    """

    def __init__(
        self,
        *,
        pairs: Sequence[tuple[int, int]] = FLIP_PAIRS,
        swap_window: int = 5,
        mixed_threshold: float = 0.1,
        min_region_area: int = 16,
        min_side_pixels: int = 16,
        side_by_side_agreement: float = 0.95,
    ) -> None:
        if isinstance(swap_window, bool) or not isinstance(swap_window, int) or swap_window < 1:
            raise ConfigError(f"swap_window={swap_window!r} is not valid; valid: an integer >= 1")
        if not (isinstance(mixed_threshold, (int, float)) and 0.0 <= mixed_threshold < 0.5):
            raise ConfigError(f"mixed_threshold={mixed_threshold!r} is not valid; valid: 0 <= threshold < 0.5")
        if not (isinstance(side_by_side_agreement, (int, float)) and 0.5 < side_by_side_agreement <= 1.0):
            raise ConfigError(
                f"side_by_side_agreement={side_by_side_agreement!r} is not valid; valid: 0.5 < agreement <= 1"
            )
        for name, value in (("min_region_area", min_region_area), ("min_side_pixels", min_side_pixels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r} is not valid; valid: an integer >= 1")
        try:
            self.pairs = tuple((int(a), int(b)) for a, b in pairs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"pairs={pairs!r} is not valid; valid: a sequence of (left, right) class ids") from exc
        self.swap_window = swap_window
        self.mixed_threshold = float(mixed_threshold)
        self.min_region_area = min_region_area
        self.min_side_pixels = min_side_pixels
        self.side_by_side_agreement = float(side_by_side_agreement)
        self.reset()

    def reset(self) -> None:
        """Forget everything (start a new sequence)."""
        self.frames = 0
        self._prev: np.ndarray | None = None
        self._prev_raw: np.ndarray | None = None
        self._changed = 0.0  # sum over transitions of the changed share
        self._raw_changed = 0.0
        self._transitions = 0
        self._raw_transitions = 0
        self._agree = 0.0
        self._agree_frames = 0
        self._swaps = {pair: _SwapCounter(self.swap_window) for pair in self.pairs}
        self._regions = 0
        self._mixed = 0
        self._side_by_side = 0
        self._flip_equal = 0
        self._flip_total = 0
        self._flip_frames = 0

    def update(self, labels: LabelMap, raw: LabelMap | None = None, mirrored: LabelMap | None = None) -> None:
        """Add one frame (H x W integer label maps of equal size)."""
        lab = as_label_map(labels)
        if self._prev is not None and self._prev.shape != lab.shape:
            raise InputError(f"labels changed size from {self._prev.shape} to {lab.shape} within a sequence")
        if self._prev is not None:
            self._changed += float(np.count_nonzero(lab != self._prev)) / lab.size
            self._transitions += 1
        self._prev = lab.copy()
        if raw is not None:
            r = as_label_map(raw, "raw")
            if r.shape != lab.shape:
                raise InputError(f"raw has shape {r.shape}, labels {lab.shape}")
            self._agree += float(np.count_nonzero(lab == r)) / lab.size
            self._agree_frames += 1
            if self._prev_raw is not None:
                self._raw_changed += float(np.count_nonzero(r != self._prev_raw)) / r.size
                self._raw_transitions += 1
            self._prev_raw = r.copy()
        for pair in self.pairs:
            self._swaps[pair].update(self.frames, self._order(lab, pair))
            regions, mixed, side_by_side = self._mixed_regions(lab, pair)
            self._regions += regions
            self._mixed += mixed
            self._side_by_side += side_by_side
        if mirrored is not None:
            equal, total = flip_counts(as_label_map(mirrored, "mirrored"), lab, self.pairs)
            self._flip_equal += equal
            self._flip_total += total
            self._flip_frames += 1
        self.frames += 1

    def _order(self, lab: np.ndarray, pair: tuple[int, int]) -> int:
        """+1 when the left limb is right of the right limb in the image, -1 the reverse, 0 when unknown."""
        xs = []
        for cls in pair:
            mask = (lab == cls).view(np.uint8)
            if np.count_nonzero(mask) < self.min_side_pixels:
                return 0
            # the limb is the largest region of the class: stray specks elsewhere do not move it
            n, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
            k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            if stats[k, cv2.CC_STAT_AREA] < self.min_side_pixels:
                return 0
            xs.append(centroids[k, 0])
        if xs[0] == xs[1]:
            return 0
        return 1 if xs[0] > xs[1] else -1

    def _mixed_regions(self, lab: np.ndarray, pair: tuple[int, int]) -> tuple[int, int, int]:
        """Regions of a pair, the mixed ones, and the mixed ones whose sides sit side by side."""
        left, right = pair
        is_left = lab == left
        union = (is_left | (lab == right)).view(np.uint8)
        if not union.any():
            return 0, 0, 0
        n, cc = cv2.connectedComponents(union, connectivity=8, ltype=cv2.CV_32S)
        area = np.bincount(cc.ravel(), minlength=n)
        n_left = np.bincount(cc[is_left], minlength=n)
        area, n_left = area[1:], n_left[1:]
        big = area >= self.min_region_area
        minority = np.minimum(n_left, area - n_left)
        mixed = big & (minority > self.mixed_threshold * area)
        bar = self.side_by_side_agreement
        apart = sum(_split_by_a_vertical_line(cc == k + 1, is_left) >= bar for k in np.flatnonzero(mixed))
        return int(np.count_nonzero(big)), int(np.count_nonzero(mixed)), int(apart)

    def result(self) -> VideoMetricsResult:
        """The metrics of the frames so far."""
        flick = self._changed / self._transitions if self._transitions else math.nan
        raw_flick = self._raw_changed / self._raw_transitions if self._raw_transitions else None
        ratio = None
        if raw_flick is not None:
            ratio = flick / raw_flick if raw_flick > 0 else (math.nan if flick > 0 else 1.0)
        swaps = {_pair_name(pair): counter.count for pair, counter in self._swaps.items()}
        flip = None
        if self._flip_frames:
            flip = self._flip_equal / self._flip_total if self._flip_total else math.nan
        return VideoMetricsResult(
            frames=self.frames,
            flicker=flick,
            raw_flicker=raw_flick,
            flicker_ratio=ratio,
            agreement=self._agree / self._agree_frames if self._agree_frames else None,
            transient_swaps=swaps,
            total_transient_swaps=sum(swaps.values()),
            limb_regions=self._regions,
            mixed_regions=self._mixed,
            mixed_limb_share=self._mixed / self._regions if self._regions else math.nan,
            side_by_side_regions=self._side_by_side,
            mixed_within_limb_share=(self._mixed - self._side_by_side) / self._regions if self._regions else math.nan,
            flip_equivariance=flip,
        )


def _split_by_a_vertical_line(region: np.ndarray, is_left: np.ndarray) -> float:
    """The largest share of a region's pixels that a vertical line puts on their own side (one side's label
    left of it, the other's right of it, either way round)."""
    ys, xs = np.nonzero(region)
    side = is_left[ys, xs]
    # per column, left-labelled and all pixels; a line before column c: left part | right part
    cols = xs - xs.min()
    n_left = np.bincount(cols, weights=side, minlength=cols.max() + 1)
    n_all = np.bincount(cols, minlength=cols.max() + 1)
    left_before = np.concatenate([[0], np.cumsum(n_left)])  # left-labelled pixels before each line
    all_before = np.concatenate([[0], np.cumsum(n_all)])
    total, total_left = all_before[-1], left_before[-1]
    # left labels before the line and right labels after it, or the other way round
    one = left_before + (total - all_before) - (total_left - left_before)
    other = (all_before - left_before) + (total_left - left_before)
    return float(max(one.max(), other.max()) / total)


def flip_counts(mirrored_parse: np.ndarray, parse: np.ndarray, pairs: Sequence[tuple[int, int]]) -> tuple[int, int]:
    if mirrored_parse.shape != parse.shape:
        raise InputError(f"mirrored parse has shape {mirrored_parse.shape}, parse {parse.shape}")
    expected = swap_lr(np.ascontiguousarray(parse[:, ::-1]), tuple(pairs))
    limb_ids = np.array([c for pair in pairs for c in pair])
    limb = np.isin(mirrored_parse, limb_ids) | np.isin(expected, limb_ids)
    limb &= (mirrored_parse != IGNORE_INDEX) & (expected != IGNORE_INDEX)
    total = int(np.count_nonzero(limb))
    equal = int(np.count_nonzero((mirrored_parse == expected) & limb))
    return equal, total
