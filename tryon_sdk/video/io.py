"""Video and image files in and out, for the offline pipeline (PyAV + OpenCV).

Reading (:class:`VideoReader`) yields upright RGB frames with their own
timestamps: the display-matrix rotation of phone videos is applied to the
pixels, variable frame rate is kept (each frame carries its ``pts``), and a
frame that cannot be decoded is skipped and counted instead of ending the run.

Writing: :class:`H264Writer` (``overlay.mp4``: libx264, yuv420p, frames at
the input's timestamps, audio copied), :class:`GrayVideoWriter` (FFV1 gray8
in Matroska: label ids and alphas survive exactly) and
:class:`PngSequenceWriter`, each a :class:`~tryon_sdk.outputs.FrameSink`. Every
writer writes to a hidden temporary name next to its destination
(:class:`~tryon_sdk.outputs.PendingOutput`); the caller renames it into place
with ``commit()`` only once the output is complete, so an interrupted run never
leaves a file that looks finished and never clobbers an older one.

yuv420p needs even dimensions: an odd-sized frame is **padded** by repeating
its last row / column in ``overlay.mp4`` (no pixel of the input is lost);
label and alpha outputs keep the exact frame size.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import cv2
import numpy as np

from ..errors import InputError, VideoError
from ..outputs import FrameSink, PendingOutput

__all__ = [
    "IMAGE_SUFFIXES",
    "is_image_path",
    "list_images",
    "read_image",
    "write_png",
    "VideoInfo",
    "DecodedFrame",
    "probe_video",
    "VideoReader",
    "PendingOutput",
    "FrameSink",
    "H264Writer",
    "GrayVideoWriter",
    "PngSequenceWriter",
    "upright",
    "pad_even",
]

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})

#: audio codecs MP4 carries as they are; anything else is re-encoded to AAC.
_MP4_AUDIO = frozenset({"aac", "mp3", "opus", "alac", "flac", "ac3", "eac3"})
_STANDARD_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


# --------------------------------------------------------------------------- images
def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p) and not p.name.startswith("."))


def read_image(path: str | os.PathLike) -> np.ndarray:
    """``HxWx3`` uint8 RGB with the EXIF orientation applied; :class:`InputError` when unreadable.

    16-bit files are scaled by their full range (see :mod:`tryon_sdk.inputs`), greyscale is
    repeated to RGB and alpha dropped, silently: reading a file is the caller's request.
    """
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    from ..errors import TryOnWarning
    from ..inputs import pil_to_array, to_rgb_uint8

    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            arr, _ = pil_to_array(im)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TryOnWarning)
        try:
            return to_rgb_uint8(arr)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``HxW`` (gray) or ``HxWx3`` RGB uint8 as PNG."""
    arr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", arr)
    if not ok:  # pragma: no cover - cv2 fails only on invalid arrays
        raise VideoError(f"{path}: PNG encoding failed")
    with open(path, "wb") as f:
        f.write(buf.tobytes())


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


def pad_even(image: np.ndarray) -> np.ndarray:
    """Pad ``HxW[xC]`` to even height and width by repeating the last row / column."""
    h, w = image.shape[:2]
    ph, pw = h % 2, w % 2
    if not (ph or pw):
        return image
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode="edge")


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


# --------------------------------------------------------------------------- writing
def _open_output(path: Path, fmt: str, options: dict[str, str] | None = None) -> av.container.OutputContainer:
    try:
        return av.open(str(path), "w", format=fmt, container_options=options or {})
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None


class _AudioSource:
    """Copies (or, when MP4 cannot hold the codec, re-encodes to AAC) the input's first audio track.

    Packets go out in time order interleaved with the video (:meth:`until`),
    limited to ``[start_s, end_s)`` of the input's clock.
    """

    def __init__(self, path: str | os.PathLike, out: av.container.OutputContainer, start_s: float | None) -> None:
        self._in = av.open(str(path), "r")
        self._src = self._in.streams.audio[0]
        self._start = start_s
        self._copy = self._src.codec_context.name in _MP4_AUDIO and self._src.codec_context.name in out.supported_codecs
        if self._copy:
            self._out = out.add_stream_from_template(self._src)
        else:
            cc = self._src.codec_context
            # an unordered layout ("1 channels") is refused by the AAC encoder: use the standard one
            layout = _STANDARD_LAYOUTS.get(cc.channels or 2, "stereo")
            self._out = out.add_stream("aac", rate=cc.sample_rate or 48000, layout=layout)
        self._packets = self._in.demux(self._src)
        self._pending: av.Packet | None = None
        self._done = False
        self.codec = self._src.codec_context.name if self._copy else "aac"

    def _next(self) -> av.Packet | None:
        if self._pending is None and not self._done:
            try:
                for p in self._packets:
                    if p.pts is not None and p.size:
                        self._pending = p
                        break
                else:
                    self._done = True
            except av.error.FFmpegError:  # damaged audio: stop copying it, keep the video
                self._done = True
        return self._pending

    def until(self, out: av.container.OutputContainer, t_s: float) -> None:
        """Write every audio packet that starts before ``t_s`` (input clock, seconds)."""
        while (p := self._next()) is not None and float(p.pts * p.time_base) < t_s:
            self._pending = None
            if self._start is not None and float(p.pts * p.time_base) < self._start - 1e-6:
                continue
            if self._copy:
                p.stream = self._out
                out.mux(p)
            else:
                try:
                    for f in p.decode():
                        f.pts = None
                        out.mux(self._out.encode(f))
                except av.error.FFmpegError:
                    continue

    def finish(self, out: av.container.OutputContainer, end_s: float) -> None:
        self.until(out, end_s)
        if not self._copy:
            out.mux(self._out.encode(None))
        self._in.close()

    def close(self) -> None:
        self._in.close()


