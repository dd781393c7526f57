"""Video and image files in, for the offline pipeline (PyAV + Pillow).

:class:`VideoReader` yields upright RGB frames with their own timestamps: the
display-matrix rotation of phone videos is applied to the pixels, variable
frame rate is kept (each frame carries its ``pts``), and a frame that cannot be
decoded is skipped and counted instead of ending the run; :func:`probe_video`
reads what the container says before decoding. Still images are :mod:`tryon_sdk.video.io.images`;
writing is :mod:`tryon_sdk.video.io.writers`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np

from ...errors import InputError, VideoError
from .images import IMAGE_SUFFIXES, is_image_path, list_images, read_image

__all__ = [
    "IMAGE_SUFFIXES",
    "is_image_path",
    "list_images",
    "read_image",
    "VideoInfo",
    "DecodedFrame",
    "probe_video",
    "VideoReader",
    "upright",
]

# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video before decoding it all.

    ``width``/``height`` are upright (after ``rotation``); ``rotation`` is the
    counter-clockwise angle (0, 90, 180, 270) applied to decoded pixels.
    ``frame_count`` is the container's figure and may be ``None`` or inexact.
    """

    path: str
    container: str
    codec: str
    pix_fmt: str | None
    width: int
    height: int
    rotation: int
    fps: Fraction | None
    time_base: Fraction
    start_time_s: float
    duration_s: float | None
    frame_count: int | None
    has_audio: bool
    audio_codec: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (``fps`` as a float, ``time_base`` as a string), as in ``summary.json``."""
        d = asdict(self)
        d["fps"] = float(self.fps) if self.fps else None
        d["time_base"] = str(self.time_base)
        return d

    def estimated_frames(self) -> int | None:
        """Frames the container promises: its frame count, else duration x rate; ``None`` when unknown.

        A "rate" above 240 fps is a time-base tick rate (e.g. AVI written with a 1 ms
        time base), not a frame rate, and counts in it are not frames.
        """
        if self.fps and float(self.fps) > 240:
            return None
        if self.frame_count:
            return self.frame_count
        if self.duration_s and self.fps:
            return int(round(self.duration_s * float(self.fps)))
        return None


@dataclass
class DecodedFrame:
    """One upright frame: ``image`` is ``HxWx3`` uint8 RGB; ``pts`` is in ``time_base`` units.

    ``timestamp_ms`` is ``pts`` in whole milliseconds, made strictly increasing
    within a stream (frames less than 1 ms apart are nudged by 1 ms) so it can
    drive a VIDEO session; ``pts`` itself is exact.
    """

    index: int
    image: np.ndarray = field(repr=False)
    pts: int
    time_base: Fraction
    timestamp_ms: int = None  # type: ignore[assignment]  # filled in from pts when not given

    def __post_init__(self) -> None:
        if self.timestamp_ms is None:
            self.timestamp_ms = int(round(self.pts * self.time_base * 1000))

    @property
    def time_s(self) -> float:
        return float(self.pts * self.time_base)


def upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate ``HxW[xC]`` pixels counter-clockwise by ``rotation`` degrees (a multiple of 90)."""
    k = (int(round(rotation / 90.0))) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _open_input(path: str | os.PathLike) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file")
    if p.is_dir():
        raise VideoError(f"{p}: is a folder, not a video")
    try:
        return av.open(str(p), "r")
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise VideoError(f"{p}: not a readable video ({reason})") from None


def _video_stream(container: av.container.InputContainer, path: str | os.PathLike) -> av.video.stream.VideoStream:
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video stream")
    return container.streams.video[0]


