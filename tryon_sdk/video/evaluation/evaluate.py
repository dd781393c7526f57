"""``tryon-sdk eval-video``: temporal stability of a video's parse with and without smoothing and limbs.

A job (:mod:`tryon_sdk.video.jobs.job`) of ``Decode -> engine (the video and its mirror in one call)
-> temporal stages of the video -> of its mirror -> metrics (half the configurations) -> metrics
(the other half)``, one thread per stage, so that the metrics of batch ``k`` are taken while
batch ``k + 1`` is in the engine.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ..._version import __version__
from ...errors import ConfigError, VideoError
from ...labels import swap_lr
from ...parser import Parser
from ...resample import GridScores
from ..io.reader import VideoReader
from ..jobs.job import HeapTrimmer, batched, run_stages
from ..jobs.options import QUEUE_BYTES, WORK_PIXELS, check_frame_range, check_progress, engine_batch, queue_depth, work_size
from ..jobs.progress import progress as make_progress
from ..jobs.stages import Decode
from ..stream.options import limb_options, smoothing_options
from ..jobs.summary import model_entry, option_repr

__all__ = ["EVAL_CONFIGS", "EVAL_GOALS", "ConfigStream", "evaluate_video"]

#: evaluated configurations: name -> (smoothing, limb consistency)
EVAL_CONFIGS: dict[str, tuple[bool, bool]] = {
    "raw": (False, False),
    "smoothing": (True, False),
    "limbs": (False, True),
    "smoothing+limbs": (True, True),
}

#: what the full pipeline (smoothing + limbs) must reach with the default model on a real clip
EVAL_GOALS: dict[str, str] = {
    "flicker_ratio": "<= 0.4",
    "agreement": ">= 0.95",
    "total_transient_swaps": "== 0",
    "mixed_limb_share": "< 0.02",
    "flip_equivariance": ">= 0.95",
}


def _goal_met(value: Any, goal: str) -> bool | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    op, target = goal.split()
    t = float(target)
    return {"<=": value <= t, ">=": value >= t, "==": value == t, "<": value < t}[op]


def _json_safe(value: Any) -> Any:
    """NaN -> None, recursively (JSON has no NaN)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class ConfigStream:
    """Every configuration of :data:`EVAL_CONFIGS` for one orientation of a video, sharing the work.

    The stages of :class:`~tryon_sdk.video.stream.session.VideoSession` (smoothing -> argmax -> limb
    consistency, or a left/right swap for mirrored input without it), but one smoother serves
    both smoothed configurations and one argmax both unsmoothed ones: 1 smoothing, 2 argmaxes and
    2 limb passes per frame instead of 2, 4 and 2 with one session per configuration.
    """

    def __init__(self, smoothing: Any, limb_consistency: Any, mirrored: bool) -> None:
        from ...limbs import LimbConsistency
        from ..temporal.smoothing import TemporalSmoother

        sopts, lopts = smoothing_options(smoothing), limb_options(limb_consistency)
        self.smoother = TemporalSmoother(sopts) if sopts is not None else None
        self.fixer = LimbConsistency(lopts, mirrored=mirrored) if lopts is not None else None
        self.mirrored = mirrored
        self._smooth_state: Any = None
        self._limb_states: dict[bool, Any] = {False: None, True: None}

    def _finish(self, labels: np.ndarray, probs: Any, smoothed: bool, limbs: bool) -> np.ndarray:
        if limbs and self.fixer is not None:
            fixed, self._limb_states[smoothed] = self.fixer.step(labels, self._limb_states[smoothed], probabilities=probs)
            return np.asarray(fixed, dtype=np.uint8)
        if self.mirrored:  # the limb stage does this itself when it runs
            return swap_lr(labels)
        return labels

    def run(self, images: list[np.ndarray], probs: list[Any], stamps: list[int]) -> list[dict[str, np.ndarray]]:
        """Labels of every configuration, per frame (frames in stream order)."""
        out = []
        for i, (image, ts) in enumerate(zip(images, stamps)):
            g, probs[i] = probs[i], None
            if not isinstance(g, GridScores):
                g = GridScores(g, image.shape[:2])
            raw = g.labels()
            labels = {(False, False): self._finish(raw, g, False, False)}
            labels[(False, True)] = self._finish(raw, g, False, True) if self.fixer is not None else labels[(False, False)]
            if self.smoother is not None:
                smoother = self.smoother.on_grid(g.scale)  # a new tensor: the unsmoothed configurations read g
                p, self._smooth_state = smoother.step(g.scores, self._smooth_state, timestamp_ms=ts, frame=image)
                sp = GridScores(p, g.size)
                smooth = sp.labels()
                labels[(True, False)] = self._finish(smooth, sp, True, False)
                labels[(True, True)] = self._finish(smooth, sp, True, True) if self.fixer is not None else labels[(True, False)]
            else:
                labels[(True, False)], labels[(True, True)] = labels[(False, False)], labels[(False, True)]
            out.append({name: labels[cfg] for name, cfg in EVAL_CONFIGS.items()})
        return out


