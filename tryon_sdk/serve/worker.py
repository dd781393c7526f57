"""The one thread that uses the model: every parse of every request and job is queued on it.

A :class:`~tryon_sdk.parser.Parser` is loaded once and shared; it is not made for
concurrent calls, and on a few CPU cores running two parses at once would only make
both slower. Requests therefore hand their work to :class:`ParseWorker`, a single
worker thread, and wait for it (``await worker.call(fn, ...)``), first come first
served; video jobs hand it one batch of frames at a time, so a photo uploaded during
a long video waits for one batch, not for the whole video.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from ..parser import Parser

__all__ = ["ParseWorker"]

T = TypeVar("T")


class ParseWorker:
    """The shared parser and the single thread that runs everything that touches it."""

    def __init__(self, parser: "Parser") -> None:
        self.parser = parser
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tryon-serve-parse")

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> "Future[T]":
        """Queue ``fn(*args, **kwargs)`` on the worker thread (from any thread)."""
        return self._pool.submit(fn, *args, **kwargs)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Queue ``fn`` and wait for its result (from a thread other than the worker's)."""
        return self.submit(fn, *args, **kwargs).result()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Queue ``fn`` and await its result (from the event loop)."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def close(self) -> None:
        """Finish the queued work and stop the thread."""
        self._pool.shutdown(wait=True, cancel_futures=True)
