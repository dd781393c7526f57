"""Options and state of temporal smoothing (:class:`~tryon_sdk.video.temporal.smoothing.TemporalSmoother`)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ...errors import ConfigError

__all__ = ["SmoothingOptions", "SmoothingState", "RESET_REASONS"]

#: Values of :attr:`SmoothingState.reset_reason`.
RESET_REASONS: tuple[str, ...] = ("start", "shape", "gap", "cut-colour", "cut-labels")

_UNCERTAINTIES = ("margin", "entropy")


@dataclass(frozen=True)
class SmoothingOptions:
    """Options of :class:`TemporalSmoother` (validated on construction).

    ratio: weight of the past for a fully uncertain pixel (MediaPipe's
        ``combine_with_previous_ratio``), 0..1; 0 disables smoothing.
    uncertainty: ``"margin"`` (1 - (top1 - top2)) or ``"entropy"``
        (normalised entropy).
    work_stride: the uncertainty and the cut detector run on a grid n times
        coarser in each direction, 1..16.
    spread: radius in work-grid cells of a max filter on the uncertainty, so
        that unsure pixels between two samples are not missed, 0..8.
    hard_radius: for one-hot input, radius in work-grid cells of the box the
        probabilities are averaged over before measuring uncertainty, 0..8.
    use_flow: warp the previous output with DIS optical flow (needs
        ``frame=`` in :meth:`TemporalSmoother.step`).
    flow_scale: grey frames are resized by this factor for the flow, (0, 1].
    max_gap_ms: a larger timestamp step (or a backwards one) resets; None
        never resets on time.
    cut_colour_threshold: Bhattacharyya distance (0..1) between the colour
        histograms of consecutive frames that counts as a cut; None disables.
    cut_label_threshold: total-variation distance (0..1] between the class
        distributions (share of pixels per class) of consecutive frames that
        counts as a cut; None disables.
    """

    ratio: float = 0.9
    uncertainty: Literal["margin", "entropy"] = "margin"
    work_stride: int = 4
    spread: int = 1
    hard_radius: int = 1
    use_flow: bool = False
    flow_scale: float = 0.25
    max_gap_ms: float | None = 500.0
    cut_colour_threshold: float | None = 0.35
    cut_label_threshold: float | None = 0.3

    def __post_init__(self) -> None:
        def bad(name: str, valid: str) -> ConfigError:
            return ConfigError(f"SmoothingOptions.{name}={getattr(self, name)!r} is not valid; valid: {valid}")

        def number(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad(name, "a finite number")
            return float(value)

        if not 0.0 <= number("ratio") <= 1.0:
            raise bad("ratio", "0 <= ratio <= 1")
        if self.uncertainty not in _UNCERTAINTIES:
            raise bad("uncertainty", " or ".join(repr(u) for u in _UNCERTAINTIES))
        for name, lo, hi in (("work_stride", 1, 16), ("spread", 0, 8), ("hard_radius", 0, 8)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise bad(name, f"an integer {lo}..{hi}")
        if not isinstance(self.use_flow, bool):
            raise bad("use_flow", "True or False")
        if not 0.0 < number("flow_scale") <= 1.0:
            raise bad("flow_scale", "0 < flow_scale <= 1")
        if self.max_gap_ms is not None and not number("max_gap_ms") > 0.0:
            raise bad("max_gap_ms", "None or a number > 0")
        if self.cut_colour_threshold is not None and not 0.0 < number("cut_colour_threshold") <= 1.0:
            raise bad("cut_colour_threshold", "None or 0 < threshold <= 1")
        if self.cut_label_threshold is not None and not 0.0 < number("cut_label_threshold") <= 1.0:
            raise bad("cut_label_threshold", "None or 0 < threshold <= 1")

    def replace(self, **changes) -> SmoothingOptions:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields, not states
class SmoothingState:
    """What :class:`TemporalSmoother` carries from one frame to the next.

    probs: the previous smoothed output, C x H x W float32 (the very tensor
        that was returned: do not modify it in place).
    timestamp_ms: timestamp of the previous frame, if one was given.
    labels: previous raw labels on the work grid, h x w uint8.
    colour_hist: normalised colour histogram of the previous frame, or None.
    grey: previous grey frame at flow resolution (uint8), or None.
    frames: frames blended since the last reset (0 on a reset frame).
    reset_reason: why the last frame was not blended (one of
        :data:`RESET_REASONS`), or None when it was.
    """

    probs: torch.Tensor
    timestamp_ms: float | None
    labels: np.ndarray
    colour_hist: np.ndarray | None
    grey: np.ndarray | None
    frames: int
    reset_reason: str | None
