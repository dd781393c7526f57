"""One-call measures of a whole parse sequence (each runs :class:`~tryon_sdk.video.evaluation.metrics.VideoMetrics`
or its per-frame counts): flicker, agreement with the raw parse, transient swaps, mixed limbs, flip
equivariance and own-side counts."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from ...errors import InputError
from ...labels import FLIP_PAIRS
from .metrics import LabelMap, VideoMetrics, VideoMetricsResult, as_label_map, flip_counts

__all__ = [
    "compute_video_metrics",
    "flicker",
    "agreement",
    "transient_swaps",
    "mixed_limb_share",
    "flip_equivariance",
    "own_side_counts",
]


def flip_equivariance(
    mirrored_parse: LabelMap, parse: LabelMap, pairs: Sequence[tuple[int, int]] = FLIP_PAIRS
) -> float:
    """Agreement on limb pixels between ``parse(hflip(frame))`` and ``hflip_labels(parse(frame))``.

    Both are H x W label maps; limb pixels are those of a pair class in
    either map. NaN when neither has a limb pixel.
    """
    equal, total = flip_counts(as_label_map(mirrored_parse, "mirrored_parse"), as_label_map(parse, "parse"), pairs)
    return equal / total if total else math.nan


def compute_video_metrics(
    labels: Iterable[LabelMap],
    raw: Iterable[LabelMap] | None = None,
    mirrored: Iterable[LabelMap] | None = None,
    **options,
) -> VideoMetricsResult:
    """All metrics of a sequence at once; ``options`` are those of :class:`VideoMetrics`."""
    metrics = VideoMetrics(**options)
    labels = list(labels)
    raw_list = list(raw) if raw is not None else None
    mirrored_list = list(mirrored) if mirrored is not None else None
    for name, other in (("raw", raw_list), ("mirrored", mirrored_list)):
        if other is not None and len(other) != len(labels):
            raise InputError(f"{name} has {len(other)} frames, labels {len(labels)}")
    for t, lab in enumerate(labels):
        metrics.update(
            lab,
            raw=raw_list[t] if raw_list is not None else None,
            mirrored=mirrored_list[t] if mirrored_list is not None else None,
        )
    return metrics.result()


def flicker(labels: Iterable[LabelMap]) -> float:
    """Mean share of pixels whose label changes between consecutive frames (NaN under 2 frames)."""
    return compute_video_metrics(labels).flicker


def agreement(labels: Iterable[LabelMap], raw: Iterable[LabelMap]) -> float:
    """Mean share of pixels equal in ``labels`` and ``raw``, frame by frame."""
    result = compute_video_metrics(labels, raw=raw).agreement
    return math.nan if result is None else result


def transient_swaps(labels: Iterable[LabelMap], **options) -> int:
    """Transient left/right swaps summed over the pairs (options of :class:`VideoMetrics`)."""
    return compute_video_metrics(labels, **options).total_transient_swaps


def mixed_limb_share(labels: Iterable[LabelMap], **options) -> float:
    """Share of limb regions with a minority side over the threshold (NaN without limb regions)."""
    return compute_video_metrics(labels, **options).mixed_limb_share


def own_side_counts(
    labels: LabelMap,
    centre_x: float,
    facing: int,
    pairs: Sequence[tuple[int, int]] = FLIP_PAIRS,
    region: tuple[int, int, int, int] | None = None,
) -> tuple[int, int]:
    """Limb pixels on the person's own side, and all limb pixels (off the centre line).

    labels: H x W label map; centre_x: image x of the body's centre line; facing: +1 the
    person faces the camera (own left = image right), -1 seen from behind; region: optional
    ``(x0, y0, x1, y1)`` box the count is limited to (the person).
    Returns ``(on_own_side, total)``.
    """
    lab = as_label_map(labels)
    if facing not in (1, -1):
        raise InputError(f"facing must be +1 (front) or -1 (back), got {facing!r}")
    if not math.isfinite(centre_x):
        raise InputError(f"centre_x must be finite, got {centre_x!r}")
    x_off = 0
    if region is not None:
        x0, y0, x1, y1 = (int(v) for v in region)
        lab = lab[max(y0, 0) : y1, max(x0, 0) : x1]
        x_off = max(x0, 0)
    xs = np.arange(lab.shape[1]) + x_off
    right_of = (xs > centre_x)[None, :]
    left_of = (xs < centre_x)[None, :]
    left_ids = np.array([a for a, _ in pairs])
    right_ids = np.array([b for _, b in pairs])
    is_left = np.isin(lab, left_ids)
    is_right = np.isin(lab, right_ids)
    # own left on the image's right for a front view, on its left from behind
    left_ok, right_ok = (right_of, left_of) if facing > 0 else (left_of, right_of)
    good = int(np.count_nonzero(is_left & left_ok) + np.count_nonzero(is_right & right_ok))
    total = int(np.count_nonzero((is_left | is_right) & (left_of | right_of)))
    return good, total