#: Frames above this many pixels get a short x264 lookahead (below), which holds fewer frames.
_X264_LARGE_PIXELS = 1_000_000
#: 3 frames of lookahead and 1 B-frame instead of veryfast's 10 and 3: at 3840x2160 the encoder
#: holds ~0.22 GB instead of ~0.5-0.7 GB, at 1920x1080 ~0.07 GB instead of ~0.14 GB, for files
#: within 2% of the size (measured on the bundled sample rendered at those sizes).
_X264_LARGE_PARAMS = "rc-lookahead=3:bframes=1"


class _EncodedWriter:
    """One video stream encoded into a container: the shared flush / close / abort of the video writers."""

    def __init__(self, path: str | os.PathLike, fmt: str, options: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self._out = _open_output(self.path, fmt, options)
        self._stream: Any = None
        self.frames = 0

    def _finish(self) -> None:
        """Anything written after the video is flushed (the audio tail)."""

    def _release(self) -> None:
        """Anything to let go of besides the output container when aborting."""

    def close(self) -> None:
        """Flush the encoder and finish the file (it is only complete after this)."""
        try:
            if self._stream is not None:
                self._out.mux(self._stream.encode(None))
            self._finish()
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot write {self.path}: {exc}") from None
        finally:
            self._out.close()

    def abort(self) -> None:
        """Close without caring whether the file is valid (it is discarded)."""
        try:
            self._release()
            self._out.close()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass


class H264Writer(_EncodedWriter):
    """``overlay.mp4``: H.264 (libx264) yuv420p, browser-playable (``+faststart``).

    Each frame is written at its input ``pts`` (in ``time_base``), so the
    frame rate and variable timing of the input are kept. Odd sizes are
    padded by one pixel (see :func:`pad_even`). Frames above 1 megapixel are
    encoded with a short lookahead, so the encoder's memory stays small at 4K.

    Args:
        path: the (temporary) output file.
        fps: nominal frame rate (rate control only; timestamps come from ``pts``).
        time_base: the input's time base.
        audio_from: a file whose first audio track is copied over, or ``None``.
        audio_start_s: audio before this input time (seconds) is left out (``--start``).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        fps: Fraction | None,
        time_base: Fraction,
        audio_from: str | os.PathLike | None = None,
        audio_start_s: float | None = None,
        crf: int = 20,
        preset: str = "veryfast",
    ) -> None:
        super().__init__(path, "mp4", {"movflags": "+faststart"})
        self._fps = fps or Fraction(25)
        self._tb = time_base
        self._opts = {"crf": str(crf), "preset": preset}
        self._audio_from = audio_from
        self._audio_start = audio_start_s
        self._audio: _AudioSource | None = None
        self._last_end_s = 0.0

    def _open_stream(self, width: int, height: int) -> None:
        opts = dict(self._opts)
        if width * height > _X264_LARGE_PIXELS and "x264-params" not in opts:
            opts["x264-params"] = _X264_LARGE_PARAMS
        s = self._out.add_stream("libx264", rate=self._fps, options=opts)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.codec_context.time_base = self._tb
        s.time_base = self._tb
        self._stream = s
        if self._audio_from is not None:
            self._audio = _AudioSource(self._audio_from, self._out, self._audio_start)

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one ``HxWx3`` uint8 RGB frame at ``pts`` (input time base)."""
        image = pad_even(image)
        if self._stream is None:
            self._open_stream(image.shape[1], image.shape[0])
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base = pts, self._tb
        t = float(pts * self._tb)
        try:
            if self._audio is not None:
                self._audio.until(self._out, t)
            self._out.mux(self._stream.encode(frame))
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot write {self.path}: {exc}") from None
        self._last_end_s = t + float(1 / self._fps)
        self.frames += 1

    def _finish(self) -> None:
        if self._audio is not None:
            self._audio.finish(self._out, self._last_end_s)

    def _release(self) -> None:
        if self._audio is not None:
            self._audio.close()


class GrayVideoWriter(_EncodedWriter):
    """Lossless ``HxW`` uint8 planes (label ids or alphas): FFV1, gray8, Matroska, exact frame size."""

    def __init__(self, path: str | os.PathLike, *, time_base: Fraction, fps: Fraction | None = None) -> None:
        super().__init__(path, "matroska")
        self._tb = time_base
        self._fps = fps or Fraction(25)

    def write(self, plane: np.ndarray, pts: int) -> None:
        if plane.dtype != np.uint8 or plane.ndim != 2:
            raise InputError(f"expected an HxW uint8 plane, got {plane.dtype} {plane.shape}")
        if self._stream is None:
            s = self._out.add_stream("ffv1", rate=self._fps)
            s.width, s.height, s.pix_fmt = plane.shape[1], plane.shape[0], "gray"
            s.codec_context.time_base = self._tb
            self._stream = s
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(plane), format="gray")
        frame.pts, frame.time_base = pts, self._tb
        try:
            self._out.mux(self._stream.encode(frame))
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot write {self.path}: {exc}") from None
        self.frames += 1


class PngSequenceWriter:
    """``000000.png``, ``000001.png``, ... in a folder (gray or RGB uint8 frames)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.frames = 0

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Write ``image`` (``HxW`` or ``HxWx3`` uint8) as the next numbered PNG (``pts`` is not used)."""
        try:
            write_png(self.folder / f"{self.frames:06d}.png", image)
        except OSError as exc:
            raise VideoError(f"cannot write into {self.folder}: {exc.strerror or exc}") from None
        self.frames += 1

    def close(self) -> None:
        """Nothing to flush: each PNG is complete when written."""

    def abort(self) -> None:
        """Nothing to release (the caller discards the folder)."""
