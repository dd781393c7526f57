"""Offline parsing of a video, an image or a folder of images into files.

For a video, decoding, inference, the temporal stages and encoding overlap
in a bounded pipeline::

    reader thread --(frames)--> main thread: batched engine (Parser.predict)
        --(1 batch of probabilities)--> temporal thread: smoothing, argmax, limb consistency
        (VideoSession), then rendering, alphas and labels at the frame's size, all uint8
        --(rendered frames)--> writer thread: overlay / labels / alpha encoders

so memory stays flat however long the video is, and bounded however large
its frames are: full-size ``C x H x W`` float probabilities exist only between
the engine and the temporal stage, at most :data:`PROBABILITY_BYTES` of them
at a time (large frames go through the engine fewer at a time), and the other
queues hold uint8 frames, bounded by :data:`QUEUE_BYTES`. Frames with more
than :attr:`PipelineOptions.work_pixels` pixels (default 1280x720) are parsed
at a working size with that many pixels (the network itself sees ~300 px):
labels are scaled back up to the frame (nearest), alphas bilinearly, and the
overlay is drawn on the full frame. Measured peak RSS with the default outputs
(``benchmarks/bench_memory.py``): see the README.

Outputs are written under hidden temporary names and renamed into place only
once every one of them is complete (see :mod:`tryon_sdk.outputs`);
on an error or Ctrl-C the temporary files are removed and older outputs are
left as they were. Outputs of ours that an earlier run left in the folder and
this run did not write (an ``overlay.mp4`` beside a new ``overlay/``) are
removed once this run is committed and listed in the summary's ``stale_removed``.

**Incomplete input.** A video that ends before what its container promised
(cut off, damaged at the tail; see :class:`~tryon_sdk.video.io.VideoReader`)
is parsed as far as it goes and its summary says ``"truncated": true`` with
``frames_expected`` and ``frames_processed``. Such a partial result never
replaces a complete earlier one: when the folder holds a result whose summary
does not say it was truncated (or outputs without a summary), the partial one
is written to ``<outdir>/incomplete/`` instead, unless ``overwrite`` is set.

============  ==========================================  =============================
output        video input                                 image / folder input
============  ==========================================  =============================
overlay       ``overlay.mp4`` (H.264 yuv420p, input pts,   ``overlay.png`` / ``overlay/``
              audio copied); named after the compositor:
              ``recolor.mp4`` with the recolor compositor
labels        ``labels.mkv`` (FFV1 gray8, ids 0..17) or    ``labels.png`` / ``labels/``
              ``labels/`` PNG sequence
alpha         ``alpha_<region>.mkv`` (gray8, 255 = 1.0)    ``alpha_<region>.png`` / folder
              or ``alpha_<region>/`` PNG sequence
summary       ``summary.json``                             ``summary.json``
============  ==========================================  =============================
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from .._version import __version__
from ..errors import ConfigError, InputError, VideoError
from ..outputs import FrameSink, OutputGroup, PendingOutput, atomic_path
from ..parser import ParseResult, Parser
from ..regions import region_classes
from .stream import Compositor, RunningMode, StreamOptions, VideoSession
from .reader import DecodedFrame, VideoReader, is_image_path, list_images, read_image
from .writers import GrayVideoWriter, H264Writer, PngSequenceWriter, write_png

__all__ = [
    "PipelineOptions",
    "OUTPUT_KINDS",
    "MASK_FORMATS",
    "EVAL_CONFIGS",
    "EVAL_GOALS",
    "WORK_PIXELS",
    "INCOMPLETE_DIR",
    "run_pipeline",
    "prepare_output_dir",
    "iter_video_results",
    "evaluate_video",
    "summary_json",
    "work_size",
]

OUTPUT_KINDS: tuple[str, ...] = ("overlay", "labels", "alpha", "summary")
MASK_FORMATS: tuple[str, ...] = ("video", "png")
#: Frames with more pixels than this are parsed at a working size of this many pixels (1280x720).
WORK_PIXELS = 1280 * 720
#: Full-size float probabilities allowed from the engine's output until the temporal stage is done
#: with them (two engine batches of 4 frames at 768x432; one frame at a time at 1280x720).
PROBABILITY_BYTES = 192 * 2**20
#: Bound of each uint8 frame queue (decoded frames; rendered frames waiting for the encoders).
QUEUE_BYTES = 64 * 2**20
#: Where a partial result goes when the output folder holds a complete earlier one.
INCOMPLETE_DIR = "incomplete"
_PROGRESS_MODES = ("bar", "lines")


@dataclass
class PipelineOptions:
    """What to write and how to parse.

    Attributes:
        outputs: subset of :data:`OUTPUT_KINDS`; ``None`` means overlay, labels, summary,
            plus alpha when ``regions`` are given.
        regions: region names (see :data:`tryon_sdk.regions.REGIONS`) to write alphas for.
        mask_format: ``"video"`` (FFV1 gray8 ``.mkv``) or ``"png"`` (PNG sequence) for labels and alphas.
        batch_size: most frames per engine call (large frames go fewer at a time, see the module docstring).
        smoothing, limb_consistency, mirrored: as in :class:`~tryon_sdk.video.stream.StreamOptions`.
        start, end: seconds from the start of the video; max_frames: stop after this many frames.
        compositor: renders overlay frames (default: label-colour overlay).
        progress: ``False``; ``True`` (a tqdm bar on stderr when it is a terminal, else a line
            every 10 s); or ``"bar"`` / ``"lines"``.
        queue_size: most frames in the decoded-frame queue and in the rendered-frame queue
            (default twice the frames of one engine call, fewer when the frames are large: see
            :data:`QUEUE_BYTES`); the probabilities between the engine and the temporal stage
            are bounded by :data:`PROBABILITY_BYTES` instead (one engine batch waits).
        crf, preset: libx264 settings of ``overlay.mp4``.
        work_pixels: frames with more pixels are parsed at a working size with this many
            (same aspect ratio) and the results scaled back up; ``None`` parses every frame at
            its own size (about 0.15 GB of probabilities per 1080p frame, 0.6 GB at 4K, held
            several times over by the engine and the smoother).
        overwrite: let the result of an incomplete (truncated) video replace a complete earlier one.
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
    progress: bool | str = False
    queue_size: int | None = None
    crf: int = 20
    preset: str = "veryfast"
    work_pixels: int | None = WORK_PIXELS
    overwrite: bool = False

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
        if self.work_pixels is not None and self.work_pixels < 64 * 64:
            raise ConfigError(f"work_pixels must be >= {64 * 64} (or None), got {self.work_pixels}")
        if not isinstance(self.progress, bool) and self.progress not in _PROGRESS_MODES:
            raise ConfigError(f"progress must be True, False or one of {', '.join(_PROGRESS_MODES)}; got {self.progress!r}")

    def overlay_stem(self) -> str:
        """File name (without suffix) of the rendered output: the compositor's ``name``, else ``overlay``."""
        name = getattr(self.compositor, "name", None) if self.compositor is not None else None
        reserved = {"labels", "summary", INCOMPLETE_DIR}
        if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name) and name not in reserved and not name.startswith("alpha_"):
            return name
        return "overlay"


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


