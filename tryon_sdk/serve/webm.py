"""``overlay.webm``: VP9 in WebM, for browsers that cannot play H.264 (Chromium builds without it).

The SDK's :class:`~tryon_sdk.video.io.writers.H264Writer` is the default; a page that finds
``video/mp4; codecs=avc1`` unplayable asks for this instead (``video_format=webm``). Frames are
written at the input's timestamps (a :class:`~tryon_sdk.outputs.FrameSink`: ``write`` / ``close`` / ``abort``).
"""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np

from ..errors import VideoError
from ..video.io.writers import EncodedWriter, pad_even

__all__ = ["WebMWriter"]


class WebMWriter(EncodedWriter):
    """VP9 (libvpx, realtime speed, constant quality) yuv420p in WebM; odd sizes padded by 1 px."""

    def __init__(self, path: str | os.PathLike, *, fps: Fraction | None, time_base: Fraction, crf: int = 34) -> None:
        super().__init__(path, "webm")
        self._fps, self._tb, self._crf = fps or Fraction(25), time_base, crf

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one ``HxWx3`` uint8 RGB frame at ``pts`` (input time base)."""
        image = pad_even(image)
        try:
            if self._stream is None:
                opts = {"deadline": "realtime", "cpu-used": "8", "crf": str(self._crf), "b": "0", "row-mt": "1"}
                s = self._out.add_stream("libvpx-vp9", rate=self._fps, options=opts)
                s.width, s.height, s.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
                s.codec_context.time_base = self._tb
                self._stream = s
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = pts, self._tb
            self._out.mux(self._stream.encode(frame))
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot write {self.path}: {exc}") from None
        self.frames += 1
