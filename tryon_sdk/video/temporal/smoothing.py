"""Temporal smoothing of per-frame class probabilities.

Algorithm
---------
MediaPipe's segmentation smoothing calculator blends a binary mask with the
previous output, weighted by how unsure the new frame is::

    out = new + (prev - new) * uncertainty(new) * ratio

:class:`TemporalSmoother` applies the same rule to all C classes at once
(``out`` stays a probability distribution: it is a convex mix of two).

*Uncertainty* is ``1 - (top1 - top2)``, one minus the margin between the two
most likely classes. The label of a pixel flips exactly when its top two
classes swap, so the margin is the distance to a flip: a pixel torn between
arm and sleeve (0.5/0.5) has uncertainty 1 and follows the past, a confident
pixel (0.96 against 0.02) has uncertainty 0.06 and follows the present at
once, so moving confident shapes do not lag. Normalised entropy ``H(p) / log C`` (option
``uncertainty="entropy"``) is the alternative: over 18 classes a clean two-way
tie only scores ``log 2 / log 18 = 0.24`` and the score is dominated by how
the remaining mass spreads over irrelevant classes, so it smooths the real
ambiguities too little.

*Cost*: the uncertainty is computed on a grid ``work_stride`` times coarser
(4: 128x96 for 512x384; the pixels at its cells' centres, picked
mirror-symmetrically), spread by a max filter over ``spread`` cells
(so that thin unsure bands between samples are not missed) and bilinearly
upsampled; only the final blend (one fused ``torch.lerp``) runs at full
resolution, on the one box around the pixels whose weight is not zero
(elsewhere the result is the new frame exactly; people-first frames are
confident background outside the people). One box, not many small ones:
skipping every confident patch cost more than it saved. ``out=probs``
smooths in place (the session does so with the engine's fresh output).

*Hard input* (labels-only engines: one-hot probabilities, see
:func:`one_hot`): a one-hot pixel has uncertainty 0 and would never be
smoothed. When every sampled pixel is one-hot, the probabilities on the work
grid are first box-averaged over ``2 * hard_radius + 1`` cells, so boundary
bands and small speckles become uncertain and are smoothed, while the
interior of regions passes through.

*Optical flow* (``use_flow=True`` and an RGB ``frame`` each step): the
previous output is warped along OpenCV DIS flow (ultrafast preset, computed
between grey frames downscaled by ``flow_scale``) before blending, so moving
limbs do not leave trails. The warp is a nearest-neighbour remap (the flow
is coarse; bilinear costs 4x more).

*Resets*: the state starts afresh (output = input) on the first frame, when
the shape changes, on a timestamp gap (``> max_gap_ms`` or backwards), and on
a scene cut: either the Bhattacharyya distance between colour histograms of
consecutive frames exceeds ``cut_colour_threshold`` (needs ``frame``; on the
sample clip consecutive frames stay under 0.13), or the class distribution
(share of pixels per class) moves by more than ``cut_label_threshold`` in
total variation. The label test ignores where things are, so it is blind to
a cut between similar shots but robust to noisy parses; the colour test is
the main detector whenever frames are given.

State is explicit: ``smoothed, state = smoother.step(probs, state)`` with
``state=None`` at the start of a stream. One smoother may serve any number of
streams (each with its own state) and threads.
"""

from __future__ import annotations

import dataclasses
import math
import threading

import cv2
import numpy as np
import torch

from ...errors import ConfigError, InputError
from ...labels import NUM_CLASSES
from ...resample import centre_samples
from .options import RESET_REASONS, SmoothingOptions, SmoothingState

__all__ = [
    "SmoothingOptions",
    "SmoothingState",
    "TemporalSmoother",
    "one_hot",
    "RESET_REASONS",
]

_HIST_STRIDE = 8  # colour histograms are taken on every 8th pixel
_HIST_BINS = 8  # per RGB channel


