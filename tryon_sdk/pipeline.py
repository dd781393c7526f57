"""Offline parsing of a video, an image or a folder of images into files.

For a video, decoding, inference, the temporal stages and encoding overlap
in a bounded pipeline::

    reader thread --(2 x batch frames)--> main thread: batched engine (Parser.predict)
        --(2 batches)--> temporal thread: smoothing, argmax, limb consistency (VideoSession)
        --(2 x batch results)--> writer thread: overlay / labels / alpha encoders

so memory stays flat however long the video is. Outputs are written under
hidden temporary names and renamed into place only once every one of them
is complete (see :class:`~tryon_sdk.video_io.PendingOutput`); on an error or
Ctrl-C the temporary files are removed and older outputs are left as they were.

============  ==========================================  =============================
output        video input                                 image / folder input
============  ==========================================  =============================
overlay       ``overlay.mp4`` (H.264 yuv420p, input pts,   ``overlay.png`` / ``overlay/``
              audio copied)
labels        ``labels.mkv`` (FFV1 gray8, ids 0..17) or    ``labels.png`` / ``labels/``
              ``labels/`` PNG sequence
alpha         ``alpha_<region>.mkv`` (gray8, 255 = 1.0)    ``alpha_<region>.png`` / folder
              or ``alpha_<region>/`` PNG sequence
summary       ``summary.json``                             ``summary.json``
============  ==========================================  =============================
"""

from __future__ import annotations

import json
import os
import queue
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ._version import __version__
from .errors import ConfigError, InputError, VideoError
from .parser import ParseResult, Parser
from .regions import region_classes
from .stream import Compositor, RunningMode, StreamOptions, VideoSession
from .video_io import (
    DecodedFrame,
    GrayVideoWriter,
    H264Writer,
    PendingOutput,
    PngSequenceWriter,
    VideoReader,
    is_image_path,
    list_images,
    read_image,
    write_png,
)

__all__ = [
    "PipelineOptions",
    "OUTPUT_KINDS",
    "MASK_FORMATS",
    "EVAL_CONFIGS",
    "EVAL_GOALS",
    "run_pipeline",
    "prepare_output_dir",
    "iter_video_results",
    "evaluate_video",
    "summary_json",
]

OUTPUT_KINDS: tuple[str, ...] = ("overlay", "labels", "alpha", "summary")
MASK_FORMATS: tuple[str, ...] = ("video", "png")


@dataclass
class PipelineOptions:
    """What to write and how to parse.

    Attributes:
        outputs: subset of :data:`OUTPUT_KINDS`; ``None`` means overlay, labels, summary,
            plus alpha when ``regions`` are given.
        regions: region names (see :data:`tryon_sdk.regions.REGIONS`) to write alphas for.
        mask_format: ``"video"`` (FFV1 gray8 ``.mkv``) or ``"png"`` (PNG sequence) for labels and alphas.
        batch_size: frames per engine call.
        smoothing, limb_consistency, mirrored: as in :class:`~tryon_sdk.stream.StreamOptions`.
        start, end: seconds from the start of the video; max_frames: stop after this many frames.
        compositor: renders overlay frames (default: label-colour overlay).
        progress: show a tqdm bar on stderr.
        queue_size: bound of each inter-thread queue (default ``2 * batch_size``).
        crf, preset: libx264 settings of ``overlay.mp4``.
    """

    outputs: tuple[str, ...] | None = None
    regions: tuple[str, ...] = ()
    mask_format: str = "video"
    batch_size: int = 4
    smoothing: Any = True
    limb_consistency: Any = True
    mirrored: bool = False
    start: float | None = None
    end: float | None = None
    max_frames: int | None = None
    compositor: Compositor | None = None
    progress: bool = False
    queue_size: int | None = None
    crf: int = 20
    preset: str = "veryfast"
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved_outputs(self) -> tuple[str, ...]:
        outs = self.outputs
        if outs is None:
            outs = ("overlay", "labels", "summary") + (("alpha",) if self.regions else ())
        bad = [o for o in outs if o not in OUTPUT_KINDS]
        if bad:
            raise ConfigError(f"unknown output {bad[0]!r}; valid: {', '.join(OUTPUT_KINDS)}")
        if "alpha" in outs and not self.regions:
            raise ConfigError("the alpha output needs regions (e.g. --regions upper_body,lower_body)")
        if not outs:
            raise ConfigError("no outputs asked for")
        return tuple(dict.fromkeys(outs))

    def validate(self) -> None:
        self.resolved_outputs()
        for r in self.regions:
            region_classes(r)
        if self.mask_format not in MASK_FORMATS:
            raise ConfigError(f"unknown mask format {self.mask_format!r}; valid: {', '.join(MASK_FORMATS)}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max frames must be >= 1, got {self.max_frames}")
        if self.start is not None and self.start < 0:
            raise ConfigError(f"start must be >= 0 seconds, got {self.start}")
        if self.end is not None and self.end <= (self.start or 0.0):
            raise ConfigError(f"end ({self.end} s) must be after start ({self.start or 0.0} s)")


