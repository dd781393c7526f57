"""``OUT/manifest.jsonl``: one JSON line per input of the latest run, and what makes an input done.

Each line is a :class:`Record`. A run starts a new manifest (written whole under a temporary name,
then renamed) holding a ``skipped`` line for every input found complete, then appends one line per
input as it finishes (one ``write`` each, flushed and synced), so a killed run leaves a manifest of
what it finished; a torn last line is ignored when the manifest is read back.

An input is **complete** when a record says ``ok`` (or ``skipped``) for it with this job's
fingerprint (outputs, options, model, layout), the input file has the size and modification time
the record saw, and every output the record lists exists. The record comes from the manifest, or,
for an input whose line a killed run did not get to write, from the ``.tryon-batch.json`` that is
renamed into place with its output folder (the folder and its record appear together or not at all).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable

from ..errors import VideoError
from ..outputs import atomic_path

__all__ = ["Record", "MANIFEST_NAME", "RECORD_NAME", "STATUSES", "fingerprint", "read_manifest", "read_record", "ManifestWriter", "is_complete"]

MANIFEST_NAME = "manifest.jsonl"
#: the record kept inside each input's output folder (parse layout)
RECORD_NAME = ".tryon-batch.json"
STATUSES: tuple[str, ...] = ("ok", "failed", "skipped")


@dataclass
class Record:
    """One input's line in the manifest.

    Attributes:
        path: the input file (absolute).
        status: ``ok`` (parsed now), ``skipped`` (complete from an earlier run), ``failed``.
        outputs: the files and folders written for it, relative to ``OUT``.
        frames: frames parsed (1 for an image).
        seconds: wall time spent on it in this run.
        error: why it failed (one line), else ``None``.
        rel: its name under ``OUT`` (its path relative to its source).
        truncated: a video that ended before what its container promised (parsed as far as it went).
        fingerprint: the job's settings (see :func:`fingerprint`); size, mtime_ns: the input file's.
    """

    path: str
    status: str
    outputs: list[str] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None
    rel: str = ""
    truncated: bool = False
    fingerprint: str = ""
    size: int | None = None
    mtime_ns: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def as_skipped(self) -> Record:
        """This (complete) record, marked ``skipped`` for a run that did nothing to it."""
        return Record(**{**asdict(self), "status": "skipped", "seconds": 0.0, "error": None})


def fingerprint(settings: dict[str, Any]) -> str:
    """A short stable hash of the job settings that change what is written (JSON-able dict)."""
    blob = json.dumps(settings, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _records(lines: Iterable[str]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for line in lines:
        try:
            d = json.loads(line)
            rec = Record.from_dict(d)
        except (ValueError, TypeError):
            continue  # a line torn by a killed run
        if rec.status in STATUSES and rec.path:
            out[rec.path] = rec
    return out


def read_manifest(path: Path) -> dict[str, Record]:
    """``input path -> its last record`` (empty when there is no manifest)."""
    try:
        with open(path, encoding="utf-8") as f:
            return _records(f)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise VideoError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_record(folder: Path) -> Record | None:
    """The record renamed into place with an output folder, or ``None``."""
    try:
        return Record.from_dict(json.loads((folder / RECORD_NAME).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def is_complete(record: Record | None, out: Path, fp: str, stat: os.stat_result | None) -> bool:
    """Does ``record`` show a finished input whose outputs are all in ``out`` (see the module docstring)?"""
    if record is None or record.status not in ("ok", "skipped") or record.fingerprint != fp or stat is None:
        return False
    if record.size != stat.st_size or record.mtime_ns != stat.st_mtime_ns:
        return False
    return bool(record.outputs) and all((out / o).exists() for o in record.outputs)


class ManifestWriter:
    """Starts a run's manifest with ``initial`` records, then appends one line per finished input."""

    def __init__(self, path: Path, initial: Iterable[Record] = ()) -> None:
        self.path = path
        try:
            with atomic_path(path) as tmp:
                tmp.write_text("".join(r.to_json() + "\n" for r in initial))
            self._f: IO[str] | None = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise VideoError(f"cannot write {path}: {exc.strerror or exc}") from None

    def append(self, record: Record) -> None:
        assert self._f is not None
        try:
            self._f.write(record.to_json() + "\n")
            self._f.flush()
            os.fsync(self._f.fileno())
        except OSError as exc:
            raise VideoError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self) -> ManifestWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