def one_hot(labels: np.ndarray | torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Probabilities of a labels-only engine: ``H x W`` integer labels -> ``C x H x W`` float32 one-hot."""
    lab = torch.as_tensor(labels)
    if lab.ndim != 2 or lab.dtype.is_floating_point or lab.dtype == torch.bool:
        raise InputError(f"labels must be an H x W integer array, got shape {tuple(lab.shape)} dtype {lab.dtype}")
    lab = lab.long()
    if lab.numel() and (int(lab.min()) < 0 or int(lab.max()) >= num_classes):
        raise InputError(f"labels must lie in 0..{num_classes - 1}, got {int(lab.min())}..{int(lab.max())}")
    out = torch.zeros((num_classes, *lab.shape), dtype=torch.float32)
    out.scatter_(0, lab[None], 1.0)
    return out


def _as_probs(probs: torch.Tensor | np.ndarray, name: str = "probs") -> torch.Tensor:
    """C x H x W float32 CPU tensor sharing memory with ``probs`` when possible."""
    if isinstance(probs, np.ndarray):
        if probs.ndim != 3 or probs.dtype.kind != "f":
            raise InputError(f"{name} must be a C x H x W float array, got shape {probs.shape} dtype {probs.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(probs, dtype=np.float32))
    elif isinstance(probs, torch.Tensor):
        if probs.ndim != 3 or not probs.dtype.is_floating_point:
            raise InputError(
                f"{name} must be a C x H x W float tensor, got shape {tuple(probs.shape)} dtype {probs.dtype}"
            )
        t = probs.detach().to(device="cpu", dtype=torch.float32).contiguous()
    else:
        raise InputError(f"{name} must be a torch.Tensor or numpy array, got {type(probs).__name__}")
    if t.shape[0] < 2 or t.shape[1] < 1 or t.shape[2] < 1:
        raise InputError(f"{name} needs at least 2 classes and 1 pixel, got shape {tuple(t.shape)}")
    return t


def _check_frame(frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        desc = f"shape {frame.shape} dtype {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InputError(f"frame must be an H x W x 3 uint8 RGB array, got {desc}")
    return frame


def _top2_argmax(small: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-1 value, top-2 value and argmax over axis 0 of a small C x h x w array.

    A running loop over classes: far faster than sort/topk on this layout.
    """
    top1 = small[0].copy()
    top2 = np.full_like(top1, -np.inf)
    arg = np.zeros(top1.shape, dtype=np.uint8 if small.shape[0] <= 256 else np.int16)
    tmp = np.empty_like(top1)
    for c in range(1, small.shape[0]):
        x = small[c]
        np.minimum(top1, x, out=tmp)
        np.maximum(top2, tmp, out=top2)
        np.copyto(arg, c, where=x > top1)
        np.maximum(top1, x, out=top1)
    return top1, top2, arg


def _colour_hist(frame: np.ndarray) -> np.ndarray:
    sample = np.ascontiguousarray(frame[::_HIST_STRIDE, ::_HIST_STRIDE])
    rng = [0, 256] * 3
    hist = cv2.calcHist([sample], [0, 1, 2], None, [_HIST_BINS] * 3, rng)
    hist /= max(float(hist.sum()), 1.0)
    return hist


class TemporalSmoother:
    """Uncertainty-weighted temporal smoothing of class probabilities.

    ``smoothed, state = smoother.step(probs, state)`` per frame, ``state=None``
    first. See the module docstring for the algorithm.
    """

    def __init__(self, options: SmoothingOptions | None = None) -> None:
        if options is not None and not isinstance(options, SmoothingOptions):
            raise ConfigError(f"options must be SmoothingOptions, got {type(options).__name__}")
        self.options = options or SmoothingOptions()
        self._on_grids: dict[int, TemporalSmoother] = {}
        self._local = threading.local()  # one DIS object per thread: cv2 objects are not thread-safe

    def _dis(self) -> cv2.DISOpticalFlow:
        dis = getattr(self._local, "dis", None)
        if dis is None:
            dis = self._local.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        return dis

    def on_grid(self, scale: float) -> "TemporalSmoother":
        """This smoother for probabilities on a grid at ``scale`` of the frame (e.g. the model's grid): the
        work stride scaled so that it spans as many frame pixels (at least one grid cell)."""
        stride = max(1, round(self.options.work_stride * scale))
        if stride == self.options.work_stride:
            return self
        if stride not in self._on_grids:
            self._on_grids[stride] = TemporalSmoother(dataclasses.replace(self.options, work_stride=stride))
        return self._on_grids[stride]

    def step(
        self,
        probs: torch.Tensor | np.ndarray,
        state: SmoothingState | None = None,
        *,
        timestamp_ms: float | None = None,
        frame: np.ndarray | None = None,
        out: torch.Tensor | np.ndarray | None = None,
    ) -> tuple[torch.Tensor | np.ndarray, SmoothingState]:
        """Smooth one frame.

        probs: C x H x W class probabilities (torch float32 is the primary
            type; numpy and other float dtypes are converted to float32), or a
            one-hot map from :func:`one_hot`.
        state: the state returned for the previous frame of this stream, or
            None to start.
        timestamp_ms: frame time, for gap detection (optional).
        frame: the H' x W' x 3 uint8 RGB frame (any size), for cut detection by
            colour and for optical flow (optional).
        out: C x H x W float32 buffer for the result (may be ``probs`` itself
            to smooth in place); a new tensor otherwise.

        Returns the smoothed C x H x W float32 probabilities (numpy if
        ``probs`` was numpy) and the new state. The result is also the state's
        memory of the past: clone it before modifying it in place.
        """
        opt = self.options
        p = _as_probs(probs)
        c, h, w = p.shape
        if frame is not None:
            frame = _check_frame(frame)
        s = opt.work_stride
        # the pixels at the cells' centres, mirror-symmetrically: a mirrored frame gives the mirrored grid
        small = p.numpy().take(centre_samples(h, s), axis=1).take(centre_samples(w, s), axis=2) if s > 1 else p.numpy()
        top1, top2, labels = _top2_argmax(small)
        hard = opt.hard_radius > 0 and float(top1.min()) >= 1.0
        colour_hist = _colour_hist(frame) if frame is not None and opt.cut_colour_threshold is not None else None
        grey = None
        if opt.use_flow and frame is not None:
            fw = max(8, round(frame.shape[1] * opt.flow_scale))
            fh = max(8, round(frame.shape[0] * opt.flow_scale))
            grey = cv2.cvtColor(cv2.resize(frame, (fw, fh), interpolation=cv2.INTER_LINEAR), cv2.COLOR_RGB2GRAY)

        reason = self._reset_reason(p, state, timestamp_ms, labels, colour_hist)
        result = self._buffer(out, p)
        # an engine's probabilities are inference tensors; writing into them is only allowed in inference mode
        with torch.inference_mode(result.is_inference()):
            self._mix(p, state, result, reason, small, top1, top2, hard, grey, (h, w))

        new_state = SmoothingState(
            probs=result,
            timestamp_ms=float(timestamp_ms) if timestamp_ms is not None else None,
            labels=labels,
            colour_hist=colour_hist,
            grey=grey,
            frames=0 if reason is not None else state.frames + 1,  # type: ignore[union-attr]
            reset_reason=reason,
        )
        if isinstance(probs, np.ndarray) and not isinstance(out, torch.Tensor):
            return result.numpy(), new_state
        return result, new_state

    # -- pieces -------------------------------------------------------------------------------------------------

    def _mix(
        self,
        p: torch.Tensor,
        state: SmoothingState | None,
        result: torch.Tensor,
        reason: str | None,
        small: np.ndarray,
        top1: np.ndarray,
        top2: np.ndarray,
        hard: bool,
        grey: np.ndarray | None,
        shape: tuple[int, int],
    ) -> None:
        """``result`` = the new frame (on a reset) or its blend with the past."""
        opt = self.options
        s = opt.work_stride
        h, w = shape
        if reason is not None or opt.ratio == 0.0:
            if result.data_ptr() != p.data_ptr():
                result.copy_(p)
        else:
            assert state is not None
            weight = opt.ratio * self._uncertainty(small, top1, top2, hard)
            weight_full = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR) if s > 1 else weight
            flow = None
            if grey is not None and state.grey is not None and state.grey.shape == grey.shape:
                flow = self._dis().calc(grey, state.grey, None)  # new -> previous, for backward warping
            _blend(p, state.probs, weight_full, result, flow)

    def _reset_reason(
        self,
        p: torch.Tensor,
        state: SmoothingState | None,
        timestamp_ms: float | None,
        labels: np.ndarray,
        colour_hist: np.ndarray | None,
    ) -> str | None:
        opt = self.options
        if state is None:
            return "start"
        if state.probs.shape != p.shape:
            return "shape"
        if timestamp_ms is not None and state.timestamp_ms is not None:
            dt = float(timestamp_ms) - state.timestamp_ms
            if dt < 0 or (opt.max_gap_ms is not None and dt > opt.max_gap_ms):
                return "gap"
        if colour_hist is not None and state.colour_hist is not None:
            dist = cv2.compareHist(colour_hist, state.colour_hist, cv2.HISTCMP_BHATTACHARYYA)
            if dist > opt.cut_colour_threshold:  # type: ignore[operator]
                return "cut-colour"
        if opt.cut_label_threshold is not None:
            n = p.shape[0]
            now = np.bincount(labels.ravel(), minlength=n)
            before = np.bincount(state.labels.ravel(), minlength=n)
            if 0.5 * np.abs(now - before).sum() > opt.cut_label_threshold * labels.size:
                return "cut-labels"
        return None

    def _uncertainty(self, small: np.ndarray, top1: np.ndarray, top2: np.ndarray, hard: bool) -> np.ndarray:
        """Uncertainty in [0, 1] on the work grid, h x w float32."""
        opt = self.options
        if hard:
            k = 2 * opt.hard_radius + 1
            small = np.stack([cv2.blur(ch, (k, k), borderType=cv2.BORDER_REPLICATE) for ch in small])
            top1, top2, _ = _top2_argmax(small)
        if opt.uncertainty == "margin":
            u = 1.0 - (top1 - top2)
        else:
            q = np.clip(small, 1e-12, 1.0)
            u = -(q * np.log(q)).sum(axis=0) / math.log(small.shape[0])
        u = np.clip(u, 0.0, 1.0, out=u).astype(np.float32, copy=False)
        if opt.spread > 0:
            # a max filter: pixels between the samples get the uncertainty of their most unsure neighbour
            u = cv2.dilate(u, np.ones((2 * opt.spread + 1,) * 2, np.uint8), borderType=cv2.BORDER_REPLICATE)
        return u

    @staticmethod
    def _buffer(out: torch.Tensor | np.ndarray | None, p: torch.Tensor) -> torch.Tensor:
        if out is None:
            return torch.empty_like(p)
        buf = torch.from_numpy(out) if isinstance(out, np.ndarray) else out
        if not isinstance(buf, torch.Tensor) or buf.shape != p.shape or buf.dtype != torch.float32:
            raise InputError(
                f"out must be a float32 buffer of shape {tuple(p.shape)}, got "
                f"{getattr(buf, 'shape', type(buf).__name__)} {getattr(buf, 'dtype', '')}"
            )
        if buf.device.type != "cpu" or not buf.is_contiguous():
            raise InputError("out must be a contiguous CPU buffer")
        return buf


