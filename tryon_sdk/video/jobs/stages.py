"""The stages of the parse job (see :mod:`tryon_sdk.video.jobs.job`), each owning its state and its time.

``Decode`` (source) -> ``ParseFrames`` (engine, smoothing, limbs: the stage owns the
:class:`~tryon_sdk.video.stream.session.VideoSession`) -> ``Render`` (labels, alphas and the
overlay at the frame's size, uint8) -> ``Write`` (the encoders, on the caller's thread).
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import cv2
import numpy as np

from ...compositor import Compositor
from ...outputs import FrameSink
from ...parser import Parser
from ...result import ParseResult
from ..io.reader import DecodedFrame, VideoReader
from .job import HeapTrimmer, batched
from .options import work_size
from ...compositor import render_frame
from ..stream import StreamOptions, StreamStats, VideoSession
from .summary import class_share, people_json

__all__ = ["Decode", "ParseFrames", "Render", "Write", "Rendered", "alpha_u8", "at_frame_size"]

#: a decoded frame and the image the engine sees (the frame's own, or at the working size)
Decoded = tuple[DecodedFrame, np.ndarray]


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


def alpha_u8(alpha: np.ndarray) -> np.ndarray:
    """``HxW`` float alpha in [0, 1] -> uint8 0..255 (rounded)."""
    return np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)


def at_frame_size(result: ParseResult, labels: np.ndarray, image: np.ndarray) -> ParseResult:
    """A working-size result restated at the frame's size: scaled-up labels, the full frame, no probabilities.

    Pixel measures (the edge-refinement stride, people's boxes and areas when the result has them)
    are scaled too, so a compositor sees one consistent result.
    """
    s = labels.shape[0] / result.labels.shape[0]
    changes: dict[str, Any] = {"labels": labels, "probabilities": None, "image": image}
    if result.stride_px:
        changes["stride_px"] = result.stride_px * s
    changes["people"] = tuple(
        dataclasses.replace(p, box=type(p.box)(*(int(round(v * s)) for v in p.box)), area=int(round(p.area * s * s)))
        for p in result.people
    )
    return dataclasses.replace(result, **changes)


class Decode:
    """Source: ``(frame, image at the working size)`` per decodable frame; ``seconds`` decoding and resizing."""

    def __init__(self, reader: VideoReader, work_pixels: int | None) -> None:
        self.reader, self.work_pixels = reader, work_pixels
        self.seconds = 0.0

    def __iter__(self) -> Iterator[Decoded]:
        it = iter(self.reader)
        try:
            while True:
                t0 = time.perf_counter()
                frame = next(it, None)
                image = None if frame is None else _to_work(frame.image, work_size(frame.image.shape[:2], self.work_pixels))
                self.seconds += time.perf_counter() - t0
                if frame is None:
                    return
                yield frame, image
        finally:
            it.close()  # type: ignore[attr-defined]  # a generator: closes the container


class ParseFrames:
    """Engine batches through a :class:`VideoSession` that this stage creates, uses and closes on its own thread.

    ``batch_for(image)``: frames of that image's size per engine call. ``stats``: the session's
    counters and stage times once the stage has ended. Yields ``(frame, image, result)``.
    """

    def __init__(self, parser: Parser, options: StreamOptions, batch_for: Callable[[np.ndarray], int], progress: Any) -> None:
        self.parser, self.options, self.batch_for, self.progress = parser, options, batch_for, progress
        self.stats: StreamStats | None = None

    def __call__(self, frames: Iterable[Decoded]) -> Iterator[tuple[DecodedFrame, np.ndarray, ParseResult]]:
        batches: list[list[Decoded]] = []  # what the session has been given and not yet returned

        def requests() -> Iterator[tuple[list[np.ndarray], list[int]]]:
            for batch in batched(frames, lambda item: self.batch_for(item[1])):
                batches.append(batch)
                yield [image for _, image in batch], [f.timestamp_ms for f, _ in batch]

        with VideoSession(self.parser, self.options) as session:
            try:
                with closing(session.parse_stream(requests())) as parsed:
                    for results in parsed:
                        batch = batches.pop(0)
                        self.progress.update(len(batch))
                        for (frame, image), result in zip(batch, results):
                            yield frame, image, result
                        del results
            finally:
                self.stats = session.stats


@dataclass
class Rendered:
    """One frame ready for the encoders: uint8 planes at the frame's size, no float maps."""

    frame: DecodedFrame
    overlay: np.ndarray | None
    labels: np.ndarray
    alphas: dict[str, np.ndarray]
    people: list[dict[str, Any]]  # summary.json, at the frame's size


class Render:
    """Labels, alphas and the overlay at the frame's own size, as uint8 (the float maps end here)."""

    def __init__(self, regions: tuple[str, ...], compositor: Compositor | None, overlay: bool) -> None:
        self.regions, self.compositor, self.overlay = regions, compositor, overlay
        self.seconds = 0.0

    def __call__(self, parsed: Iterable[tuple[DecodedFrame, np.ndarray, ParseResult]]) -> Iterator[Rendered]:
        for frame, image, result in parsed:
            t0 = time.perf_counter()
            shape = frame.image.shape[:2]
            labels = _from_work(result.labels, shape, labels=True)
            alphas = {name: _from_work(alpha_u8(result.region(name)), shape, labels=False) for name in self.regions}
            shown = None
            if self.overlay:
                # parsed at the working size: draw on the full frame with the scaled-up labels
                full = result if image is frame.image else at_frame_size(result, labels, frame.image)
                shown = render_frame(self.compositor, frame.image, full)
            done = Rendered(frame, shown, labels, alphas, people_json(result, frame.image.shape[0] / image.shape[0]))
            del result
            self.seconds += time.perf_counter() - t0
            yield done


class Write:
    """Sink: each frame's planes into the encoders and its entry into ``frames`` (summary.json)."""

    def __init__(self, overlay: FrameSink | None, labels: FrameSink | None, alphas: dict[str, FrameSink], num_classes: int) -> None:
        self.overlay, self.labels, self.alphas, self.num_classes = overlay, labels, alphas, num_classes
        self.frames: list[dict[str, Any]] = []
        self.seconds = 0.0
        self._trim = HeapTrimmer()

    def __call__(self, rendered: Iterable[Rendered]) -> Iterator[None]:
        for item in rendered:
            self._trim()
            t0 = time.perf_counter()
            frame = item.frame
            if self.overlay is not None:
                self.overlay.write(item.overlay, frame.pts)  # type: ignore[arg-type]
            if self.labels is not None:
                self.labels.write(item.labels, frame.pts)
            for name, w in self.alphas.items():
                w.write(item.alphas[name], frame.pts)
            self.frames.append(
                {
                    "index": frame.index,
                    "pts": frame.pts,
                    "time_s": round(frame.time_s, 6),
                    "class_share": class_share(item.labels, self.num_classes),
                    "people": item.people,
                }
            )
            self.seconds += time.perf_counter() - t0
            yield None