def prepare_output_dir(outdir: str | os.PathLike) -> Path:
    """Create ``outdir`` if needed and check that files can be written there (:class:`VideoError` if not)."""
    p = Path(outdir)
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tryon-write-test-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise VideoError(f"cannot write to output folder {p}: {exc.strerror or exc}") from None
    return p


def _alpha_u8(alpha: np.ndarray) -> np.ndarray:
    """``HxW`` float alpha in [0, 1] -> uint8 0..255 (rounded)."""
    return np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _class_share(labels: np.ndarray, num_classes: int) -> list[float]:
    counts = np.bincount(labels.ravel(), minlength=num_classes)[:num_classes]
    return [round(float(c), 6) for c in counts / labels.size]


def summary_json(summary: dict[str, Any]) -> str:
    """Indented JSON with one line per entry of ``frames`` (long videos stay readable)."""
    rest = {k: v for k, v in summary.items() if k != "frames"}
    text = json.dumps(rest, indent=2)
    if "frames" not in summary:
        return text + "\n"
    rows = ",\n    ".join(json.dumps(f) for f in summary["frames"])
    return text[:-2] + (f',\n  "frames": [\n    {rows}\n  ]\n}}\n' if rows else ',\n  "frames": []\n}\n')


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    pending = PendingOutput(path)
    try:
        pending.tmp.write_text(summary_json(data))
        pending.commit()
    except OSError as exc:
        pending.discard()
        raise VideoError(f"cannot write {path}: {exc.strerror or exc}") from None


