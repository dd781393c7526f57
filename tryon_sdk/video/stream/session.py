"""Streaming sessions: running modes as in MediaPipe tasks.

* ``IMAGE``: every call is independent (no temporal state).
* ``VIDEO``: :meth:`VideoSession.parse` takes frames in order with
  strictly increasing ``timestamp_ms`` and returns each result.
* ``LIVE_STREAM``: :meth:`VideoSession.parse_async` returns at once; a worker
  thread parses the newest frame and calls ``result_callback``. A frame still
  waiting when a newer one arrives is *dropped* (stale), never queued, and
  counted in :attr:`VideoSession.stats`.

Per frame: engine (:meth:`VideoSession.predict`: people first, see below, or
:meth:`Parser.predict` on the whole frame) -> temporal smoothing of the
probabilities -> argmax -> left/right limb consistency (sides from each
person's facing) -> the people's facing -> :class:`ParseResult` with
``people``. The temporal state belongs to the session (one per stream, never
shared) and :meth:`VideoSession.reset` clears it, e.g. at a cut. The stages
and their state are :class:`~tryon_sdk.video.stream.stages.FrameStages`; the
options :mod:`tryon_sdk.video.stream.options`. :meth:`VideoSession.parse_stream`
keeps the engine one batch ahead of the temporal stages (offline jobs).

People first (``roi``, :mod:`tryon_sdk.people`): in VIDEO and LIVE_STREAM
mode the region of interest of each person follows their mask from frame to
frame (:class:`~tryon_sdk.people.tracker.PeopleTracker`), with a whole-frame search
every ``redetect_every`` frames, when a mask touches a crop edge, and while
nobody is tracked; IMAGE mode searches every frame. Smoothing and limb
consistency run on the crops pasted on one grid over the frame (as fine as
the finest crop), so moving crops change nothing for them. Each person's facing comes from the limb stage's head-based,
hysteresis-filtered facing (or, with limb consistency off, from a
:class:`~tryon_sdk.people.facing.FacingFilter` per track).

Example::

    with open_stream(parser, StreamOptions(running_mode="video")) as session:
        for ts, frame in frames:
            result = session.parse(frame, ts)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from ...compositor import render_frame
from ...errors import ConfigError, InputError
from ...inputs import ImageLike, to_rgb_uint8
from ...parser import Parser
from ...people.person import Person
from ...resample import GridScores
from ...result import ParseResult
from .live import LiveStream
from .options import RunningMode, StreamOptions, StreamStats
from .stages import FramePeople, FrameStages

__all__ = ["VideoSession", "open_stream"]


class VideoSession(LiveStream):
    """One stream's parsing session; a context manager. Not thread-safe: feed it from one thread.

    Args:
        parser: the :class:`~tryon_sdk.parser.Parser` (shared sessions are fine, state is not).
        options: :class:`StreamOptions` (default: VIDEO mode, smoothing and limb consistency on).

    Open one with :func:`open_stream` (or ``VideoSession(parser, options)``). Frames are ``HxWx3`` uint8 RGB
    with strictly increasing timestamps in ms; each :meth:`parse` returns a
    :class:`~tryon_sdk.result.ParseResult` at the frame's size.

    Example:
        ```python
        from tryon_sdk import Parser, StreamOptions, open_stream
        from tryon_sdk.video.io.sample import sample_frames

        parser = Parser.from_pretrained()
        with open_stream(parser, StreamOptions(running_mode="video")) as session:
            for i, (frame, _) in enumerate(sample_frames(3)):
                result = session.parse(frame, i * 100)     # labels, people with track ids
                shown = session.render(result)             # HxWx3 uint8 overlay
        ```
    """

    def __init__(self, parser: Parser, options: StreamOptions | None = None) -> None:
        self.parser = parser
        self.options = options if options is not None else StreamOptions()
        self._stages = FrameStages(parser, self.options)
        self._last_ts: int | None = None
        self._closed = False
        self._submitted = self._processed = self._dropped = 0
        self._inference_s = self._post_s = 0.0
        # LIVE_STREAM machinery
        self._cv = threading.Condition()
        self._pending: tuple[np.ndarray, int] | None = None
        self._busy = False
        self._stopping = False
        self._error: BaseException | None = None
        self._worker: threading.Thread | None = None
        if self.running_mode is RunningMode.LIVE_STREAM:
            self._worker = threading.Thread(target=self._run_live, name="tryon-live-stream", daemon=True)
            self._worker.start()

    # ------------------------------------------------------------------ basics
    @property
    def running_mode(self) -> RunningMode:
        return self.options.running_mode

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stats(self) -> StreamStats:
        with self._cv:
            return StreamStats(
                self._submitted,
                self._processed,
                self._dropped,
                self._last_ts,
                self._inference_s,
                self._post_s,
                self._stages.people_searches,
            )

    @property
    def dropped_frames(self) -> int:
        """LIVE_STREAM frames replaced by a newer one before they were parsed."""
        return self._dropped

    def __enter__(self) -> "VideoSession":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(raise_errors=exc_type is None)

    def __repr__(self) -> str:
        return (
            f"VideoSession(running_mode={self.running_mode.name}, processed={self._processed}, "
            f"dropped={self._dropped}, closed={self._closed})"
        )

    def reset(self) -> None:
        """Forget the temporal state and the last timestamp (start of a new shot or stream)."""
        self._check_open()
        if self.running_mode is RunningMode.LIVE_STREAM:
            self.flush()
        with self._cv:
            self._stages.reset()
            self._last_ts = None

    def close(self, *, raise_errors: bool = True) -> None:
        """Finish: a LIVE_STREAM session parses its last waiting frame, then stops its worker.

        Re-raises an exception that the worker or callback hit (unless ``raise_errors`` is false).
        """
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            with self._cv:
                self._stopping = True
                self._cv.notify_all()
            self._worker.join()
        self._stages.clear()
        if raise_errors:
            self._raise_worker_error()

    # ----------------------------------------------------------------- checks
    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("this session is closed")

    def _require(self, method: str, *modes: RunningMode) -> None:
        self._check_open()
        if self.running_mode not in modes:
            valid = " or ".join(m.name for m in modes)
            raise ConfigError(f"{method}() is for {valid} mode; this session runs in {self.running_mode.name} mode")

    def _check_timestamp(self, timestamp_ms: Any) -> int:
        if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, (int, np.integer)):
            raise InputError(f"timestamp_ms must be an integer number of milliseconds, got {timestamp_ms!r}")
        ts = int(timestamp_ms)
        if self._last_ts is not None and ts <= self._last_ts:
            raise InputError(
                f"timestamps must increase: got {ts} ms after {self._last_ts} ms (call reset() to start a new stream)"
            )
        return ts

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    # --------------------------------------------------------------- pipeline
    def predict(self, images: Sequence[np.ndarray]) -> tuple[list[GridScores], list[FramePeople | None]]:
        """Engine stage: each frame's probabilities (on the engine's device, on a grid smaller than the frame:
        :class:`~tryon_sdk.resample.GridScores`, ``.full()`` gives ``C x H x W`` at the frame's size) and the
        people found (``None`` where the whole frame was parsed). People first follows the session's ``roi``;
        in VIDEO / LIVE_STREAM mode frames must come in order (the regions of interest are tracked)."""
        return self._stages.predict(images)

    def _process(
        self,
        images: list[np.ndarray],
        timestamps: list[int | None],
        probs_list: Sequence[GridScores | torch.Tensor] | None = None,
        people_list: Sequence[FramePeople | Sequence[Person] | None] | None = None,
    ) -> list[ParseResult]:
        """Engine on the whole batch (unless ``probs_list`` is given), then the stateful stages frame by frame."""
        t0 = time.perf_counter()
        if probs_list is None and self.running_mode is RunningMode.IMAGE:
            results = self._stages.image_results(images, timestamps)  # the parser's own frame path
            t1 = t2 = time.perf_counter()
        else:
            if probs_list is None:
                probs_list, people_list = self._stages.predict(images)
            t1 = time.perf_counter()
            results = self._stages.process(images, timestamps, probs_list, people_list)
            t2 = time.perf_counter()
        with self._cv:
            self._inference_s += t1 - t0
            self._post_s += t2 - t1
            self._processed += len(results)
        return results

    # ------------------------------------------------------------ IMAGE/VIDEO
    def parse(self, frame: ImageLike, timestamp_ms: int | None = None) -> ParseResult:
        """Parse one frame (``HxWx3`` uint8 RGB array, PIL image or tensor).

        VIDEO mode needs ``timestamp_ms`` (int, strictly increasing); IMAGE mode ignores state.
        """
        self._require("parse", RunningMode.IMAGE, RunningMode.VIDEO)
        return self.parse_many([frame], None if timestamp_ms is None else [timestamp_ms])[0]

    def parse_many(self, frames: Sequence[ImageLike], timestamps_ms: Sequence[int] | None = None) -> list[ParseResult]:
        """Parse consecutive frames with one batched engine call; same results as ``parse`` one by one."""
        return self._parse_many("parse_many", frames, timestamps_ms, None)

    def parse_probabilities(
        self,
        frames: Sequence[ImageLike],
        probabilities: Sequence[GridScores | torch.Tensor],
        timestamps_ms: Sequence[int] | None = None,
        *,
        people: Sequence[Sequence[Person] | None] | None = None,
    ) -> list[ParseResult]:
        """Run the stages after the engine on probabilities computed elsewhere.

        ``probabilities`` are what :meth:`predict` returns for ``frames`` (e.g. the engine stage of a
        pipeline), :meth:`Parser.predict_grids`' or ``CxHxW`` float32 tensors at the frames' size
        (:meth:`Parser.predict`; e.g. one engine call shared by several sessions in an evaluation);
        ``people`` what :meth:`predict` found (``None``: taken from the label maps).
        """
        if len(probabilities) != len(frames):
            raise InputError(f"{len(frames)} frames but {len(probabilities)} probability maps")
        if people is not None and len(people) != len(frames):
            raise InputError(f"{len(frames)} frames but {len(people)} people lists")
        for f, p in zip(frames, probabilities):
            size = tuple(p.size) if isinstance(p, GridScores) else tuple(getattr(p, "shape", ())[1:])
            frame_size = tuple(np.asarray(f).shape[:2])
            if not isinstance(p, (GridScores, torch.Tensor)) or len(size) != 2 or size != frame_size:
                raise InputError(f"probabilities must be GridScores or CxHxW tensors for the frame size {frame_size}")
        return self._parse_many("parse_probabilities", frames, timestamps_ms, list(probabilities), people)

    def parse_stream(
        self, batches: Iterable[tuple[Sequence[ImageLike], Sequence[int] | None]]
    ) -> Iterator[list[ParseResult]]:
        """Parse consecutive ``(frames, timestamps_ms)`` batches; yields each batch's results in order.

        The same results as :meth:`parse_many` batch by batch, but the engine works on batch ``k + 1``
        (in a thread of the session's own: only the engine stage's state is touched there) while the
        smoothing and limb stages run on batch ``k`` in the caller's thread. Close the generator (or
        exhaust it) before using the session again.
        """
        self._require("parse_stream", RunningMode.IMAGE, RunningMode.VIDEO)
        last = self._last_ts
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tryon-engine") as engine:
            pending: tuple[list[np.ndarray], list[int | None], Future] | None = None
            try:
                for frames, timestamps_ms in batches:
                    images, stamps = self._admit("parse_stream", frames, timestamps_ms, last)
                    if not images:
                        continue
                    last = stamps[-1] if self.running_mode is RunningMode.VIDEO else last
                    ahead = (images, stamps, engine.submit(self._predict_timed, images))
                    if pending is not None:
                        yield self._finish_batch(*pending)
                    pending = ahead
                if pending is not None:
                    yield self._finish_batch(*pending)
                    pending = None
            finally:
                if pending is not None:
                    pending[2].cancel()

    def _predict_timed(self, images: list[np.ndarray]) -> tuple[list[GridScores], list[FramePeople | None]]:
        t0 = time.perf_counter()
        out = self.predict(images)
        with self._cv:
            self._inference_s += time.perf_counter() - t0
        return out

    def _finish_batch(self, images: list[np.ndarray], stamps: list[int | None], engine: Future) -> list[ParseResult]:
        probs, people = engine.result()
        results = self._process(images, stamps, probs, people)
        if self.running_mode is RunningMode.VIDEO:
            self._last_ts = stamps[-1]
        return results

    def _admit(
        self, method: str, frames: Sequence[ImageLike], timestamps_ms: Sequence[int] | None, last_ts: int | None
    ) -> tuple[list[np.ndarray], list[int | None]]:
        """Checked RGB frames and timestamps (VIDEO: integers increasing after ``last_ts``), counted as submitted."""
        self._require(method, RunningMode.IMAGE, RunningMode.VIDEO)
        if self.running_mode is RunningMode.VIDEO:
            if timestamps_ms is None:
                raise InputError("VIDEO mode needs a timestamp_ms for every frame")
            if len(timestamps_ms) != len(frames):
                raise InputError(f"{len(frames)} frames but {len(timestamps_ms)} timestamps")
            checked, saved = [], self._last_ts
            try:
                self._last_ts = last_ts
                for t in timestamps_ms:
                    checked.append(self._check_timestamp(t))
                    self._last_ts = checked[-1]
            finally:
                self._last_ts = saved  # committed only once the batch is parsed
            stamps: list[int | None] = list(checked)
        else:
            stamps = list(timestamps_ms) if timestamps_ms is not None else [None] * len(frames)
            if len(stamps) != len(frames):
                raise InputError(f"{len(frames)} frames but {len(stamps)} timestamps")
        images = [to_rgb_uint8(f) for f in frames]
        with self._cv:
            self._submitted += len(images)
        return images, stamps

    def _parse_many(
        self,
        method: str,
        frames: Sequence[ImageLike],
        timestamps_ms: Sequence[int] | None,
        probabilities: Sequence[GridScores | torch.Tensor] | None,
        people: Sequence[FramePeople | Sequence[Person] | None] | None = None,
    ) -> list[ParseResult]:
        images, stamps = self._admit(method, frames, timestamps_ms, self._last_ts)
        if not images:
            return []
        results = self._process(images, stamps, probabilities, people)
        if self.running_mode is RunningMode.VIDEO:
            self._last_ts = stamps[-1]
        return results

    def render(self, result: ParseResult, frame: np.ndarray | None = None) -> np.ndarray:
        """The output image for ``result``: the compositor's, else the label-colour overlay."""
        image = frame if frame is not None else result.image
        if image is None:
            raise InputError("render() needs the frame: this result keeps no image")
        return render_frame(self.options.compositor, image, result)


def open_stream(parser: Parser, options: StreamOptions | None = None) -> VideoSession:
    """Start a session over ``parser`` (default options: VIDEO mode, smoothing and limb consistency on);
    ``open_stream(parser, StreamOptions(running_mode="live_stream", result_callback=show))``. Use it as a
    context manager."""
    return VideoSession(parser, options)


def _deprecated_stream(
    parser: Parser, options: StreamOptions | None = None, *, mode: RunningMode | str | None = None, **fields: object
) -> VideoSession:
    """What the deprecated ``Parser.stream(options, mode=..., **fields)`` opens: ``fields`` are
    :class:`StreamOptions` fields, ``mode`` its ``running_mode``."""
    if mode is not None:
        if "running_mode" in fields:
            raise ConfigError("give mode or running_mode, not both")
        fields["running_mode"] = mode
    if options is None:
        try:
            options = StreamOptions(**fields)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ConfigError(f"unknown stream option: {exc}") from None
    elif fields:
        options = replace(options, **fields)  # type: ignore[arg-type]
    return VideoSession(parser, options)


Parser.stream_opener = _deprecated_stream
