"""Outputs that appear complete or not at all.

Every file or folder the SDK writes (checkpoints, ONNX models, caches, videos,
summaries) is written under a hidden temporary name in the same folder and
renamed into place only once it is complete; on an error or Ctrl-C the
temporary is removed and an older output is left as it was.

* :func:`atomic_path` - the context manager for one output::

      with atomic_path(folder / "model.onnx") as tmp:
          torch.onnx.export(..., tmp)

* :class:`PendingOutput` - the same as an object, for several outputs that are
  committed together (the video pipeline).
* :class:`FrameSink` - what every frame writer implements (``write`` /
  ``close`` / ``abort``); :class:`PendingSink` is a sink that writes under a
  temporary name and renames on ``close``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Generic, Iterator, Protocol, TypeVar, runtime_checkable

import numpy as np

__all__ = ["file_mode", "atomic_path", "PendingOutput", "FrameSink", "PendingSink", "OutputGroup"]


def file_mode() -> int:
    """The mode ``open()`` gives a new file in this process: ``0o666`` less the umask (``0o644`` under 022)."""
    umask = None
    try:  # Linux >= 4.7 reports it without changing it (os.umask would, racing other threads)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
                break
    except (OSError, ValueError):
        pass
    if umask is None:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


class PendingOutput:
    """A file or folder written under a hidden temporary name next to ``final``.

    ``commit()`` renames it into place (replacing an older output only now; a
    file gets the mode of any new file, see :func:`file_mode`); ``discard()``
    removes it. Temporary names look like ``.overlay.partial-<pid>-<hex>.mp4``
    (the suffix is kept, so writers that pick a format by suffix still do).
    """

    def __init__(self, final: str | os.PathLike, *, is_dir: bool = False) -> None:
        self.final = Path(final)
        self.is_dir = is_dir
        token = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.tmp = self.final.with_name(f".{self.final.stem}.partial-{token}{self.final.suffix}")
        if is_dir:
            self.tmp.mkdir()

    def commit(self) -> Path:
        """Move the finished temporary file (or folder) to its final name and return that path."""
        if self.is_dir and self.final.is_dir():
            old = self.final.with_name(f".{self.final.name}.old-{secrets.token_hex(3)}")
            os.replace(self.final, old)
            os.replace(self.tmp, self.final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if not self.is_dir:
                os.chmod(self.tmp, file_mode())  # some writers create 0600 files; outputs are shared like any other
            os.replace(self.tmp, self.final)
        return self.final

    def discard(self) -> None:
        """Remove the temporary file (or folder); the final name is left as it was. Never raises."""
        if self.is_dir:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            self.tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(final: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` when the block ends normally.

    On any exception (``KeyboardInterrupt`` included) the temporary is removed
    and the exception propagates; ``final`` is untouched. With ``is_dir`` the
    temporary is an empty folder to fill.
    """
    pending = PendingOutput(final, is_dir=is_dir)
    try:
        yield pending.tmp
    except BaseException:
        pending.discard()
        raise
    try:
        pending.commit()
    except BaseException:
        pending.discard()
        raise


@runtime_checkable
class FrameSink(Protocol):
    """Where frames go: ``write`` each, then ``close`` (complete) or ``abort`` (discard, never raises)."""

    def write(self, frame: np.ndarray, pts: int) -> None:
        """Write one frame (``HxWx3`` or ``HxW`` uint8) at presentation time ``pts``."""

    def close(self) -> None:
        """Finish the output: everything written is complete."""

    def abort(self) -> None:
        """Stop and discard what was written; never raises."""


S = TypeVar("S", bound=FrameSink)


class PendingSink(Generic[S]):
    """A :class:`FrameSink` writing to a temporary name; ``close`` finishes it and renames it to ``final``.

    ``open_sink`` builds the real writer on the temporary path. As a context
    manager it closes on success and aborts on an exception.
    """

    def __init__(self, final: str | os.PathLike, open_sink: Callable[[Path], S]) -> None:
        self.pending = PendingOutput(final)
        try:
            self.sink: S = open_sink(self.pending.tmp)
        except BaseException:
            self.pending.discard()
            raise
        self.frames = 0

    @property
    def final(self) -> Path:
        return self.pending.final

    def write(self, frame: np.ndarray, pts: int) -> None:
        """Write one frame to the underlying writer (on the temporary name)."""
        self.sink.write(frame, pts)
        self.frames += 1

    def close(self) -> None:
        """Close the writer and rename its file to the final name."""
        try:
            self.sink.close()
            self.pending.commit()
        except BaseException:
            self.pending.discard()
            raise

    def abort(self) -> None:
        """Abort the writer and remove its temporary file; never raises."""
        self.sink.abort()
        self.pending.discard()

    def __enter__(self) -> PendingSink[S]:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class OutputGroup:
    """Several pending outputs and the sinks writing them: commit all or discard all."""

    def __init__(self) -> None:
        self.pending: list[PendingOutput] = []
        self.sinks: list[FrameSink] = []

    def add(self, pending: PendingOutput, sink: FrameSink | None = None) -> PendingOutput:
        """Register a pending output (and the sink writing it); returns ``pending``."""
        self.pending.append(pending)
        if sink is not None:
            self.sinks.append(sink)
        return pending

    def close(self) -> None:
        """Finish every sink (the files are complete but still under their temporary names)."""
        for s in self.sinks:
            s.close()

    def retarget(self, folder: Path) -> None:
        """Commit into ``folder`` (created if missing) instead of beside each output's first target."""
        folder.mkdir(exist_ok=True)
        for p in self.pending:
            p.final = folder / p.final.name

    def commit(self) -> None:
        """Rename every registered output to its final name (after every sink has closed)."""
        for p in self.pending:
            p.commit()

    def discard(self) -> None:
        """Abort every sink and remove every registered output's temporary file; never raises."""
        for s in self.sinks:
            s.abort()
        for p in self.pending:
            p.discard()
