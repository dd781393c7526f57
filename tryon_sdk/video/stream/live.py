"""LIVE_STREAM mode of a :class:`~tryon_sdk.video.stream.session.VideoSession`: the newest frame waits for
one worker thread; a frame still waiting when a newer one arrives is dropped (stale) and counted."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from ...inputs import ImageLike, to_rgb_uint8
from .options import RunningMode, StreamOptions

if TYPE_CHECKING:
    from ...result import ParseResult

__all__ = ["LiveStream"]


class LiveStream:
    """The LIVE_STREAM half of a session (mixed into :class:`~tryon_sdk.video.stream.session.VideoSession`,
    which owns the state: ``_cv``, ``_pending``, ``_busy``, ``_stopping``, ``_error`` and the counters)."""

    options: StreamOptions
    _cv: threading.Condition
    _pending: tuple[np.ndarray, int] | None
    _busy: bool
    _stopping: bool
    _error: BaseException | None
    _last_ts: int | None
    _submitted: int
    _dropped: int

    if TYPE_CHECKING:  # provided by VideoSession

        def _require(self, method: str, *modes: RunningMode) -> None: ...
        def _raise_worker_error(self) -> None: ...
        def _check_timestamp(self, timestamp_ms: object) -> int: ...
        def _process(self, images: list[np.ndarray], timestamps: list[int | None]) -> list[ParseResult]: ...
        def render(self, result: ParseResult, frame: np.ndarray | None = None) -> np.ndarray: ...

    def parse_async(self, frame: ImageLike, timestamp_ms: int) -> None:
        """Queue a frame for the worker and return at once (LIVE_STREAM).

        The result arrives through ``result_callback`` on the worker thread. A frame
        that is still waiting when the next one arrives is dropped and counted.
        """
        self._require("parse_async", RunningMode.LIVE_STREAM)
        self._raise_worker_error()
        ts = self._check_timestamp(timestamp_ms)
        image = to_rgb_uint8(frame)
        if image is frame:  # the caller may reuse its buffer for the next frame
            image = image.copy()
        with self._cv:
            self._last_ts = ts
            self._submitted += 1
            if self._pending is not None:
                self._dropped += 1
            self._pending = (image, ts)
            self._cv.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the LIVE_STREAM worker has nothing left to do; ``False`` on timeout."""
        self._require("flush", RunningMode.LIVE_STREAM)
        with self._cv:
            return self._cv.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def _run_live(self) -> None:
        callback = self.options.result_callback
        assert callback is not None
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending is not None or self._stopping)
                if self._pending is None:
                    return
                image, ts = self._pending
                self._pending = None
                self._busy = True
            try:
                result = self._process([image], [ts])[0]
                out = self.render(result, image) if self.options.compositor is not None else image
                callback(result, out, ts)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                if self._error is None:
                    self._error = exc
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()
