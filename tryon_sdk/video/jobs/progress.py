"""Progress of a job on stderr: a tqdm bar on a terminal, else a plain line every 10 s (frames, or any ``unit``)."""

from __future__ import annotations

import sys
import time
from typing import Protocol

__all__ = ["Progress", "progress"]


class Progress(Protocol):
    """What a job reports its progress to: :func:`progress` gives a bar, plain lines or nothing."""

    def update(self, n: int) -> None:
        """Count ``n`` more frames done."""

    def finish(self) -> None:
        """The job finished: show the final count."""

    def close(self) -> None:
        """Release the display (called whether or not the job finished)."""


class LineProgress:
    """Progress as plain lines on stderr (logs, pipes): one every ``every_s`` seconds, one at the end."""

    clock = staticmethod(time.monotonic)

    def __init__(self, total: int | None, desc: str, every_s: float = 10.0, unit: str = "frame") -> None:
        self.total, self.desc, self.every_s, self.unit = total, desc, every_s, unit
        self.n = 0
        self._t0 = self._last = self.clock()

    def update(self, n: int) -> None:
        self.n += n
        now = self.clock()
        if now - self._last >= self.every_s:
            self._last = now
            self._line(now)

    def _line(self, now: float, done: bool = False) -> None:
        elapsed = now - self._t0
        fps = self.n / elapsed if elapsed > 0 else 0.0
        if done:
            text = f"{self.desc}: done, {self.n} {self.unit}s in {elapsed:.1f} s ({self._rate(fps)})"
        elif self.total:
            left = (self.total - self.n) / fps if fps > 0 else float("nan")
            text = (
                f"{self.desc}: {self.n}/{self.total} {self.unit}s ({100 * self.n / self.total:.0f}%), "
                f"{self._rate(fps)}, about {left:.0f} s left"
            )
        else:
            text = f"{self.desc}: {self.n} {self.unit}s, {self._rate(fps)}"
        print(text, file=sys.stderr, flush=True)

    def _rate(self, per_s: float) -> str:
        return f"{per_s:.1f} fps" if self.unit == "frame" else f"{per_s:.2f} {self.unit}s/s"

    def finish(self) -> None:
        self._line(self.clock(), done=True)

    def close(self) -> None:
        pass


class BarProgress:
    """A tqdm bar on stderr (removed when done)."""

    def __init__(self, total: int | None, desc: str, unit: str = "frame") -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)

    def update(self, n: int) -> None:
        self._bar.update(n)

    def finish(self) -> None:
        pass

    def close(self) -> None:
        self._bar.close()


class NoProgress:
    def update(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


def progress(mode: bool | str | None, total: int | None, desc: str, *, unit: str = "frame", every_s: float = 10.0) -> Progress:
    """``True``: a bar on a terminal, lines (one every ``every_s``) otherwise; ``"bar"`` / ``"lines"``;
    ``False``/``None``: nothing. ``unit`` names what is counted."""
    if not mode:
        return NoProgress()
    if mode is True:
        mode = "bar" if sys.stderr.isatty() else "lines"
    return BarProgress(total, desc, unit) if mode == "bar" else LineProgress(total, desc, every_s, unit)