class _HeapTrimmer:
    """Hands freed heap memory back to the OS at most once per ``interval_s`` (glibc only; else a no-op).

    Each frame allocates and frees tens of MB (full-size probabilities) in several
    threads; glibc keeps much of it, and its dynamic mmap threshold lets the
    process grow by ~1 GB over a few hundred frames. ``malloc_trim`` keeps it flat.
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._last = time.monotonic()
        self._trim = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                self._trim = ctypes.CDLL(None).malloc_trim
            except (OSError, AttributeError):  # musl and others
                self._trim = None

    def __call__(self) -> None:
        if self._trim is not None and time.monotonic() - self._last >= self.interval_s:
            self._trim(0)
            self._last = time.monotonic()


class _Stop(Exception):
    """Raised inside a worker thread when the run is being torn down."""


_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            q.put(item, timeout=0.05)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stop
        try:
            return q.get(timeout=0.05)
        except queue.Empty:
            continue


class _Outputs:
    """The writers of one run and their pending files; commit all or discard all."""

    def __init__(self) -> None:
        self.pending: list[PendingOutput] = []
        self.writers: list[Any] = []
        self.names: dict[str, Any] = {}

    def add(self, pending: PendingOutput, writer: Any = None) -> PendingOutput:
        self.pending.append(pending)
        if writer is not None:
            self.writers.append(writer)
        return pending

    def close(self) -> None:
        for w in self.writers:
            w.close()

    def commit(self) -> None:
        for p in self.pending:
            p.commit()

    def discard(self) -> None:
        for w in self.writers:
            abort = getattr(w, "abort", None)
            if abort is not None:
                abort()
        for p in self.pending:
            p.discard()


def _progress(enabled: bool, total: int | None, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not enabled, file=sys.stderr, leave=False)


def run_pipeline(
    parser: Parser,
    source: str | os.PathLike,
    outdir: str | os.PathLike,
    options: PipelineOptions | None = None,
) -> dict[str, Any]:
    """Parse ``source`` (video file, image, or folder of images) into ``outdir``; returns the summary.

    Raises :class:`VideoError` / :class:`InputError` / :class:`ConfigError` when the job cannot be done;
    undecodable frames and unreadable images are skipped and counted instead.
    """
    options = options or PipelineOptions()
    options.validate()
    src = Path(source)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    out = prepare_output_dir(outdir)
    if src.is_dir():
        return _run_images(parser, list_images(src), out, options, folder=src)
    if is_image_path(src):
        return _run_images(parser, [src], out, options, folder=None)
    return _run_video(parser, src, out, options)


def _base_summary(parser: Parser, options: PipelineOptions, outputs: tuple[str, ...]) -> dict[str, Any]:
    cfg = parser.config
    return {
        "tryon_sdk_version": __version__,
        "model": {
            "architecture": cfg.architecture,
            "backbone": cfg.backbone,
            "input_size": list(cfg.input_size),
            "sha256": cfg.sha256,
            "device": str(parser.device),
        },
        "options": {
            "outputs": list(outputs),
            "regions": list(options.regions),
            "mask_format": options.mask_format,
            "batch_size": options.batch_size,
            "smoothing": _option_repr(options.smoothing),
            "limb_consistency": _option_repr(options.limb_consistency),
            "mirrored": options.mirrored,
            "start": options.start,
            "end": options.end,
            "max_frames": options.max_frames,
            "compositor": getattr(options.compositor, "__name__", None) if options.compositor else None,
            **options.extra,
        },
        "class_names": list(cfg.class_names),
    }


def _option_repr(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    try:
        import dataclasses

        return dataclasses.asdict(value)
    except TypeError:
        return repr(value)


# ---------------------------------------------------------------------------- video
def _run_video(parser: Parser, src: Path, out: Path, options: PipelineOptions) -> dict[str, Any]:
    t_start = time.perf_counter()
    outputs = options.resolved_outputs()
    reader = VideoReader(src, start=options.start, end=options.end, max_frames=options.max_frames)
    info = reader.info
    need_probs = "alpha" in outputs
    session = VideoSession(
        parser,
        StreamOptions(
            running_mode=RunningMode.VIDEO,
            smoothing=options.smoothing,
            limb_consistency=options.limb_consistency,
            mirrored=options.mirrored,
            return_probabilities=need_probs,
            compositor=options.compositor,
        ),
    )
    num_classes = parser.config.num_classes
    files = _Outputs()
    gray_ext = ".mkv" if options.mask_format == "video" else ""

    def gray_output(name: str) -> tuple[PendingOutput, Any]:
        if options.mask_format == "video":
            p = PendingOutput(out / f"{name}{gray_ext}")
            return p, GrayVideoWriter(p.tmp, time_base=info.time_base, fps=info.fps)
        p = PendingOutput(out / name, is_dir=True)
        return p, PngSequenceWriter(p.tmp)

    overlay_w = labels_w = None
    alpha_w: dict[str, Any] = {}
    frames_meta: list[dict[str, Any]] = []
    timings = {"decode_s": 0.0, "inference_s": 0.0, "encode_s": 0.0}
    stop = threading.Event()
    q_in: queue.Queue = queue.Queue(maxsize=options.queue_size or 2 * options.batch_size)
    q_out: queue.Queue = queue.Queue(maxsize=options.queue_size or 2 * options.batch_size)
    q_post: queue.Queue = queue.Queue(maxsize=2)  # engine outputs (batches) waiting for the temporal stages
    threads: list[threading.Thread] = []

    def read_loop() -> None:
        it = iter(reader)
        try:
            while True:
                t0 = time.perf_counter()
                frame = next(it, None)
                timings["decode_s"] += time.perf_counter() - t0
                if frame is None:
                    break
                _put(q_in, frame, stop)
            _put(q_in, _END, stop)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            try:
                _put(q_in, _Failure(exc), stop)
            except _Stop:
                pass
        finally:
            it.close()  # type: ignore[attr-defined]  # a generator: closes the container

    def post_loop() -> None:
        # the temporal stages of batch k run while the engine works on batch k + 1
        try:
            while True:
                item = _get(q_post, stop)
                if item is _END:
                    _put(q_out, _END, stop)
                    return
                batch, probs = item
                results = session.parse_probabilities([f.image for f in batch], probs, [f.timestamp_ms for f in batch])
                for f, r in zip(batch, results):
                    _put(q_out, (f, r), stop)
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001
            thread_errors.append(exc)
            stop.set()

    trim = _HeapTrimmer()

    def write_loop() -> None:
        try:
            while True:
                item = _get(q_out, stop)
                if item is _END:
                    return
                trim()
                frame, result = item
                t0 = time.perf_counter()
                if overlay_w is not None:
                    overlay_w.write(session.render(result, frame.image), frame.pts)
                if labels_w is not None:
                    labels_w.write(result.labels, frame.pts)
                for name, w in alpha_w.items():
                    w.write(_alpha_u8(result.region(name)), frame.pts)
                frames_meta.append(
                    {
                        "index": frame.index,
                        "pts": frame.pts,
                        "time_s": round(frame.time_s, 6),
                        "class_share": _class_share(result.labels, num_classes),
                    }
                )
                timings["encode_s"] += time.perf_counter() - t0
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001
            thread_errors.append(exc)
            stop.set()

    thread_errors: list[BaseException] = []
    bar = _progress(options.progress, _expected_frames(info.estimated_frames(), options), src.name)
    try:
        if "overlay" in outputs:
            p = PendingOutput(out / "overlay.mp4")
            audio_start = info.start_time_s + options.start if options.start else None
            overlay_w = H264Writer(
                p.tmp,
                fps=info.fps,
                time_base=info.time_base,
                audio_from=src if info.has_audio else None,
                audio_start_s=audio_start,
                crf=options.crf,
                preset=options.preset,
            )
            files.add(p, overlay_w)
            files.names["overlay"] = p.final.name
        if "labels" in outputs:
            p, labels_w = gray_output("labels")
            files.add(p, labels_w)
            files.names["labels"] = p.final.name
        for name in options.regions if "alpha" in outputs else ():
            p, w = gray_output(f"alpha_{name}")
            alpha_w[name] = w
            files.add(p, w)
            files.names.setdefault("alpha", {})[name] = p.final.name

        threads = [
            threading.Thread(target=read_loop, name="tryon-reader", daemon=True),
            threading.Thread(target=post_loop, name="tryon-temporal", daemon=True),
            threading.Thread(target=write_loop, name="tryon-writer", daemon=True),
        ]
        for t in threads:
            t.start()

        done = False
        while not done:
            batch: list[DecodedFrame] = []
            while len(batch) < options.batch_size:
                item = _get(q_in, stop)
                if item is _END:
                    done = True
                    break
                if isinstance(item, _Failure):
                    raise item.exc
                batch.append(item)
            if batch:
                t0 = time.perf_counter()
                probs = parser.predict([f.image for f in batch])
                timings["inference_s"] += time.perf_counter() - t0
                _put(q_post, (batch, probs), stop)
                bar.update(len(batch))
        _put(q_post, _END, stop)
        for t in threads[::-1]:
            t.join()
        if thread_errors:
            raise thread_errors[0]
        if reader.frames_read == 0:
            where = " in the selected range" if (options.start or options.end) else ""
            raise VideoError(f"{src}: no decodable video frames{where}")
        files.close()
        files.commit()
    except BaseException as exc:
        stop.set()
        for t in threads:
            t.join(timeout=5)
        files.discard()
        if isinstance(exc, _Stop) and thread_errors:  # a worker thread failed while we waited on it
            raise thread_errors[0] from None
        raise
    finally:
        bar.close()
        session.close(raise_errors=False)

    stats = session.stats
    wall = time.perf_counter() - t_start
    summary = _base_summary(parser, options, outputs)
    summary.update(
        {
            "input": {"kind": "video", **info.to_dict()},
            "outputs": files.names | ({"summary": "summary.json"} if "summary" in outputs else {}),
            "frames_processed": len(frames_meta),
            "frames_skipped": reader.skipped_count,
            "frames_dropped": stats.frames_dropped,
            "skipped": reader.skipped,
            "truncated": reader.truncated,
            "timings_s": {
                "wall": round(wall, 4),
                "decode": round(timings["decode_s"], 4),
                "inference": round(timings["inference_s"], 4),
                "postprocess": round(stats.postprocess_s, 4),
                "encode": round(timings["encode_s"], 4),
            },
            "fps": round(len(frames_meta) / wall, 3) if wall > 0 else None,
            "frames": frames_meta,
        }
    )
    if "summary" in outputs:
        _write_json_atomic(out / "summary.json", summary)
    return summary


def _expected_frames(estimate: int | None, options: PipelineOptions) -> int | None:
    if options.max_frames is not None:
        return min(options.max_frames, estimate) if estimate else options.max_frames
    if options.start or options.end:
        return None
    return estimate


# --------------------------------------------------------------------------- images
def _run_images(
    parser: Parser, paths: list[Path], out: Path, options: PipelineOptions, *, folder: Path | None
) -> dict[str, Any]:
    t_start = time.perf_counter()
    outputs = options.resolved_outputs()
    if folder is not None and not paths:
        raise InputError(f"{folder}: no images found (looked for {', '.join(sorted({'.png', '.jpg', '.jpeg'}))}, ...)")
    session = VideoSession(
        parser,
        StreamOptions(
            running_mode=RunningMode.IMAGE,
            smoothing=False,
            limb_consistency=options.limb_consistency,
            mirrored=options.mirrored,
            return_probabilities="alpha" in outputs,
            compositor=options.compositor,
        ),
    )
    files = _Outputs()
    single = folder is None
    targets: dict[str, PendingOutput] = {}
    kinds = [k for k in ("overlay", "labels") if k in outputs] + (
        [f"alpha_{r}" for r in options.regions] if "alpha" in outputs else []
    )
    skipped: list[dict[str, Any]] = []
    frames_meta: list[dict[str, Any]] = []
    num_classes = parser.config.num_classes
    bar = _progress(options.progress, len(paths), folder.name if folder else paths[0].name)
    try:
        for kind in kinds:
            targets[kind] = files.add(PendingOutput(out / (f"{kind}.png" if single else kind), is_dir=not single))
            files.names[kind] = targets[kind].final.name

        def write_result(path: Path, index: int, result: ParseResult) -> None:
            for kind, pending in targets.items():
                dest = pending.tmp if single else pending.tmp / f"{path.stem}.png"
                if kind == "overlay":
                    img = session.render(result)
                elif kind == "labels":
                    img = result.labels
                else:
                    img = _alpha_u8(result.region(kind[len("alpha_") :]))
                try:
                    write_png(dest, img)
                except OSError as exc:
                    raise VideoError(f"cannot write {dest}: {exc.strerror or exc}") from None
            frames_meta.append(
                {"index": index, "file": path.name, "size": list(result.shape), "class_share": _class_share(result.labels, num_classes)}
            )

        for start in range(0, len(paths), options.batch_size):
            chunk = paths[start : start + options.batch_size]
            images, kept = [], []
            for i, path in enumerate(chunk):
                try:
                    images.append(read_image(path))
                    kept.append((start + i, path))
                except InputError as exc:
                    if single:
                        raise
                    skipped.append({"file": path.name, "reason": str(exc)})
            for (index, path), result in zip(kept, session.parse_many(images)):
                write_result(path, index, result)
            bar.update(len(chunk))
        if not frames_meta:
            raise InputError(f"{folder}: none of the {len(paths)} images could be read")
        files.close()
        files.commit()
    except BaseException:
        files.discard()
        raise
    finally:
        bar.close()
        session.close(raise_errors=False)

    stats = session.stats
    wall = time.perf_counter() - t_start
    summary = _base_summary(parser, options, outputs)
    summary.update(
        {
            "input": {"kind": "image" if single else "images", "path": str(paths[0] if single else folder), "count": len(paths)},
            "outputs": files.names | ({"summary": "summary.json"} if "summary" in outputs else {}),
            "frames_processed": len(frames_meta),
            "frames_skipped": len(skipped),
            "frames_dropped": 0,
            "skipped": skipped,
            "truncated": False,
            "timings_s": {
                "wall": round(wall, 4),
                "inference": round(stats.inference_s, 4),
                "postprocess": round(stats.postprocess_s, 4),
            },
            "frames": frames_meta,
        }
    )
    if "summary" in outputs:
        _write_json_atomic(out / "summary.json", summary)
    return summary


def iter_video_results(
    parser: Parser, source: str | os.PathLike, options: PipelineOptions | None = None
) -> Iterator[tuple[DecodedFrame, ParseResult]]:
    """Decode and parse a video frame by frame without writing anything (for evaluation and scripts)."""
    options = options or PipelineOptions()
    reader = VideoReader(source, start=options.start, end=options.end, max_frames=options.max_frames)
    with VideoSession(
        parser,
        StreamOptions(
            running_mode=RunningMode.VIDEO,
            smoothing=options.smoothing,
            limb_consistency=options.limb_consistency,
            mirrored=options.mirrored,
        ),
    ) as session:
        batch: list[DecodedFrame] = []
        for frame in reader:
            batch.append(frame)
            if len(batch) == options.batch_size:
                yield from zip(batch, session.parse_many([f.image for f in batch], [f.timestamp_ms for f in batch]))
                batch = []
        if batch:
            yield from zip(batch, session.parse_many([f.image for f in batch], [f.timestamp_ms for f in batch]))



# ------------------------------------------------------------------------------- evaluation
#: evaluated configurations: name -> (smoothing, limb consistency)
EVAL_CONFIGS: dict[str, tuple[bool, bool]] = {
    "raw": (False, False),
    "smoothing": (True, False),
    "limbs": (False, True),
    "smoothing+limbs": (True, True),
}

#: goals of issue 3 for the full pipeline (smoothing + limbs) with the default model
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
    progress: bool = False,
) -> dict[str, Any]:
    """Temporal-stability metrics of a video with and without smoothing and limb consistency.

    One engine call per batch serves every configuration of :data:`EVAL_CONFIGS`
    (and, with ``flip``, the mirrored video, for flip equivariance). Metrics are
    :class:`tryon_sdk.video_metrics.VideoMetrics`; agreement is with the ``raw``
    configuration (per-frame argmax). Returns a JSON-safe dict (NaN -> ``None``).
    """
    from .video_metrics import VideoMetrics

    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    t_start = time.perf_counter()
    reader = VideoReader(source, start=start, end=end, max_frames=max_frames)
    info = reader.info

    def session(smooth: bool, limbs: bool) -> VideoSession:
        return VideoSession(
            parser,
            StreamOptions(
                RunningMode.VIDEO,
                smoothing=smoothing if smooth else False,
                limb_consistency=limb_consistency if limbs else False,
                mirrored=mirrored,
            ),
        )

    sessions = {name: (session(*cfg), session(*cfg) if flip else None) for name, cfg in EVAL_CONFIGS.items()}
    metrics = {name: VideoMetrics() for name in EVAL_CONFIGS}
    times = {"decode": 0.0, "inference": 0.0, "postprocess": 0.0, "metrics": 0.0}
    bar = _progress(progress, _expected_frames(info.estimated_frames(), PipelineOptions(start=start, end=end, max_frames=max_frames)), "eval")
    frames_done = 0
    trim = _HeapTrimmer()

    def run_batch(batch: list[DecodedFrame]) -> None:
        t0 = time.perf_counter()
        images = [f.image for f in batch]
        mirrored_images = [np.ascontiguousarray(im[:, ::-1]) for im in images] if flip else []
        probs = parser.predict(images + mirrored_images)
        t1 = time.perf_counter()
        stamps = [f.timestamp_ms for f in batch]
        outputs = {}
        for name, (s_orig, s_flip) in sessions.items():
            orig = s_orig.parse_probabilities(images, probs[: len(images)], stamps)
            flp = s_flip.parse_probabilities(mirrored_images, probs[len(images) :], stamps) if s_flip else None
            outputs[name] = (orig, flp)
        t2 = time.perf_counter()
        raw = outputs["raw"][0]
        for name, (orig, flp) in outputs.items():
            for i, r in enumerate(orig):
                metrics[name].update(r.labels, raw=raw[i].labels, mirrored=flp[i].labels if flp else None)
        times["inference"] += t1 - t0
        times["postprocess"] += t2 - t1
        times["metrics"] += time.perf_counter() - t2

    try:
        batch: list[DecodedFrame] = []
        it = iter(reader)
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            times["decode"] += time.perf_counter() - t0
            if frame is not None:
                batch.append(frame)
            if batch and (frame is None or len(batch) == batch_size):
                run_batch(batch)
                trim()
                frames_done += len(batch)
                bar.update(len(batch))
                batch = []
            if frame is None:
                break
    finally:
        bar.close()
        for s_orig, s_flip in sessions.values():
            s_orig.close(raise_errors=False)
            if s_flip is not None:
                s_flip.close(raise_errors=False)
    if frames_done == 0:
        where = " in the selected range" if (start or end) else ""
        raise VideoError(f"{source}: no decodable video frames{where}")

    results = {name: m.result().as_dict() for name, m in metrics.items()}
    full = results["smoothing+limbs"]
    goals = {key: {"goal": goal, "value": full.get(key), "met": _goal_met(full.get(key), goal)} for key, goal in EVAL_GOALS.items()}
    wall = time.perf_counter() - t_start
    cfg = parser.config
    return _json_safe(
        {
            "tryon_sdk_version": __version__,
            "input": {"kind": "video", **info.to_dict()},
            "model": {"backbone": cfg.backbone, "input_size": list(cfg.input_size), "sha256": cfg.sha256, "device": str(parser.device)},
            "options": {
                "start": start,
                "end": end,
                "max_frames": max_frames,
                "batch_size": batch_size,
                "smoothing": _option_repr(smoothing),
                "limb_consistency": _option_repr(limb_consistency),
                "mirrored": mirrored,
                "flip": flip,
            },
            "frames": frames_done,
            "frames_skipped": reader.skipped_count,
            "truncated": reader.truncated,
            "configs": results,
            "goals": goals,
            "timings_s": {"wall": round(wall, 3), **{k: round(v, 3) for k, v in times.items()}},
        }
    )
