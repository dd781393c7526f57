"""The driver of a batch job: find the inputs, skip the complete ones, run the rest, keep the manifest."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import ConfigError
from ..threads import usable_cores
from ..video.jobs.commit import prepare_output_dir
from ..video.jobs.progress import progress
from .manifest import MANIFEST_NAME, ManifestWriter, Record, fingerprint, is_complete, read_manifest, read_record
from .options import BatchOptions, default_workers
from .sources import BatchInput, discover
from .work import Job, remove_partials

__all__ = ["BatchReport", "run"]

LOCK_NAME = ".tryon-batch.lock"


@dataclass
class BatchReport:
    """What a run did: one record per input (skipped ones first, then in the order they finished)."""

    output: Path
    records: list[Record] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    executor: str = "local"

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    @property
    def ok(self) -> int:
        return self.count("ok")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def truncated(self) -> int:
        return sum(r.truncated and r.status != "failed" for r in self.records)

    def line(self) -> str:
        """The one-line summary: counts, time, rate and where the manifest is."""
        rate = f", {self.ok / self.seconds:.2f} inputs/s" if self.seconds > 0 and self.ok else ""
        trunc = f" ({self.truncated} truncated)" if self.truncated else ""
        return (
            f"{len(self.records)} input(s): {self.ok} ok{trunc}, {self.skipped} skipped, {self.failed} failed "
            f"in {self.seconds:.1f} s{rate} ({self.executor}, {self.workers} worker(s)) -> {self.output / MANIFEST_NAME}"
        )


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One batch job at a time per output folder (advisory lock; released when the process ends)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another batch job is writing to {out}; wait for it or use another output folder") from None
        yield
    finally:
        os.close(fd)


def _previous_record(item: BatchInput, manifest: dict[str, Record], options: BatchOptions, out: Path) -> Record | None:
    rec = manifest.get(str(item.path))
    if rec is None and options.layout == "parse":
        rec = read_record(out / item.rel)  # finished, but the killed run did not get to its manifest line
        if rec is not None and rec.path != str(item.path):
            rec = None
    return rec


def split_done(items: Sequence[BatchInput], out: Path, options: BatchOptions, fp: str) -> tuple[list[Record], list[BatchInput]]:
    """``(skipped records, inputs to do)``: an input is skipped when it is complete (see :mod:`.manifest`)."""
    manifest = read_manifest(out / MANIFEST_NAME)
    skipped, todo = [], []
    for item in items:
        rec = None if options.overwrite else _previous_record(item, manifest, options, out)
        try:
            st = item.path.stat()
        except OSError:
            st = None
        if rec is not None and is_complete(rec, out, fp, st):
            skipped.append(rec.as_skipped())
        else:
            todo.append(item)
    return skipped, todo


def run(sources: Sequence[str | os.PathLike], output: str | os.PathLike, options: BatchOptions | None = None) -> BatchReport:
    """Parse every input of ``sources`` into ``output`` (see :mod:`tryon_sdk.batch`); returns the report.

    Inputs that fail are recorded and the others go on; the report says how many. Raises
    :class:`~tryon_sdk.errors.TryOnError` only when the job as a whole cannot run (no inputs, bad
    options, an output folder that cannot be written, a model that does not load).
    """
    options = options or BatchOptions()
    options.validate()
    if options.ray is not None:
        from .ray_executor import import_ray

        import_ray()  # a missing extra is a one-line error before anything is written
    t0 = time.perf_counter()
    out = prepare_output_dir(output).resolve()
    fp = fingerprint(options.settings())
    with _locked(out):
        items = discover(sources, out)
        remove_partials(out)
        skipped, todo = split_done(items, out, options, fp)
        job = Job(out, options, fp)
        report = BatchReport(out, list(skipped))
        bar = progress(options.progress, len(items), "batch", unit="input", every_s=options.progress_every_s)
        bar.update(len(skipped))
        with ManifestWriter(out / MANIFEST_NAME, skipped) as manifest:
            try:
                if options.ray is not None:
                    from .ray_executor import run_ray

                    report.executor = "ray"
                    report.workers = options.workers or (max(1, usable_cores() // (options.threads or 1)) if options.ray == "local" else 0)
                    records = run_ray(
                        todo, options.model, job, options.ray, workers=options.workers, threads=options.threads,
                        gpus_per_worker=options.gpus_per_worker,
                    )  # fmt: skip
                else:
                    from .local import run_local

                    # never more workers than inputs left (a rerun with one input to retry parses it in this process)
                    report.workers = min(options.workers or default_workers(len(todo), str(options.model.engine.device)), max(1, len(todo)))
                    records = run_local(todo, options.model, job, report.workers, options.threads)
                for rec in records:
                    manifest.append(rec)
                    report.records.append(rec)
                    bar.update(1)
                bar.finish()
            finally:
                bar.close()
    report.seconds = time.perf_counter() - t0
    return report
