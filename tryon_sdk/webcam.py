"""The webcam demo: live parsing with an on-screen overlay or recolour.

Shared by ``tryon-sdk webcam`` and ``examples/webcam_demo.py``::

    camera --LatestFrameGrabber (thread, newest frame only)--> main loop
        --parse_async--> LIVE_STREAM session (worker: parse, smooth, composite)
        --callback--> newest output --> window (or a video file when headless)

* :class:`LatestFrameGrabber` reads an OpenCV capture on its own thread and
  keeps only the newest frame, so the demo never works through a backlog of
  stale buffered frames. ``--source FILE`` replays a video as if it were a
  camera: frames are released at the file's frame rate, and frames the demo
  is too slow for are dropped, as with a real camera.
* Without a display (no ``$DISPLAY`` on Linux, or ``cv2.imshow`` fails) the
  demo writes what it would show to a video file and says so.
* Keys (window only): ``m`` mode (recolor / overlay / none), ``r`` region,
  ``c`` colour, ``s`` smoothing on/off, ``q`` or Esc quit.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import cv2
import numpy as np

from .compositor import Compositor, make_compositor, parse_color
from .errors import ConfigError, VideoError
from .regions import REGIONS, region_classes

if TYPE_CHECKING:
    from .parser import ParseResult, Parser

__all__ = [
    "GrabbedFrame",
    "LatestFrameGrabber",
    "open_capture",
    "DemoOptions",
    "DemoState",
    "DemoStats",
    "run_demo",
    "add_demo_arguments",
    "options_from_args",
    "MODES",
    "DEFAULT_OUTPUT",
]

MODES: tuple[str, ...] = ("recolor", "overlay", "none")
COLOR_CYCLE: tuple[str, ...] = ("#1e90ff", "crimson", "gold", "green", "black", "white", "purple")
REGION_CYCLE: tuple[str, ...] = ("upper_body", "lower_body", "dress", "outfit", "hair", "shoes")
DEFAULT_OUTPUT = "webcam_demo.mp4"
KEYS_HELP = "m mode, r region, c colour, s smoothing, q quit"


# ------------------------------------------------------------------- capture
@dataclass
class GrabbedFrame:
    """One captured frame: ``image`` is ``HxWx3`` uint8 RGB."""

    index: int
    image: np.ndarray = field(repr=False)
    timestamp_ms: int  # since the first frame; strictly increasing
    captured_at: float  # the grabber clock (time.monotonic) when it was captured


class LatestFrameGrabber:
    """Reads a capture on a background thread, keeping only the newest unread frame.

    Args:
        capture: an object with ``read() -> (ok, HxWx3 uint8 BGR)`` and ``release()``
            (a ``cv2.VideoCapture``); ``ok`` false ends the stream.
        fps: release frames at this rate (replaying a file like a camera);
            ``None`` releases them as fast as ``capture.read()`` returns (a camera paces itself).
        mirror: flip frames left-right (selfie view).
        clock, sleep: time source and sleep function (injectable for tests).

    A frame that is replaced before :meth:`read` took it counts in :attr:`frames_dropped`.
    """

    def __init__(
        self,
        capture: Any,
        *,
        fps: float | None = None,
        mirror: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] | None = None,
        on_frame: Callable[[], None] | None = None,
    ) -> None:
        if fps is not None and fps <= 0:
            raise ConfigError(f"fps must be > 0, got {fps}")
        self.capture = capture
        self.fps = fps
        self.mirror = bool(mirror)
        self._clock = clock
        self._stop = threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait
        self._on_frame = on_frame
        self._cv = threading.Condition()
        self._latest: GrabbedFrame | None = None
        self._ended = False
        self.error: BaseException | None = None
        self.origin: float | None = None
        self.frames_grabbed = 0
        self.frames_dropped = 0
        self._thread = threading.Thread(target=self._run, name="tryon-frame-grabber", daemon=True)

    def start(self) -> "LatestFrameGrabber":
        self._thread.start()
        return self

    def __enter__(self) -> "LatestFrameGrabber":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def ended(self) -> bool:
        """The source has no more frames (end of file, camera gone, or stopped)."""
        return self._ended

    @property
    def eof(self) -> bool:
        """The source ended and every frame it gave has been read."""
        with self._cv:
            return self._ended and self._latest is None

    def _run(self) -> None:
        last_ts = -1
        index = 0
        try:
            while not self._stop.is_set():
                ok, bgr = self.capture.read()
                if not ok or bgr is None:
                    break
                now = self._clock()
                if self.origin is None:
                    self.origin = now
                if self.fps is not None:
                    delay = self.origin + index / self.fps - now
                    if delay > 0:
                        self._sleep(delay)
                        if self._stop.is_set():
                            break
                        now = self._clock()
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                if self.mirror:
                    rgb = np.ascontiguousarray(rgb[:, ::-1])
                ts = max(last_ts + 1, int(round((now - self.origin) * 1000)))
                last_ts = ts
                frame = GrabbedFrame(index, rgb, ts, now)
                with self._cv:
                    if self._latest is not None:
                        self.frames_dropped += 1
                    self._latest = frame
                    self.frames_grabbed += 1
                    self._cv.notify_all()
                if self._on_frame is not None:
                    self._on_frame()
                index += 1
        except BaseException as exc:  # noqa: BLE001 - reported to the reading thread
            self.error = exc
        finally:
            with self._cv:
                self._ended = True
                self._cv.notify_all()
            if self._on_frame is not None:
                self._on_frame()

    def read(self, timeout: float | None = None) -> GrabbedFrame | None:
        """The newest frame not read yet; ``None`` after ``timeout`` seconds or once the source ended."""
        with self._cv:
            self._cv.wait_for(lambda: self._latest is not None or self._ended, timeout)
            frame, self._latest = self._latest, None
        if frame is None and self.error is not None:
            err, self.error = self.error, None
            raise VideoError(f"reading frames failed: {err}") from err
        return frame

    def stop(self) -> None:
        """Stop reading, join the thread and release the capture."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        release = getattr(self.capture, "release", None)
        if release is not None:
            release()


