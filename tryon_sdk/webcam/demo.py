"""The webcam demo's run loop: grabber -> LIVE_STREAM session -> window or recording (see :mod:`tryon_sdk.webcam`)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import cv2
import numpy as np

from .capture import LatestFrameGrabber, open_capture
from .display import Recorder, Window, draw_hud, has_display
from .options import DEFAULT_OUTPUT, KEYS_HELP, DemoOptions, DemoState, Switch

if TYPE_CHECKING:
    from ..parser import Parser
    from ..result import ParseResult

__all__ = ["DemoStats", "run_demo"]


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
    from ..parser import Parser
    from ..video.stream import StreamOptions, open_stream

    if capture is not None:
        cap, fps, is_file = capture, None, False
    else:
        cap, fps, is_file = open_capture(options.source, width=options.width, height=options.height)
    mirrored = (not is_file) if options.mirrored is None else options.mirrored
    headless = (not has_display()) if options.headless is None else options.headless
    window: Window | None = None
    recorder: Recorder | None = None
    try:
        if parser is None:
            parser = Parser.from_pretrained(options.model, flip_tta=options.flip_tta, **dataclasses.asdict(options.engine))
        if not headless:
            try:
                window = Window()
            except cv2.error as exc:
                headless = True
                log(f"cannot open a window ({str(exc).strip().splitlines()[-1]})")
        out_path = Path(options.output) if options.output else (Path(DEFAULT_OUTPUT) if headless else None)
        if headless:
            log(f"no display: writing the demo to {out_path} instead of showing it")
        recorder = Recorder(out_path, fps) if out_path is not None else None
    except BaseException:
        cap.release()
        if window is not None:
            window.close()
        raise

    state = DemoState(options)
    switch = Switch(state.compositor())
    wake = threading.Event()
    lock = threading.Lock()
    newest: list[tuple[np.ndarray, int]] = []  # at most one (output image, timestamp_ms)

    def on_result(result: "ParseResult", image: np.ndarray, timestamp_ms: int) -> None:
        with lock:
            newest[:] = [(image, timestamp_ms)]
        wake.set()

    def new_session():
        return open_stream(parser, StreamOptions(
            running_mode="live_stream", result_callback=on_result, compositor=switch, smoothing=state.smoothing,
            mirrored=mirrored,
        ))

    stats = DemoStats(headless=headless)
    grabber = LatestFrameGrabber(cap, fps=fps, mirrored=mirrored, on_frame=wake.set)
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
            draw_hud(frame, [f"{rate:4.1f} fps  latency {latency:4.0f} ms  dropped {dropped}", state.describe()])
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
