"""One input of a batch job, start to finish: parse it, write its outputs atomically, return its record.

The same function runs in this process, in a local worker process and in a Ray actor. Outputs appear
complete or not at all: the ``parse`` layout writes the input's whole folder under a hidden temporary
name beside its final place (``OUT/a/.b.partial-<pid>-<hex>.jpg/``) with the ``tryon-sdk parse`` job
(:func:`tryon_sdk.video.jobs.pipeline.run_pipeline`) and renames it into place; the try-on layouts write each
file under a temporary name and rename them once all are written (:mod:`tryon_sdk.batch.layouts`).
Any failure of one input (an unreadable or truncated file, a decoder error) becomes a ``failed`` record
with the reason, and the job goes on; only ``KeyboardInterrupt`` and the like stop it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TryOnError
from ..outputs import PendingOutput
from .manifest import RECORD_NAME, Record
from .options import Job
from .sources import BatchInput

if TYPE_CHECKING:
    from ..parser import Parser

__all__ = ["Job", "process", "failed_record", "remove_partials", "flat_outputs"]

#: hidden temporary names of :class:`~tryon_sdk.outputs.PendingOutput` (a killed run leaves them behind)
_PARTIAL = re.compile(r"\..+\.(partial-\d+-[0-9a-f]{6}(\.[^/]*)?|old-[0-9a-f]{6})")


def error_line(exc: BaseException) -> str:
    """One line saying why: the message of our own errors, ``Type: message`` for anything else."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, TryOnError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None


def failed_record(item: BatchInput, job: Job, error: str, seconds: float = 0.0) -> Record:
    st = _stat(item.path)
    return Record(
        path=str(item.path), status="failed", rel=item.rel, error=error, seconds=round(seconds, 4), fingerprint=job.fingerprint,
        size=st.st_size if st else None, mtime_ns=st.st_mtime_ns if st else None,
    )  # fmt: skip


def flat_outputs(names: Any) -> list[str]:
    """The file names in a summary's ``outputs`` (nested dicts of names), sorted."""
    if isinstance(names, str):
        return [names]
    if isinstance(names, dict):
        return sorted({n for v in names.values() for n in flat_outputs(v)})
    return []


def process(parser: Parser, item: BatchInput, job: Job) -> Record:
    """Parse ``item`` and put its outputs in place; a ``failed`` record when that cannot be done."""
    t0 = time.perf_counter()
    st = _stat(item.path)
    if st is None:
        return failed_record(item, job, f"{item.path}: no such file")
    if not item.path.is_file():
        return failed_record(item, job, f"{item.path}: not a file")
    record = Record(path=str(item.path), status="ok", rel=item.rel, fingerprint=job.fingerprint, size=st.st_size, mtime_ns=st.st_mtime_ns)
    try:
        if job.options.layout == "parse":
            record = _parse_layout(parser, item, job, record)
        else:
            from .layouts import write_layout

            record = write_layout(parser, item, job, record)
    except Exception as exc:  # noqa: BLE001 - one bad input is recorded, the others go on
        return failed_record(item, job, error_line(exc), time.perf_counter() - t0)
    record.seconds = round(time.perf_counter() - t0, 4)
    return record


def _parse_layout(parser: Parser, item: BatchInput, job: Job, record: Record) -> Record:
    from ..video.jobs.pipeline import run_pipeline

    final = job.out / item.rel
    final.parent.mkdir(parents=True, exist_ok=True)
    pending = PendingOutput(final, is_dir=True)
    try:
        # the folder is new, so nothing in it can be an earlier complete result
        summary = run_pipeline(parser, item.path, pending.tmp, replace(job.options.pipeline, progress=False, overwrite=True))
        names = flat_outputs(summary.get("outputs", {}))
        record.outputs = [f"{item.rel}/{n}" for n in names]
        record.frames = int(summary.get("frames_processed") or 0)
        record.truncated = bool(summary.get("truncated"))
        (pending.tmp / RECORD_NAME).write_text(json.dumps({**record.__dict__}) + "\n")
        if final.exists() and not final.is_dir():
            final.unlink()
        pending.commit()
    except BaseException:
        pending.discard()
        raise
    return record


def remove_partials(out: Path) -> list[Path]:
    """Remove the temporary outputs a killed run left under ``out``; returns what was removed."""
    removed = []
    for root, dirs, files in os.walk(out):
        here = Path(root)
        for name in list(dirs):
            if _PARTIAL.fullmatch(name):
                shutil.rmtree(here / name, ignore_errors=True)
                dirs.remove(name)
                removed.append(here / name)
        for name in files:
            if _PARTIAL.fullmatch(name):
                (here / name).unlink(missing_ok=True)
                removed.append(here / name)
    return removed
