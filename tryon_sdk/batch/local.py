"""Local execution: this process (one worker) or a pool of worker processes, each with its own parser.

Workers are started with ``spawn`` (a forked torch or ONNX Runtime is not safe to use), load their
parser once, and share the cores: each gets :func:`~tryon_sdk.threads.worker_threads` threads
(:func:`~tryon_sdk.threads.limit_threads`). At most two inputs per worker are in flight, so a Ctrl-C
stops the job quickly. A worker that dies (a decoder crashing the process) fails the inputs it was
working on; the pool is restarted and the job goes on.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Iterator, Sequence

from ..errors import TryOnError
from ..threads import limit_threads, worker_threads
from .manifest import Record
from .options import ModelSpec
from .sources import BatchInput
from .work import Job, failed_record, process

if TYPE_CHECKING:
    from ..parser import Parser

__all__ = ["run_local", "FatalWorkerError"]


class FatalWorkerError(TryOnError):
    """A worker could not start (its parser would not load): the whole job stops with this message."""


_STATE: dict[str, object] = {}


def _init_worker(spec: ModelSpec, job: Job, threads: int) -> None:
    limit_threads(threads)
    _STATE["job"] = job
    try:
        _STATE["parser"] = spec.load()
    except Exception as exc:  # noqa: BLE001 - reported by every task of this worker
        _STATE["error"] = f"{type(exc).__name__}: {exc}" if not isinstance(exc, TryOnError) else str(exc)


def _task(item: BatchInput) -> Record | str:
    if "error" in _STATE:
        return str(_STATE["error"])
    return process(_STATE["parser"], item, _STATE["job"])  # type: ignore[arg-type]


def run_local(items: Sequence[BatchInput], spec: ModelSpec, job: Job, workers: int, threads: int | None = None) -> Iterator[Record]:
    """Records of ``items`` in the order they finish (one worker: in this process, in order)."""
    if not items:
        return
    if workers <= 1:
        if threads:
            limit_threads(threads)
        parser: Parser = spec.load()
        for item in items:
            yield process(parser, item, job)
        return
    threads = threads or worker_threads(workers)
    pending = list(reversed(items))
    while pending:
        yield from _run_pool(pending, spec, job, workers, threads)


def _run_pool(pending: list[BatchInput], spec: ModelSpec, job: Job, workers: int, threads: int) -> Iterator[Record]:
    """Run ``pending`` (popped from its end) until it is empty or the pool breaks."""
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(spec, job, threads))
    running: dict[Future, BatchInput] = {}
    try:
        while pending or running:
            while pending and len(running) < 2 * workers:
                item = pending.pop()
                running[pool.submit(_task, item)] = item
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                item = running.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    # a worker died: fail what was in flight, start a new pool for the rest
                    for other in [item, *running.values()]:
                        yield failed_record(other, job, "the worker process died while parsing it (crash or out of memory)")
                    running.clear()
                    return
                if isinstance(result, str):
                    raise FatalWorkerError(f"a worker could not load the model: {result}")
                yield result
    finally:
        for fut in running:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
