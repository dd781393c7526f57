"""Video and image files out, for the offline pipeline: each writer is a :class:`~tryon_sdk.outputs.FrameSink`.

:class:`H264Writer` (``overlay.mp4``: libx264, yuv420p, frames at the input's
timestamps, audio copied), :class:`GrayVideoWriter` (FFV1 gray8 in Matroska:
label ids and alphas survive exactly) and :class:`PngSequenceWriter`. The two
video writers share one flush / close / abort (:class:`EncodedWriter`). Every
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
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from ...errors import InputError, VideoError

__all__ = [
    "write_png", "pad_even", "EncodedWriter", "H264Writer", "GrayVideoWriter", "PngSequenceWriter"]

#: audio codecs MP4 carries as they are; anything else is re-encoded to AAC.
_MP4_AUDIO = frozenset({"aac", "mp3", "opus", "alac", "flac", "ac3", "eac3"})
_STANDARD_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write ``HxW`` (gray) or ``HxWx3`` RGB uint8 as PNG."""
    arr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", arr)
    if not ok:  # pragma: no cover - cv2 fails only on invalid arrays
        raise VideoError(f"{path}: PNG encoding failed")
    with open(path, "wb") as f:
        f.write(buf.tobytes())


def pad_even(image: np.ndarray) -> np.ndarray:
    """Pad ``HxW[xC]`` to even height and width by repeating the last row / column."""
    h, w = image.shape[:2]
    ph, pw = h % 2, w % 2
    if not (ph or pw):
        return image
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode="edge")


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


class EncodedWriter:
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


class H264Writer(EncodedWriter):
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


class GrayVideoWriter(EncodedWriter):
    """Lossless ``HxW`` uint8 planes (label ids or alphas): FFV1, gray8, Matroska, exact frame size."""

    def __init__(self, path: str | os.PathLike, *, time_base: Fraction, fps: Fraction | None = None) -> None:
        super().__init__(path, "matroska")
        self._tb = time_base
        self._fps = fps or Fraction(25)

    def write(self, plane: np.ndarray, pts: int) -> None:
        """Encode one ``HxW`` uint8 plane (labels or an alpha) at ``pts`` (in the writer's time base)."""
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