def open_capture(source: str | int, *, width: int | None = None, height: int | None = None) -> tuple[Any, float | None, bool]:
    """Open a camera index (``0``, ``"1"``), a stream URL or a video file with OpenCV.

    Returns ``(capture, fps, is_file)``: ``fps`` is the file's frame rate to
    replay it at (``None`` for cameras and URLs, which pace themselves).
    """
    is_camera = isinstance(source, int) or (isinstance(source, str) and source.isdigit())
    if is_camera:
        index = int(source)
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            raise VideoError(f"cannot open camera {index}: is it connected and free? (or replay a file with --source FILE)")
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # ask the driver not to queue old frames either
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        return cap, None, False
    text = str(source)
    if "://" in text:
        cap = cv2.VideoCapture(text)
        if not cap.isOpened():
            raise VideoError(f"cannot open stream {text}")
        return cap, None, False
    path = Path(text)
    if not path.is_file():
        raise VideoError(f"no video file at {path} (give a camera index like 0, a stream URL, or a video file)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError(f"OpenCV cannot open {path} as a video")
    fps = cap.get(cv2.CAP_PROP_FPS)
    return cap, (float(fps) if fps and 0 < fps < 1000 else 25.0), True


# --------------------------------------------------------------------- state
@dataclass
class DemoOptions:
    """Settings of :func:`run_demo` (the CLI flags, see :func:`add_demo_arguments`)."""

    source: str | int = 0
    model: str | None = None
    device: str = "auto"
    mode: str = "recolor"
    region: str = "upper_body"
    color: str = "#1e90ff"
    smoothing: bool = True
    mirror: bool | None = None  # default: on for cameras, off for files
    width: int | None = None
    height: int | None = None
    output: str | None = None
    headless: bool | None = None  # default: when there is no display
    max_frames: int | None = None
    duration: float | None = None
    hud: bool = True
    refine: bool = True

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; valid: {', '.join(MODES)}")
        region_classes(self.region)
        parse_color(self.color)
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.duration is not None and self.duration <= 0:
            raise ConfigError(f"duration must be > 0 seconds, got {self.duration}")


class DemoState:
    """What the keys switch: mode, region, colour and smoothing."""

    def __init__(self, options: DemoOptions) -> None:
        self.mode = options.mode
        self.region = options.region
        self.smoothing = options.smoothing
        self.refine = options.refine
        self.colors = [options.color] + [c for c in COLOR_CYCLE if parse_color(c) != parse_color(options.color)]
        self.regions = [options.region] + [r for r in REGION_CYCLE if r != options.region]
        self._color_i = 0
        self._region_i = 0

    @property
    def color(self) -> str:
        return self.colors[self._color_i]

    def handle_key(self, key: int) -> bool:
        """Apply a key press (``cv2.waitKey`` code); ``False`` means quit."""
        if key in (ord("q"), ord("Q"), 27):
            return False
        ch = chr(key).lower() if 0 <= key < 256 else ""
        if ch == "m":
            self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        elif ch == "r":
            self._region_i = (self._region_i + 1) % len(self.regions)
            self.region = self.regions[self._region_i]
        elif ch == "c":
            self._color_i = (self._color_i + 1) % len(self.colors)
        elif ch == "s":
            self.smoothing = not self.smoothing
        return True

    def compositor(self) -> Compositor | None:
        if self.mode == "recolor":
            return make_compositor("recolor", region=self.region, color=self.color, refine=self.refine)
        if self.mode == "overlay":
            return make_compositor("overlay")
        return None

    def describe(self) -> str:
        if self.mode == "recolor":
            what = f"recolor {self.region} {self.color}"
        else:
            what = self.mode
        return f"{what} | smoothing {'on' if self.smoothing else 'off'}"


class _Switch:
    """A compositor whose delegate the main thread swaps while the stream worker uses it."""

    def __init__(self, inner: Compositor | None) -> None:
        self.inner = inner

    def __call__(self, frame: np.ndarray, result: "ParseResult") -> np.ndarray:
        inner = self.inner  # one read: the main thread may swap it meanwhile
        return frame if inner is None else inner(frame, result)


@dataclass
class DemoStats:
    """What a demo run did."""

    frames_captured: int = 0
    frames_parsed: int = 0
    frames_shown: int = 0
    dropped_by_grabber: int = 0  # replaced by a newer camera frame before the demo took it
    dropped_by_stream: int = 0  # replaced in the session before the worker parsed it
    fps: float = 0.0  # frames shown per second
    mean_latency_ms: float = 0.0  # capture -> on screen
    output: Path | None = None
    headless: bool = False


# ------------------------------------------------------------------- display
def has_display() -> bool:
    """Whether a window can plausibly open (Linux/BSD need an X11 or Wayland display)."""
    if sys.platform.startswith(("linux", "freebsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class _Window:
    name = "tryon_sdk webcam demo"

    def __init__(self) -> None:
        cv2.namedWindow(self.name, cv2.WINDOW_NORMAL)

    def show(self, rgb: np.ndarray) -> int | None:
        cv2.imshow(self.name, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1)
        return None if key < 0 else key & 0xFF

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.name)
            cv2.waitKey(1)
        except cv2.error:
            pass


class _Recorder:
    """H.264 file of the shown frames at their capture times, renamed into place when complete."""

    def __init__(self, path: Path, fps: float | None) -> None:
        from .outputs import PendingSink
        from .video.writers import H264Writer

        if not path.parent.is_dir():
            raise VideoError(f"cannot write {path}: folder {path.parent} does not exist")
        rate = Fraction(fps or 30).limit_denominator(1001)
        self.sink = PendingSink(path, lambda tmp: H264Writer(tmp, fps=rate, time_base=Fraction(1, 1000), preset="ultrafast"))

    def write(self, rgb: np.ndarray, timestamp_ms: int) -> None:
        self.sink.write(rgb, timestamp_ms)

    def finish(self, keep: bool) -> Path | None:
        """Rename the recording into place when ``keep`` and it holds frames; else discard it."""
        if keep and self.sink.frames:
            self.sink.close()
            return self.sink.final
        self.sink.abort()
        return None


def _draw_hud(image: np.ndarray, lines: list[str]) -> None:
    """White text on a dark band, top left, scaled to the frame height."""
    scale = max(0.4, image.shape[0] / 720.0)
    thick = 1 if scale < 0.9 else 2
    (_, text_h), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    step = text_h + base + 4
    width = max(cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] for line in lines) + 8
    band = image[: step * len(lines) + 4, : min(width, image.shape[1])]
    band[:] = (band * 0.4).astype(np.uint8)
    for i, line in enumerate(lines):
        y = 2 + text_h + i * step + 2
        cv2.putText(image, line, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


# ---------------------------------------------------------------------- demo
def run_demo(
    options: DemoOptions,
    *,
    parser: "Parser | None" = None,
    log: Callable[[str], None] = print,
    capture: Any = None,
) -> DemoStats:
    """Run the demo until ``q``, the end of a ``--source`` file, ``max_frames`` or ``duration``.

    ``parser`` overrides ``options.model``; ``capture`` (with ``fps`` =
    ``None``) overrides ``options.source``, e.g. a fake camera in tests.
    """
    from .parser import Parser
    from .video.stream import open_stream

    options.validate()
    if capture is not None:
        cap, fps, is_file = capture, None, False
    else:
        cap, fps, is_file = open_capture(options.source, width=options.width, height=options.height)
    mirror = (not is_file) if options.mirror is None else options.mirror
    headless = (not has_display()) if options.headless is None else options.headless
    window: _Window | None = None
    recorder: _Recorder | None = None
    try:
        if parser is None:
            parser = Parser.from_pretrained(options.model, device=options.device)
        if not headless:
            try:
                window = _Window()
            except cv2.error as exc:
                headless = True
                log(f"cannot open a window ({str(exc).strip().splitlines()[-1]})")
        out_path = Path(options.output) if options.output else (Path(DEFAULT_OUTPUT) if headless else None)
        if headless:
            log(f"no display: writing the demo to {out_path} instead of showing it")
        recorder = _Recorder(out_path, fps) if out_path is not None else None
    except BaseException:
        cap.release()
        if window is not None:
            window.close()
        raise

    state = DemoState(options)
    switch = _Switch(state.compositor())
    wake = threading.Event()
    lock = threading.Lock()
    newest: list[tuple[np.ndarray, int]] = []  # at most one (output image, timestamp_ms)

    def on_result(result: "ParseResult", image: np.ndarray, timestamp_ms: int) -> None:
        with lock:
            newest[:] = [(image, timestamp_ms)]
        wake.set()

    def new_session():
        return open_stream(parser, mode="live_stream", result_callback=on_result, compositor=switch,
                           smoothing=state.smoothing, mirrored=mirror)

    stats = DemoStats(headless=headless)
    grabber = LatestFrameGrabber(cap, fps=fps, mirror=mirror, on_frame=wake.set)
    session = new_session()
    parsed_before = dropped_before = 0
    shown_at: deque[float] = deque(maxlen=30)
    latencies: list[float] = []
    first_shown: float | None = None
    started = time.monotonic()
    keep = False
    label = f"camera {options.source}" if not is_file else str(options.source)
    if capture is None:
        log(f"tryon_sdk webcam demo: {label}, {parser!r}" + ("" if headless else f"; keys: {KEYS_HELP}"))

    def show_newest() -> bool:
        nonlocal first_shown
        with lock:
            item = newest.pop() if newest else None
        if item is None:
            return True
        image, ts = item
        now = time.monotonic()
        latency = (now - (grabber.origin or now)) * 1000.0 - ts
        latencies.append(latency)
        shown_at.append(now)
        first_shown = first_shown or now
        stats.frames_shown += 1
        frame = image.copy()
        if options.hud:
            rate = (len(shown_at) - 1) / (shown_at[-1] - shown_at[0]) if len(shown_at) > 1 and shown_at[-1] > shown_at[0] else 0.0
            s = session.stats
            dropped = grabber.frames_dropped + dropped_before + s.frames_dropped
            _draw_hud(frame, [f"{rate:4.1f} fps  latency {latency:4.0f} ms  dropped {dropped}", state.describe()])
        if recorder is not None:
            recorder.write(frame, ts)
        if window is not None:
            key = window.show(frame)
            if key is not None:
                return handle(key)
        return True

    def handle(key: int) -> bool:
        nonlocal session, parsed_before, dropped_before
        smoothing = state.smoothing
        if not state.handle_key(key):
            return False
        switch.inner = state.compositor()
        if state.smoothing != smoothing:  # smoothing is fixed per session: start a new one
            session.close()
            s = session.stats
            parsed_before += s.frames_processed
            dropped_before += s.frames_dropped
            session = new_session()
        return True

    grabber.start()
    try:
        running = True
        while running:
            wake.wait(0.05 if window is not None else 0.5)
            wake.clear()
            frame = grabber.read(timeout=0)
            if frame is not None:
                session.parse_async(frame.image, frame.timestamp_ms)
            running = show_newest()
            if window is not None and running and frame is None:
                key = cv2.waitKey(1)
                if key >= 0:
                    running = handle(key & 0xFF)
            if options.max_frames is not None and stats.frames_shown >= options.max_frames:
                break
            if options.duration is not None and time.monotonic() - started >= options.duration:
                break
            if grabber.eof:
                session.flush(timeout=30.0)  # the last frame's result
                show_newest()
                break
        keep = True
    except KeyboardInterrupt:
        keep = True
        log("interrupted")
    finally:
        grabber.stop()
        try:
            session.close(raise_errors=keep)
        finally:
            if window is not None:
                window.close()
            if recorder is not None:
                stats.output = recorder.finish(keep)
    s = session.stats
    stats.frames_captured = grabber.frames_grabbed
    stats.frames_parsed = parsed_before + s.frames_processed
    stats.dropped_by_grabber = grabber.frames_dropped
    stats.dropped_by_stream = dropped_before + s.frames_dropped
    if first_shown is not None and stats.frames_shown > 1 and shown_at[-1] > first_shown:
        stats.fps = (stats.frames_shown - 1) / (shown_at[-1] - first_shown)
    stats.mean_latency_ms = float(np.mean(latencies)) if latencies else 0.0
    log(
        f"shown {stats.frames_shown} of {stats.frames_captured} frames, {stats.fps:.1f} fps, "
        f"mean latency {stats.mean_latency_ms:.0f} ms, dropped {stats.dropped_by_grabber} (grabber) + "
        f"{stats.dropped_by_stream} (stream)" + (f"; wrote {stats.output}" if stats.output else "")
    )
    return stats


# ----------------------------------------------------------------------- CLI
def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's flags, shared by ``tryon-sdk webcam`` and ``examples/webcam_demo.py``."""
    p.add_argument("--source", default="0",
                   help="camera index (default 0), stream URL, or a video FILE replayed at its frame rate like a camera")
    p.add_argument("--model", default=None, help="checkpoint folder, .safetensors/.onnx file or registered name (default: bundled model)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--mode", default="recolor", choices=MODES, help="what to draw (default: recolor; key m switches)")
    p.add_argument("--region", default="upper_body", choices=tuple(REGIONS), metavar="REGION",
                   help=f"region to recolour: {', '.join(REGIONS)} (default: upper_body; key r switches)")
    p.add_argument("--color", default="#1e90ff", help="recolour target, e.g. '#1e90ff' or 'crimson' (key c switches)")
    p.add_argument("--smoothing", action=argparse.BooleanOptionalAction, default=True,
                   help="temporal smoothing of the class probabilities (default: on; key s switches); "
                        "left/right limb consistency stays on either way")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                   help="selfie view, flipped left-right (default: on for cameras, off for files)")
    p.add_argument("--width", type=int, default=None, help="camera frame width to ask for")
    p.add_argument("--height", type=int, default=None, help="camera frame height to ask for")
    p.add_argument("--output", default=None, metavar="FILE",
                   help=f"also record what is shown to this .mp4 (without a display: {DEFAULT_OUTPUT})")
    p.add_argument("--headless", action="store_true", help="never open a window; record to --output instead")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after showing N frames")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")
    p.add_argument("--no-hud", action="store_true", help="hide the FPS / latency readout")
    p.add_argument("--no-refine", action="store_true", help="skip edge refinement of the recolour mask (faster)")


def options_from_args(args: argparse.Namespace) -> DemoOptions:
    return DemoOptions(
        source=args.source, model=args.model, device=args.device, mode=args.mode, region=args.region, color=args.color,
        smoothing=args.smoothing, mirror=args.mirror, width=args.width, height=args.height, output=args.output,
        headless=True if args.headless else None, max_frames=args.max_frames, duration=args.duration,
        hud=not args.no_hud, refine=not args.no_refine,
    )