def _first_rotation(path: str | os.PathLike, max_packets: int = 64) -> int:
    """Display rotation of the first decodable frame (0 when there is none)."""
    with _open_input(path) as c:
        stream = _video_stream(c, path)
        try:
            for i, packet in enumerate(c.demux(stream)):
                if i >= max_packets:
                    break
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                for f in frames:
                    return int(round(f.rotation / 90.0)) * 90 % 360
        except av.error.FFmpegError:
            pass
    return 0


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Metadata of a video file; :class:`VideoError` when it is not one."""
    rotation = _first_rotation(path)
    with _open_input(path) as c:
        s = _video_stream(c, path)
        cc = s.codec_context
        tb = s.time_base or Fraction(1, 1000)
        w, h = cc.width, cc.height
        if w <= 0 or h <= 0:
            raise VideoError(f"{path}: video stream has no frame size")
        if rotation in (90, 270):
            w, h = h, w
        duration = float(s.duration * tb) if s.duration else (c.duration / 1e6 if c.duration else None)
        fps = s.average_rate or s.guessed_rate or s.base_rate
        audio = c.streams.audio[0] if c.streams.audio else None
        return VideoInfo(
            path=str(path),
            container=c.format.name,
            codec=cc.name,
            pix_fmt=cc.pix_fmt,
            width=w,
            height=h,
            rotation=rotation,
            fps=Fraction(fps) if fps else None,
            time_base=Fraction(tb),
            start_time_s=float(s.start_time * tb) if s.start_time is not None else 0.0,
            duration_s=duration,
            frame_count=s.frames or None,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )


class VideoReader:
    """Iterate upright RGB frames of a video, skipping (and counting) undecodable ones.

    Args:
        path: the video file.
        start: first time to keep, in seconds from the start of the stream.
        end: stop before this time (seconds from the start of the stream).
        max_frames: stop after this many frames.

    After iteration: :attr:`frames_read`, :attr:`skipped` (``[{"reason", "after_s"}]``),
    :attr:`truncated` and :attr:`truncation` (why the input looks incomplete, or ``None``).
    A video is *truncated* when the file ends before what its container promised:
    fewer frames than the stream's frame count, a last frame well before the
    stream's duration, a demuxer error, or an undecodable frame at the very end
    (a file cut off mid-packet). :attr:`frames_expected` is the container's
    promise for the selected range (``None`` when it does not say).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        start: float | None = None,
        end: float | None = None,
        max_frames: int | None = None,
    ) -> None:
        if start is not None and start < 0:
            raise InputError(f"start must be >= 0 seconds, got {start}")
        if end is not None and start is not None and end <= start:
            raise InputError(f"end ({end}) must be after start ({start})")
        if max_frames is not None and max_frames < 1:
            raise InputError(f"max_frames must be >= 1, got {max_frames}")
        self.path = Path(path)
        self.info = probe_video(path)
        self.start, self.end, self.max_frames = start, end, max_frames
        self.frames_read = 0
        self.skipped: list[dict[str, Any]] = []
        self.truncated = False
        self.truncation: str | None = None
        self._tail_error = False

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def frames_expected(self) -> int | None:
        """Frames the container promises in the selected range (``None`` when unknown)."""
        info = self.info
        if not self.start and self.end is None:
            n = info.estimated_frames()
        elif info.fps and info.duration_s and float(info.fps) <= 240:
            stop = min(self.end, info.duration_s) if self.end is not None else info.duration_s
            n = max(0, int(round((stop - (self.start or 0.0)) * float(info.fps))))
        else:
            n = None
        if self.max_frames is not None:
            return min(self.max_frames, n) if n is not None else None
        return n

    def _skip(self, reason: str, after_s: float | None) -> None:
        self.skipped.append({"reason": reason, "after_s": after_s})

    def __iter__(self) -> Iterator[DecodedFrame]:
        info = self.info
        container = _open_input(self.path)
        try:
            stream = _video_stream(container, self.path)
            stream.thread_type = "AUTO"
            tb = stream.time_base or Fraction(1, 1000)
            origin = info.start_time_s
            if self.start:
                try:
                    container.seek(int((origin + self.start) / tb), stream=stream, backward=True)
                except av.error.FFmpegError:
                    container.seek(0, stream=stream)
            step = (1 / info.fps) if info.fps else Fraction(1, 25)
            last_pts: int | None = None
            last_ms = -(2**62)
            last_t: float | None = None  # time of the last frame that came out of the decoder
            seen = 0  # frames in range that came out of the decoder, kept or not
            skips_before = self.skipped_count
            for frame in self._decode(container, stream):
                pts = frame.pts
                if pts is None:  # some demuxers leave it unset: continue the frame clock
                    pts = 0 if last_pts is None else last_pts + max(1, int(round(step / tb)))
                t = float(pts * tb) - origin
                if self.start is not None and t < self.start - 1e-6:
                    continue
                if self.end is not None and t >= self.end - 1e-6:
                    return
                seen += 1
                last_t = t
                if last_pts is not None and pts <= last_pts:
                    self._skip("non-increasing timestamp", t)
                    continue
                try:
                    rgb = frame.to_ndarray(format="rgb24")
                except (av.error.FFmpegError, ValueError) as exc:
                    self._skip(f"unconvertible frame ({exc})", t)
                    continue
                last_pts = pts
                ms = int(round(pts * tb * 1000))
                last_ms = ms = max(ms, last_ms + 1)
                yield DecodedFrame(self.frames_read, upright(rgb, info.rotation), int(pts), Fraction(tb), ms)
                self.frames_read += 1
                if self.max_frames is not None and self.frames_read >= self.max_frames:
                    return
            # the file ended on its own: did it deliver what the container promised?
            decode_errors = sum(1 for s in self.skipped[skips_before:] if s["reason"].startswith("undecodable"))
            stream_duration = float(stream.duration * tb) if stream.duration else None
            self._check_complete(seen + decode_errors, last_t, stream_duration, tail_error=self._tail_error)
        finally:
            container.close()

    def _check_complete(self, seen: int, last_t: float | None, stream_duration: float | None, *, tail_error: bool) -> None:
        """Set :attr:`truncated` / :attr:`truncation` once the demuxer reached the end of the file."""
        info = self.info
        reasons: list[str] = []
        if self.truncation:  # a demuxer error already said so
            reasons.append(self.truncation)
        whole = not self.start and self.end is None
        # MP4/MOV sample tables count real frames; AVI's count is in time-base ticks, MKV has none
        exact_count = bool({"mov", "mp4"} & set(info.container.split(",")))
        if whole and exact_count and info.frame_count and seen < info.frame_count - max(2, 0.005 * info.frame_count):
            reasons.append(f"the file holds {seen} of the {info.frame_count} frames its container lists")
        interval = float(1 / info.fps) if info.fps else 0.04
        duration = stream_duration if stream_duration is not None else info.duration_s
        if duration:
            # a container duration may include an audio tail; the stream's own duration is exact
            tolerance = max(2.5 * interval, 0.25 if (stream_duration is not None or not info.has_audio) else 1.0)
            stop = min(self.end, duration) if self.end is not None else duration
            reached = (last_t + interval) if last_t is not None else (self.start or 0.0)
            if stop - reached > tolerance and not reasons:
                reasons.append(f"the file ends at {reached:.2f} s of {stop:.2f} s")
        if tail_error and not reasons:
            reasons.append("the last frame cannot be decoded")
        if reasons:
            self.truncated = True
            self.truncation = "; ".join(reasons)

    def _decode(self, container: av.container.InputContainer, stream: Any) -> Iterator[av.VideoFrame]:
        last_t: float | None = None
        self._tail_error = False  # the last packet(s) failed to decode, with no good frame after them
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:
                # a damaged or cut-off container: keep what the decoder still holds, then stop
                self.truncated = True
                where = f" after {last_t:.2f} s" if last_t is not None else ""
                self.truncation = f"the container cannot be read{where} ({type(exc).__name__})"
                try:
                    yield from stream.codec_context.decode(None)
                except av.error.FFmpegError:
                    pass
                return
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self._skip(f"undecodable frame ({type(exc).__name__})", last_t)
                self._tail_error = True
                continue
            for f in frames:
                self._tail_error = False
                if f.pts is not None:
                    last_t = float(f.pts * f.time_base)
                yield f