@dataclass
class _Batch:
    """One engine batch on its way through the evaluation: images, probabilities, then labels per orientation."""

    stamps: list[int]
    images: list[list[np.ndarray]]  # [video] or [video, mirror]
    probs: list[list[Any]]
    labels: list[list[dict[str, np.ndarray]]] = field(default_factory=list)


class _Engine:
    def __init__(self, parser: Parser, batch_size: int, flip: bool, bar: Any) -> None:
        self.parser, self.batch_size, self.flip, self.bar = parser, batch_size, flip, bar
        self.seconds, self.frames = 0.0, 0
        self._trim = HeapTrimmer(interval_s=5.0)  # a trim costs tens of ms; evaluation keeps no frames around

    def fits(self, image: np.ndarray) -> int:
        """Frames per call so that two calls' probabilities (video and mirror) fit the budget."""
        return engine_batch(self.batch_size, self.parser.config.num_classes * image.shape[0] * image.shape[1] * 4, 1 + self.flip)

    def __call__(self, frames: Iterable[tuple[Any, np.ndarray]]) -> Iterator[_Batch]:
        for batch in batched(frames, lambda item: self.fits(item[1])):
            t0 = time.perf_counter()
            images = [image for _, image in batch]
            views = [images] + ([[np.ascontiguousarray(im[:, ::-1]) for im in images]] if self.flip else [])
            probs = self.parser.predict_grids([im for view in views for im in view])
            self.seconds += time.perf_counter() - t0
            n = len(images)
            yield _Batch([f.timestamp_ms for f, _ in batch], views, [probs[k * n : (k + 1) * n] for k in range(len(views))])
            del probs
            self._trim()
            self.frames += n
            self.bar.update(n)


class _Temporal:
    """The temporal stages of one orientation (``view`` 0: the video, 1: its mirror)."""

    def __init__(self, stream: ConfigStream, view: int) -> None:
        self.stream, self.view = stream, view
        self.seconds = 0.0

    def __call__(self, batches: Iterable[_Batch]) -> Iterator[_Batch]:
        for b in batches:
            t0 = time.perf_counter()
            b.labels.append(self.stream.run(b.images[self.view], b.probs[self.view], b.stamps))
            b.probs[self.view] = []
            self.seconds += time.perf_counter() - t0
            yield b


class _Measure:
    """Metrics of some configurations (every configuration's labels pass through)."""

    def __init__(self, metrics: dict[str, Any], names: list[str]) -> None:
        self.metrics, self.names = metrics, names
        self.seconds = 0.0

    def __call__(self, batches: Iterable[_Batch]) -> Iterator[_Batch]:
        for b in batches:
            t0 = time.perf_counter()
            orig, flp = b.labels[0], (b.labels[1] if len(b.labels) > 1 else None)
            for i, labels in enumerate(orig):
                for name in self.names:
                    self.metrics[name].update(labels[name], raw=labels["raw"], mirrored=flp[i][name] if flp else None)
            self.seconds += time.perf_counter() - t0
            yield b


