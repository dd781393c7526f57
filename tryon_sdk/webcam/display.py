"""Webcam demo output: the window, the recording of what is shown, and the on-screen readout."""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import VideoError

__all__ = ["Window", "Recorder", "draw_hud", "has_display"]


def has_display() -> bool:
    """Whether a window can plausibly open (Linux/BSD need an X11 or Wayland display)."""
    if sys.platform.startswith(("linux", "freebsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Window:
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


class Recorder:
    """H.264 file of the shown frames at their capture times, renamed into place when complete."""

    def __init__(self, path: Path, fps: float | None) -> None:
        from ..outputs import PendingSink
        from ..video.io.writers import H264Writer

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


def draw_hud(image: np.ndarray, lines: list[str]) -> None:
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
