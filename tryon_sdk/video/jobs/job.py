"""The loop of a video job: ``source -> stages -> sink``, each stage in its own thread.

Modelled on supervision's ``utils/video.py``: a stage is a generator function
``Iterable[In] -> Iterator[Out]`` that owns its state and its timing; stages are
connected by bounded, blocking :class:`Channel` s (no polling) and the last
stage runs on the calling thread. :func:`run_stages` is the one place that
starts, feeds, stops and joins the threads, and has one error channel: the
first failure of any stage cancels every channel, every other stage stops at
its next wait, and the failure is raised in the caller's thread once they have.
A ``KeyboardInterrupt`` (Ctrl-C) reaches the calling thread wherever it is
waiting and stops the job the same way.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Callable, Generic, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")

__all__ = ["Channel", "Cancelled", "Stage", "batched", "run_stages", "HeapTrimmer"]

#: a stage: items in, items out (a generator function holding the stage's state)
Stage = Callable[[Iterable], Iterator]


class Cancelled(Exception):
    """Raised in a stage that waits on a channel of a job that is being stopped."""


class Channel(Generic[T]):
    """A bounded blocking queue between two stages; :meth:`close` ends it, :meth:`cancel` aborts it.

    Iterating yields the items until the channel is closed and empty; a put on a full channel
    and a get on an empty one block (no timeouts) until there is room / an item, or until the
    channel is cancelled, which makes both raise :class:`Cancelled`.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = max(1, int(maxsize))
        self._items: deque[T] = deque()
        self._cv = threading.Condition()
        self._closed = self._cancelled = False

    def put(self, item: T) -> None:
        """Add ``item``, waiting while the channel is full; returns at once once the job is cancelled."""
        with self._cv:
            while len(self._items) >= self.maxsize and not self._cancelled:
                self._cv.wait()
            if self._cancelled:
                raise Cancelled
            self._items.append(item)
            self._cv.notify_all()

    def close(self) -> None:
        """No more items: readers end once they have taken the ones waiting."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def cancel(self) -> None:
        """Drop the waiting items and wake every waiting stage with :class:`Cancelled`."""
        with self._cv:
            self._cancelled = True
            self._items.clear()
            self._cv.notify_all()

    def __iter__(self) -> Iterator[T]:
        while True:
            with self._cv:
                while not self._items and not self._closed and not self._cancelled:
                    self._cv.wait()
                if self._cancelled:
                    raise Cancelled
                if not self._items:
                    return
                item = self._items.popleft()
                self._cv.notify_all()
            yield item


def batched(items: Iterable[T], limit: Callable[[T], int]) -> Iterator[list[T]]:
    """Group consecutive ``items`` into lists: a batch holds ``limit(first item)`` items at most (>= 1).

    The limit is taken from each batch's first item, so a batch fits that item's size even when the
    size changes mid-stream; the last batch may be shorter.
    """
    batch: list[T] = []
    most = 1
    for item in items:
        if not batch:
            most = max(1, limit(item))
        batch.append(item)
        if len(batch) >= most:
            yield batch
            batch = []
    if batch:
        yield batch


class _Failure:
    """The job's one error channel: the first exception of any stage, then every channel cancelled."""

    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = channels
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def report(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.stop()

    def stop(self) -> None:
        for ch in self.channels:
            ch.cancel()


def _pump(stage: Stage, inbox: Iterable, outbox: Channel, failure: _Failure) -> None:
    """A stage thread: ``stage(inbox)`` into ``outbox``, then close it; any failure goes to ``failure``."""
    out = stage(inbox)
    try:
        for item in out:
            outbox.put(item)
        outbox.close()
    except Cancelled:
        pass
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread by run_stages
        failure.report(exc)
    finally:
        close = getattr(out, "close", None)  # a generator: its finally blocks run in this thread
        if close is not None:
            close()


def run_stages(source: Iterable, stages: Sequence[Stage], depths: Sequence[int], name: str = "tryon") -> None:
    """Run ``source -> stages[0] -> ... -> stages[-1]``; the last stage runs on this thread.

    ``source`` is iterated in a thread of its own (a generator, e.g. a video decoder, is created and
    closed there); ``depths[i]`` bounds the channel into ``stages[i]`` (``len(depths) == len(stages)``).
    Whatever the last stage yields is dropped: it is the sink. Raises the first failure of any stage,
    or ``KeyboardInterrupt``, once every thread has stopped.
    """
    if len(depths) != len(stages):
        raise ValueError(f"{len(stages)} stages but {len(depths)} channel depths")
    channels = [Channel(d) for d in depths]
    failure = _Failure(channels)
    producers: list[Stage] = [lambda _: iter(source)] + list(stages[:-1])
    inboxes: list[Iterable] = [()] + channels[:-1]
    threads = [
        threading.Thread(target=_pump, args=(stage, inbox, out, failure), name=f"{name}-{i}", daemon=True)
        for i, (stage, inbox, out) in enumerate(zip(producers, inboxes, channels))
    ]
    sink = stages[-1](channels[-1])
    try:
        for t in threads:
            t.start()
        for _ in sink:
            pass
    except Cancelled:
        pass  # a stage failed: its error is raised below
    except BaseException as exc:  # Ctrl-C or the sink's own failure: stop the others
        failure.report(exc)
    finally:
        close = getattr(sink, "close", None)
        if close is not None:
            close()
        failure.stop()
        for t in threads:
            t.join()
    if failure.error is not None:
        raise failure.error


class HeapTrimmer:
    """Hands freed heap memory back to the OS at most once per ``interval_s`` (glibc only; else a no-op).

    Each frame allocates and frees tens of MB (full-size probabilities) in several
    threads; glibc keeps much of it, and its dynamic mmap threshold lets the
    process grow by ~1 GB over a few hundred frames. ``malloc_trim`` keeps it flat
    (it costs tens of ms on a large heap, hence the interval).
    """

    def __init__(self, interval_s: float = 1.0) -> None:
        self.interval_s = interval_s
        self._last = time.monotonic()
        self._trim = None
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                self._trim = ctypes.CDLL(None).malloc_trim
            except (OSError, AttributeError):  # musl and others
                self._trim = None

    def __call__(self) -> None:
        if self._trim is not None and time.monotonic() - self._last >= self.interval_s:
            self._trim(0)
            self._last = time.monotonic()
