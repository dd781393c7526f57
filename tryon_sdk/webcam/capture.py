"""Webcam demo input: a camera, stream URL or video file read on its own thread, newest frame only.

:class:`LatestFrameGrabber` keeps only the newest frame, so the demo never
works through a backlog of stale buffered frames; a video file
(:func:`open_capture` gives its frame rate) is released at that rate, and
frames the demo is too slow for are dropped, as with a real camera.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from ..errors import ConfigError, VideoError

__all__ = ["GrabbedFrame", "LatestFrameGrabber", "open_capture"]


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
        mirrored: flip frames left-right (selfie view).
        clock, sleep: time source and sleep function (injectable for tests).

    A frame that is replaced before :meth:`read` took it counts in :attr:`frames_dropped`.
    """

    def __init__(
        self,
        capture: Any,
        *,
        fps: float | None = None,
        mirrored: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] | None = None,
        on_frame: Callable[[], None] | None = None,
    ) -> None:
        if fps is not None and fps <= 0:
            raise ConfigError(f"fps must be > 0, got {fps}")
        self.capture = capture
        self.fps = fps
        self.mirrored = bool(mirrored)
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
                if self.mirrored:
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