def _blend(p: torch.Tensor, prev: torch.Tensor, weight: np.ndarray, result: torch.Tensor, flow: np.ndarray | None) -> None:
    """``result = lerp(p, warp(prev), weight)``; ``result`` may be ``p``.

    ``flow`` (h_f x w_f x 2 float32, new -> previous pixels) warps ``prev``; None: no warp.
    """
    c, h, w = p.shape
    wt = torch.from_numpy(weight)[None]
    if flow is None:
        # Where the weight is 0 the result is the new frame exactly; people-first frames are confident
        # background outside the people, so the blend runs on the box around the unsure pixels only.
        rows, cols = np.flatnonzero(weight.any(axis=1)), np.flatnonzero(weight.any(axis=0))
        if rows.size == h and cols.size == w:  # unsure pixels everywhere: one blend over the frame
            torch.lerp(p, prev, wt, out=result)
            return
        if result.data_ptr() != p.data_ptr():
            result.copy_(p)
        if rows.size:
            box = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            result[box] = torch.lerp(p[box], prev[box], wt[box])
        return
    fh, fw = flow.shape[:2]
    flow_full = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
    map_x = flow_full[..., 0] * np.float32(w / fw) + np.arange(w, dtype=np.float32)[None, :]
    map_y = flow_full[..., 1] * np.float32(h / fh) + np.arange(h, dtype=np.float32)[:, None]
    warped = result if result.data_ptr() != p.data_ptr() else torch.empty_like(p)
    prev_np, warped_np = prev.numpy(), warped.numpy()
    # nearest-neighbour warp, channel by channel: 4x cheaper than bilinear, and the flow is coarse anyway
    for ch in range(c):
        cv2.remap(prev_np[ch], map_x, map_y, cv2.INTER_NEAREST, dst=warped_np[ch], borderMode=cv2.BORDER_REPLICATE)
    torch.lerp(p, warped, wt, out=result)