def evaluate_video(
    parser: Parser,
    source: str | os.PathLike,
    *,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    batch_size: int = 4,
    smoothing: Any = True,
    limb_consistency: Any = True,
    mirrored: bool = False,
    flip: bool = True,
    progress: bool | str = False,
    work_pixels: int | None = WORK_PIXELS,
) -> dict[str, Any]:
    """Temporal-stability metrics of a video with and without smoothing and limb consistency.

    One engine call per batch serves every configuration of :data:`EVAL_CONFIGS`
    (and, with ``flip``, the mirrored video, for flip equivariance). Metrics are
    :class:`tryon_sdk.video.evaluation.metrics.VideoMetrics`; agreement is with the ``raw``
    configuration (per-frame argmax). ``smoothing`` / ``limb_consistency``: options
    (``SmoothingOptions`` / ``LimbOptions``) of the configurations that have them
    (``True``: defaults). ``progress`` as in :class:`~tryon_sdk.video.jobs.options.PipelineOptions`;
    frames above ``work_pixels`` are evaluated at that size.
    Returns a JSON-safe dict (NaN -> ``None``).
    """
    from .metrics import VideoMetrics

    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    check_frame_range(start, end, max_frames)
    check_progress(progress)
    t_start = time.perf_counter()
    reader = VideoReader(source, start=start, end=end, max_frames=max_frames)
    info = reader.info
    metrics = {name: VideoMetrics() for name in EVAL_CONFIGS}
    names = list(EVAL_CONFIGS)
    bar = make_progress(progress, reader.frames_expected, f"eval-video {Path(source).name}")
    decode = Decode(reader, work_pixels)
    engine = _Engine(parser, batch_size, flip, bar)
    temporal = [_Temporal(ConfigStream(smoothing, limb_consistency, mirrored), view) for view in range(1 + flip)]
    measure = [_Measure(metrics, names[: len(names) // 2]), _Measure(metrics, names[len(names) // 2 :])]
    stages = [engine, *temporal, *measure]
    frames = queue_depth(info.width * info.height * 3, QUEUE_BYTES, 2 * batch_size)
    depths = [frames, 1] + [1] * (len(temporal) - 1) + [2, 2]  # batches of probabilities wait one at a time
    try:
        run_stages(decode, stages, depths, name="tryon-eval")
        bar.finish()
    finally:
        bar.close()
    if engine.frames == 0:
        where = " in the selected range" if (start or end) else ""
        raise VideoError(f"{source}: no decodable video frames{where}")

    results = {name: m.result().as_dict() for name, m in metrics.items()}
    full = results["smoothing+limbs"]
    goals = {key: {"goal": goal, "value": full.get(key), "met": _goal_met(full.get(key), goal)} for key, goal in EVAL_GOALS.items()}
    wall = time.perf_counter() - t_start
    times = {
        "decode": decode.seconds,
        "inference": engine.seconds,
        "postprocess": sum(t.seconds for t in temporal),
        "metrics": sum(m.seconds for m in measure),
    }
    return _json_safe(
        {
            "tryon_sdk_version": __version__,
            "input": {"kind": "video", **info.to_dict()},
            "model": model_entry(parser, architecture=False),
            "options": {
                "start": start,
                "end": end,
                "max_frames": max_frames,
                "batch_size": batch_size,
                "smoothing": option_repr(smoothing_options(smoothing)),
                "limb_consistency": option_repr(limb_options(limb_consistency)),
                "mirrored": mirrored,
                "flip": flip,
                "work_pixels": work_pixels,
            },
            "work_size": list(work_size((info.height, info.width), work_pixels)),
            "frames": engine.frames,
            "frames_expected": reader.frames_expected,
            "frames_skipped": reader.skipped_count,
            "truncated": reader.truncated,
            "truncation": reader.truncation,
            "configs": results,
            "goals": goals,
            "fps": round(engine.frames / wall, 3) if wall > 0 else None,
            "timings_s": {"wall": round(wall, 3), **{k: round(v, 3) for k, v in times.items()}},
        }
    )