def work_size(shape: tuple[int, int], max_pixels: int | None = WORK_PIXELS) -> tuple[int, int]:
    """``(H, W)`` at which a frame of ``shape`` is parsed: its own, or scaled to at most ``max_pixels``."""
    h, w = int(shape[0]), int(shape[1])
    if max_pixels is None or h * w <= max_pixels:
        return h, w
    scale = math.sqrt(max_pixels / (h * w))
    return max(1, int(h * scale)), max(1, int(w * scale))


def _to_work(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``HxWx3`` uint8 -> the working size (area averaging), or the image itself when it fits."""
    if image.shape[:2] == size:
        return image
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def _from_work(plane: np.ndarray, shape: tuple[int, int], *, labels: bool) -> np.ndarray:
    """A working-size ``HxW`` uint8 plane back at the frame's size: labels nearest, alphas bilinear."""
    if plane.shape == tuple(shape):
        return plane
    mode = cv2.INTER_NEAREST_EXACT if labels else cv2.INTER_LINEAR
    return cv2.resize(plane, (shape[1], shape[0]), interpolation=mode)


def _at_frame_size(result: ParseResult, labels: np.ndarray, image: np.ndarray) -> ParseResult:
    """A working-size result restated at the frame's size: scaled-up labels, the full frame, no probabilities.

    Pixel measures (the edge-refinement stride, people's boxes and areas when the result has them)
    are scaled too, so a compositor sees one consistent result.
    """
    import dataclasses

    s = labels.shape[0] / result.labels.shape[0]
    changes: dict[str, Any] = {"labels": labels, "probabilities": None, "image": image}
    if result.stride_px:
        changes["stride_px"] = result.stride_px * s
    people = getattr(result, "people", None)
    if people and all(dataclasses.is_dataclass(p) and hasattr(p, "box") for p in people):
        scaled = []
        for p in people:
            box = p.box
            new_box = type(box)(*(int(round(v * s)) for v in box)) if box is not None else None
            extra = {"area": int(round(p.area * s * s))} if hasattr(p, "area") else {}
            scaled.append(dataclasses.replace(p, box=new_box, **extra))
        changes["people"] = tuple(scaled)
    return dataclasses.replace(result, **changes)


def _people_json(result: ParseResult, scale: float) -> list[dict[str, Any]]:
    """``result.people`` for summary.json, boxes and areas scaled by ``scale`` (working size -> frame size)."""
    out = []
    for person in getattr(result, "people", ()):
        d = person.as_dict()
        d["box"] = [int(round(v * scale)) for v in d["box"]]
        d["area"] = int(round(d["area"] * scale * scale))
        out.append(d)
    return out


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
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(summary_json(data))
    except OSError as exc:
        raise VideoError(f"cannot write {path}: {exc.strerror or exc}") from None


class _HeapTrimmer:
    """Hands freed heap memory back to the OS at most once per ``interval_s`` (glibc only; else a no-op).

    Each frame allocates and frees tens of MB (full-size probabilities) in several
    threads; glibc keeps much of it, and its dynamic mmap threshold lets the
    process grow by ~1 GB over a few hundred frames. ``malloc_trim`` keeps it flat
    (it costs tens of ms on a large heap, hence the interval).
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


class _Outputs(OutputGroup):
    """The sinks of one run and their pending files (commit all or discard all), and their names for the summary."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, Any] = {}


class _LineProgress:
    """Progress as plain lines on stderr (logs, pipes): one every ``every_s`` seconds, one at the end."""

    clock = staticmethod(time.monotonic)

    def __init__(self, total: int | None, desc: str, every_s: float = 10.0) -> None:
        self.total, self.desc, self.every_s = total, desc, every_s
        self.n = 0
        self._t0 = self._last = self.clock()

    def update(self, n: int) -> None:
        self.n += n
        now = self.clock()
        if now - self._last >= self.every_s:
            self._last = now
            self._line(now)

    def _line(self, now: float, done: bool = False) -> None:
        elapsed = now - self._t0
        fps = self.n / elapsed if elapsed > 0 else 0.0
        if done:
            text = f"{self.desc}: done, {self.n} frames in {elapsed:.1f} s ({fps:.1f} fps)"
        elif self.total:
            left = (self.total - self.n) / fps if fps > 0 else float("nan")
            text = (
                f"{self.desc}: {self.n}/{self.total} frames ({100 * self.n / self.total:.0f}%), "
                f"{fps:.1f} fps, about {left:.0f} s left"
            )
        else:
            text = f"{self.desc}: {self.n} frames, {fps:.1f} fps"
        print(text, file=sys.stderr, flush=True)

    def finish(self) -> None:
        self._line(self.clock(), done=True)

    def close(self) -> None:
        pass


class _BarProgress:
    """A tqdm bar on stderr (removed when done)."""

    def __init__(self, total: int | None, desc: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, leave=False)

    def update(self, n: int) -> None:
        self._bar.update(n)

    def finish(self) -> None:
        pass

    def close(self) -> None:
        self._bar.close()


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(mode: bool | str | None, total: int | None, desc: str) -> Any:
    """``True``: a bar on a terminal, lines otherwise; ``"bar"`` / ``"lines"``; ``False``/``None``: nothing."""
    if not mode:
        return _NoProgress()
    if mode is True:
        mode = "bar" if sys.stderr.isatty() else "lines"
    return _BarProgress(total, desc) if mode == "bar" else _LineProgress(total, desc)


def run_pipeline(
    parser: Parser,
    source: str | os.PathLike,
    outdir: str | os.PathLike,
    options: PipelineOptions | None = None,
) -> dict[str, Any]:
    """Parse ``source`` (video file, image, or folder of images) into ``outdir``; returns the summary.

    Raises :class:`VideoError` / :class:`InputError` / :class:`ConfigError` when the job cannot be done;
    undecodable frames and unreadable images are skipped and counted instead. A video that turns
    out to be incomplete is parsed as far as it goes (``summary["truncated"]``; see the module
    docstring for where its result goes); ``summary["output_dir"]`` says where the files are.
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
    comp = options.compositor
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
            "compositor": (getattr(comp, "name", None) or getattr(comp, "__name__", None) or type(comp).__name__) if comp else None,
            "work_pixels": options.work_pixels,
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


# ------------------------------------------------------------------- committing a run
#: names our runs give their outputs (besides the compositor-named overlay, found via the summary)
_OUR_NAMES = re.compile(
    r"(overlay|labels)(\.(mp4|mkv|png))?|alpha_[A-Za-z0-9_-]+(\.(mkv|png))?|summary\.json|" + re.escape(INCOMPLETE_DIR)
)


def _read_summary(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _flat_names(outputs: Any) -> set[str]:
    if isinstance(outputs, str):
        return {outputs}
    if isinstance(outputs, dict):
        return set().union(*(_flat_names(v) for v in outputs.values())) if outputs else set()
    if isinstance(outputs, (list, tuple)):
        return set().union(*(_flat_names(v) for v in outputs)) if outputs else set()
    return set()


def _holds_complete_result(out: Path, files: _Outputs) -> bool:
    """Does ``out`` hold an earlier result that an incomplete one must not replace?"""
    earlier = _read_summary(out)
    if earlier is not None:
        return not earlier.get("truncated", False)
    # outputs without a summary: their state is unknown, so they count as complete
    return any(p.final.exists() for p in files.pending)


def _remove_stale(folder: Path, keep: set[str], previous: dict[str, Any] | None, source: Path) -> list[str]:
    """Remove our outputs in ``folder`` that this run did not write; returns their names."""
    names = _flat_names(previous.get("outputs")) if previous else set()
    try:
        names |= {e.name for e in folder.iterdir() if _OUR_NAMES.fullmatch(e.name)}
    except OSError:
        return []
    removed = []
    for name in sorted(names - keep):
        path = folder / name
        if "/" in name or name in ("", ".", "..") or not (path.exists() or path.is_symlink()):
            continue
        if path.resolve() == source.resolve() or source.resolve().is_relative_to(path.resolve()):
            continue  # never the input
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(name)
        except OSError:
            continue
    return removed


def _commit(
    out: Path, files: _Outputs, summary: dict[str, Any], outputs: tuple[str, ...], options: PipelineOptions, source: Path
) -> dict[str, Any]:
    """Rename the finished outputs into place (or beside an earlier complete result), tidy, write the summary."""
    target = out
    if summary.get("truncated") and not options.overwrite and _holds_complete_result(out, files):
        target = out / INCOMPLETE_DIR
        files.retarget(target)
    previous = _read_summary(target)
    files.commit()
    keep = _flat_names(files.names) | ({"summary.json"} if "summary" in outputs else set())
    if target == out and summary.get("truncated"):
        keep.add(INCOMPLETE_DIR)  # an older partial result beside this partial one is no worse than it
    summary["output_dir"] = str(target)
    summary["outputs"] = files.names | ({"summary": "summary.json"} if "summary" in outputs else {})
    summary["stale_removed"] = _remove_stale(target, keep, previous, source)
    if "summary" in outputs:
        _write_json_atomic(target / "summary.json", summary)
    return summary


# ---------------------------------------------------------------------------- video
@dataclass
class _Rendered:
    """One frame ready for the encoders: uint8 planes at the frame's size, no float maps."""

    frame: DecodedFrame
    overlay: np.ndarray | None
    labels: np.ndarray
    alphas: dict[str, np.ndarray]
    people: list[dict[str, Any]] | None = None  # summary.json, at the frame's size


def _depth(item_bytes: int, budget: int, most: int) -> int:
    """Queue depth: ``most`` items, fewer when they are large, at least 1."""
    return max(1, min(most, budget // max(1, item_bytes)))


class _ByteBudget:
    """Bytes in flight between two threads: ``acquire`` waits until they fit (one item always may)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self._cv = threading.Condition()

    def acquire(self, n: int, stop: threading.Event) -> None:
        with self._cv:
            while self.used and self.used + n > self.total:
                if stop.is_set():
                    raise _Stop
                self._cv.wait(0.05)
            self.used += n

    def release(self, n: int) -> None:
        with self._cv:
            self.used -= n
            self._cv.notify_all()


def _engine_batch(batch_size: int, map_bytes: int, streams: int = 1) -> int:
    """Frames per engine call so that two calls' probabilities fit in :data:`PROBABILITY_BYTES`."""
    return max(1, min(batch_size, PROBABILITY_BYTES // (2 * streams * max(1, map_bytes))))


def _feed_frames(
    reader: VideoReader, q_in: queue.Queue, stop: threading.Event, work_pixels: int | None, timings: dict[str, float], key: str
) -> None:
    """Reader thread: ``(frame, image at the working size)`` into ``q_in``, then ``_END``.

    Decoding and resizing time adds to ``timings[key]``; a failure goes through the queue (one error channel).
    """
    it = iter(reader)
    try:
        while True:
            t0 = time.perf_counter()
            frame = next(it, None)
            image = None if frame is None else _to_work(frame.image, work_size(frame.image.shape[:2], work_pixels))
            timings[key] += time.perf_counter() - t0
            if frame is None:
                break
            _put(q_in, (frame, image), stop)
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


def _next_batch(
    q_in: queue.Queue, stop: threading.Event, fits: Callable[[np.ndarray], int]
) -> tuple[list[tuple[DecodedFrame, np.ndarray]], bool]:
    """The next engine batch from the reader's queue, and whether the reader has ended.

    ``fits(image)`` is how many frames of the first frame's size go in one call (the size may change
    mid-stream: so may the batch that fits). A reader failure is raised here.
    """
    batch: list[tuple[DecodedFrame, np.ndarray]] = []
    limit = 1
    while len(batch) < limit:
        item = _get(q_in, stop)
        if item is _END:
            return batch, True
        if isinstance(item, _Failure):
            raise item.exc
        batch.append(item)
        if len(batch) == 1:
            limit = fits(item[1])
    return batch, False


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

    def gray_output(name: str) -> tuple[PendingOutput, FrameSink]:
        if options.mask_format == "video":
            p = PendingOutput(out / f"{name}{gray_ext}")
            return p, GrayVideoWriter(p.tmp, time_base=info.time_base, fps=info.fps)
        p = PendingOutput(out / name, is_dir=True)
        return p, PngSequenceWriter(p.tmp)

    def map_bytes(image: np.ndarray) -> int:
        """Bytes of the float32 probabilities the engine returns for ``image``."""
        return num_classes * image.shape[0] * image.shape[1] * 4

    # Memory: queues sized by what their items weigh at this frame size.
    full = (info.height, info.width)
    work = work_size(full, options.work_pixels)
    frame_bytes = full[0] * full[1] * 3 + (work[0] * work[1] * 3 if work != full else 0)
    prob_bytes = num_classes * work[0] * work[1] * 4
    regions = options.regions if need_probs else ()
    rendered_bytes = full[0] * full[1] * (3 * ("overlay" in outputs) + 1 + len(regions))
    engine_batch = _engine_batch(options.batch_size, prob_bytes)
    most = options.queue_size or 2 * engine_batch
    maps = _ByteBudget(PROBABILITY_BYTES)

    overlay_w: H264Writer | None = None
    labels_w: FrameSink | None = None
    alpha_w: dict[str, FrameSink] = {}
    frames_meta: list[dict[str, Any]] = []
    timings = {"decode_s": 0.0, "inference_s": 0.0, "render_s": 0.0, "encode_s": 0.0}
    stop = threading.Event()
    q_in: queue.Queue = queue.Queue(maxsize=_depth(frame_bytes, QUEUE_BYTES, most))
    q_post: queue.Queue = queue.Queue(maxsize=1)  # one engine batch (full-size probabilities) waiting
    q_out: queue.Queue = queue.Queue(maxsize=_depth(rendered_bytes, QUEUE_BYTES, most))
    threads: list[threading.Thread] = []

    def read_loop() -> None:
        _feed_frames(reader, q_in, stop, options.work_pixels, timings, "decode_s")

    def render(frame: DecodedFrame, image: np.ndarray, result: ParseResult) -> _Rendered:
        """Labels, alphas and the overlay at the frame's own size, as uint8 (the float maps stay here)."""
        shape = frame.image.shape[:2]
        labels = _from_work(result.labels, shape, labels=True)
        alphas = {name: _from_work(_alpha_u8(result.region(name)), shape, labels=False) for name in regions}
        shown = None
        if overlay_w is not None:
            if image is frame.image:
                shown = session.render(result, frame.image)
            else:  # parsed at the working size: draw on the full frame with the scaled-up labels
                shown = session.render(_at_frame_size(result, labels, frame.image), frame.image)
        return _Rendered(frame, shown, labels, alphas, _people_json(result, frame.image.shape[0] / image.shape[0]))

    def post_loop() -> None:
        # the temporal stages of batch k run while the engine works on batch k + 1
        try:
            while True:
                item = _get(q_post, stop)
                if item is _END:
                    _put(q_out, _END, stop)
                    return
                batch, probs, people = item
                for i, (frame, image) in enumerate(batch):
                    p, probs[i] = probs[i], None  # this frame's probabilities die with this iteration
                    result = session.parse_probabilities([image], [p], [frame.timestamp_ms], people=[people[i]])[0]
                    del p
                    maps.release(map_bytes(image))
                    t0 = time.perf_counter()
                    done = render(frame, image, result)
                    del result
                    timings["render_s"] += time.perf_counter() - t0
                    _put(q_out, done, stop)
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
                t0 = time.perf_counter()
                frame = item.frame
                if overlay_w is not None:
                    overlay_w.write(item.overlay, frame.pts)
                if labels_w is not None:
                    labels_w.write(item.labels, frame.pts)
                for name, w in alpha_w.items():
                    w.write(item.alphas[name], frame.pts)
                frames_meta.append(
                    {
                        "index": frame.index,
                        "pts": frame.pts,
                        "time_s": round(frame.time_s, 6),
                        "class_share": _class_share(item.labels, num_classes),
                        "people": item.people or [],
                    }
                )
                timings["encode_s"] += time.perf_counter() - t0
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001
            thread_errors.append(exc)
            stop.set()

    thread_errors: list[BaseException] = []
    bar = _progress(options.progress, reader.frames_expected, src.name)
    try:
        if "overlay" in outputs:
            p = PendingOutput(out / f"{options.overlay_stem()}.mp4")
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
        for name in regions:
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
            batch, done = _next_batch(q_in, stop, lambda image: _engine_batch(options.batch_size, map_bytes(image)))
            if batch:
                maps.acquire(sum(map_bytes(image) for _, image in batch), stop)
                t0 = time.perf_counter()
                probs, people = session.predict([image for _, image in batch])  # people first: tracked crops
                timings["inference_s"] += time.perf_counter() - t0
                _put(q_post, (batch, probs, people), stop)
                del probs, people
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
        bar.finish()
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
            "work_size": list(work),
            "frames_expected": reader.frames_expected,
            "frames_processed": len(frames_meta),
            "frames_skipped": reader.skipped_count,
            "frames_dropped": stats.frames_dropped,
            "skipped": reader.skipped,
            "truncated": reader.truncated,
            "truncation": reader.truncation,
            "timings_s": {
                "wall": round(wall, 4),
                "decode": round(timings["decode_s"], 4),
                "inference": round(timings["inference_s"], 4),
                "postprocess": round(stats.postprocess_s, 4),
                "render": round(timings["render_s"], 4),
                "encode": round(timings["encode_s"], 4),
            },
            "fps": round(len(frames_meta) / wall, 3) if wall > 0 else None,
            "frames": frames_meta,
        }
    )
    try:
        return _commit(out, files, summary, outputs, options, src)
    except BaseException:
        files.discard()
        raise


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
            stem = options.overlay_stem() if kind == "overlay" else kind
            targets[kind] = files.add(PendingOutput(out / (f"{stem}.png" if single else stem), is_dir=not single))
            if kind.startswith("alpha_"):
                files.names.setdefault("alpha", {})[kind[len("alpha_") :]] = targets[kind].final.name
            else:
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
                {"index": index, "file": path.name, "size": list(result.shape), "class_share": _class_share(result.labels, num_classes),
                 "people": _people_json(result, 1.0)}
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
        bar.finish()
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
            "frames_expected": len(paths),
            "frames_processed": len(frames_meta),
            "frames_skipped": len(skipped),
            "frames_dropped": 0,
            "skipped": skipped,
            "truncated": False,
            "truncation": None,
            "timings_s": {
                "wall": round(wall, 4),
                "inference": round(stats.inference_s, 4),
                "postprocess": round(stats.postprocess_s, 4),
            },
            "frames": frames_meta,
        }
    )
    try:
        return _commit(out, files, summary, outputs, options, paths[0] if single else folder)  # type: ignore[arg-type]
    except BaseException:
        files.discard()
        raise


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


class _EvalStream:
    """Every configuration of :data:`EVAL_CONFIGS` for one orientation of a video, sharing the work.

    The same stages as :class:`~tryon_sdk.video.stream.VideoSession` (smoothing -> argmax -> limb
    consistency, or a left/right swap for mirrored input without it), but one smoother serves
    both smoothed configurations and one argmax both unsmoothed ones: 1 smoothing, 2 argmaxes and
    2 limb passes per frame instead of 2, 4 and 2.
    """

    def __init__(self, smoothing: Any, limb_consistency: Any, mirrored: bool) -> None:
        from .limbs import LimbConsistency, LimbOptions
        from .temporal import SmoothingOptions, TemporalSmoother

        self.smoother = None
        if smoothing is not False and smoothing is not None:
            sopts = SmoothingOptions() if smoothing is True else smoothing
            if not isinstance(sopts, SmoothingOptions):
                raise ConfigError(f"smoothing must be a bool or SmoothingOptions, got {type(sopts).__name__}")
            self.smoother = TemporalSmoother(sopts)
        self.fixer = None
        if limb_consistency is not False and limb_consistency is not None:
            if limb_consistency is True:
                lopts = LimbOptions(mirrored=mirrored)
            elif isinstance(limb_consistency, LimbOptions):
                lopts = limb_consistency if limb_consistency.mirrored == mirrored else limb_consistency.replace(mirrored=mirrored)
            else:
                raise ConfigError(f"limb_consistency must be a bool or LimbOptions, got {type(limb_consistency).__name__}")
            self.fixer = LimbConsistency(lopts)
        self.mirrored = mirrored
        self._smooth_state: Any = None
        self._limb_states: dict[bool, Any] = {False: None, True: None}

    def _finish(self, labels: np.ndarray, probs: Any, smoothed: bool, limbs: bool) -> np.ndarray:
        if limbs and self.fixer is not None:
            fixed, self._limb_states[smoothed] = self.fixer.step(labels, self._limb_states[smoothed], probabilities=probs)
            return np.asarray(fixed, dtype=np.uint8)
        if self.mirrored:  # the limb stage does this itself when it runs
            from ..labels import swap_lr

            return swap_lr(labels)
        return labels

    def run(self, images: list[np.ndarray], probs: list[Any], stamps: list[int]) -> list[dict[str, np.ndarray]]:
        """Labels of every configuration, per frame (frames in stream order)."""
        from ..labels import argmax_labels

        out = []
        for i, (image, ts) in enumerate(zip(images, stamps)):
            p, probs[i] = probs[i], None
            raw = argmax_labels(p)
            labels = {(False, False): self._finish(raw, p, False, False)}
            labels[(False, True)] = self._finish(raw, p, False, True) if self.fixer is not None else labels[(False, False)]
            if self.smoother is not None:
                sp, self._smooth_state = self.smoother.step(p, self._smooth_state, timestamp_ms=ts, frame=image)
                smooth = argmax_labels(sp)
                labels[(True, False)] = self._finish(smooth, sp, True, False)
                labels[(True, True)] = self._finish(smooth, sp, True, True) if self.fixer is not None else labels[(True, False)]
            else:
                labels[(True, False)], labels[(True, True)] = labels[(False, False)], labels[(False, True)]
            out.append({name: labels[cfg] for name, cfg in EVAL_CONFIGS.items()})
        return out


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
    :class:`tryon_sdk.video.metrics.VideoMetrics`; agreement is with the ``raw``
    configuration (per-frame argmax). Decoding runs in a thread, the video and its
    mirror go through the temporal stages in two more, and the metrics of batch
    ``k`` are taken while batch ``k + 1`` is in the engine. ``progress`` as in
    :class:`PipelineOptions`; frames above ``work_pixels`` are evaluated at that size.
    Returns a JSON-safe dict (NaN -> ``None``).
    """
    from .metrics import VideoMetrics

    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    if not isinstance(progress, bool) and progress not in _PROGRESS_MODES:
        raise ConfigError(f"progress must be True, False or one of {', '.join(_PROGRESS_MODES)}; got {progress!r}")
    t_start = time.perf_counter()
    reader = VideoReader(source, start=start, end=end, max_frames=max_frames)
    info = reader.info
    streams = [_EvalStream(smoothing, limb_consistency, mirrored)] + ([_EvalStream(smoothing, limb_consistency, mirrored)] if flip else [])
    metrics = {name: VideoMetrics() for name in EVAL_CONFIGS}
    times = {"decode": 0.0, "inference": 0.0, "postprocess": 0.0, "metrics": 0.0}
    bar = _progress(progress, reader.frames_expected, f"eval-video {Path(source).name}")
    frames_done = 0
    trim = _HeapTrimmer(interval_s=5.0)  # a trim costs tens of ms; evaluation keeps no frames around
    num_classes = parser.config.num_classes
    stop = threading.Event()
    q_in: queue.Queue = queue.Queue(maxsize=_depth(info.width * info.height * 3, QUEUE_BYTES, 2 * batch_size))
    # one thread per orientation for the temporal stages, one per half of the configurations for the
    # metrics; single-thread executors keep each stream's and each metric's frames in order
    workers = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tryon-eval-{i}") for i in range(len(streams))]
    names = list(EVAL_CONFIGS)
    metric_groups = [names[: len(names) // 2], names[len(names) // 2 :]]
    metric_workers = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tryon-metrics-{i}") for i in range(2)]
    lock = threading.Lock()

    def read_loop() -> None:
        _feed_frames(reader, q_in, stop, work_pixels, times, "decode")

    def post(stream: _EvalStream, images: list[np.ndarray], probs: list[Any], stamps: list[int]) -> list[dict[str, np.ndarray]]:
        t0 = time.perf_counter()
        out = stream.run(images, probs, stamps)
        with lock:
            times["postprocess"] += time.perf_counter() - t0
        return out

    def update_metrics(group: list[str], orig: list[dict[str, np.ndarray]], flp: list[dict[str, np.ndarray]] | None) -> None:
        t0 = time.perf_counter()
        for i, labels in enumerate(orig):
            for name in group:
                metrics[name].update(labels[name], raw=labels["raw"], mirrored=flp[i][name] if flp else None)
        with lock:
            times["metrics"] += time.perf_counter() - t0

    def measure(pending: list[Future]) -> list[Future]:
        """Hand batch ``k``'s labels to the metric threads once both orientations are done."""
        done = [f.result() for f in pending]
        orig, flp = done[0], (done[1] if len(done) > 1 else None)
        return [w.submit(update_metrics, g, orig, flp) for w, g in zip(metric_workers, metric_groups)]

    reader_thread = threading.Thread(target=read_loop, name="tryon-eval-reader", daemon=True)
    pending: list[Future] | None = None
    measuring: list[Future] = []
    try:
        reader_thread.start()
        finished = False
        while not finished:
            # the engine returns full-size probabilities for the video and its mirror
            batch, finished = _next_batch(
                q_in, stop, lambda image: _engine_batch(batch_size, num_classes * image.shape[0] * image.shape[1] * 4, len(streams))
            )
            if not batch:
                break
            t0 = time.perf_counter()
            images = [image for _, image in batch]
            mirrored_images = [np.ascontiguousarray(im[:, ::-1]) for im in images] if flip else []
            probs = parser.predict(images + mirrored_images)
            times["inference"] += time.perf_counter() - t0
            stamps = [f.timestamp_ms for f, _ in batch]
            futures = [workers[0].submit(post, streams[0], images, probs[: len(images)], stamps)]
            if flip:
                futures.append(workers[1].submit(post, streams[1], mirrored_images, probs[len(images) :], stamps))
            del probs
            for f in measuring:  # metrics of batch k - 2: keeps at most two batches of labels waiting
                f.result()
            measuring = measure(pending) if pending is not None else []  # batch k - 1, while the workers run batch k
            pending = futures
            trim()
            frames_done += len(batch)
            bar.update(len(batch))
        if pending is not None:
            measuring = measure(pending)
            pending = None
        for f in measuring:
            f.result()
        bar.finish()
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        bar.close()
        for w in workers + metric_workers:
            w.shutdown(wait=True, cancel_futures=True)
        reader_thread.join(timeout=5)
    if frames_done == 0:
        where = " in the selected range" if (start or end) else ""
        raise VideoError(f"{source}: no decodable video frames{where}")

    results = {name: m.result().as_dict() for name, m in metrics.items()}
    full = results["smoothing+limbs"]
    goals = {key: {"goal": goal, "value": full.get(key), "met": _goal_met(full.get(key), goal)} for key, goal in EVAL_GOALS.items()}
    wall = time.perf_counter() - t_start
    cfg = parser.config
    work = work_size((info.height, info.width), work_pixels)
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
                "work_pixels": work_pixels,
            },
            "work_size": list(work),
            "frames": frames_done,
            "frames_expected": reader.frames_expected,
            "frames_skipped": reader.skipped_count,
            "truncated": reader.truncated,
            "truncation": reader.truncation,
            "configs": results,
            "goals": goals,
            "fps": round(frames_done / wall, 3) if wall > 0 else None,
            "timings_s": {"wall": round(wall, 3), **{k: round(v, 3) for k, v in times.items()}},
        }
    )
