"""Putting a finished run's outputs in place: all at once, never a partial result over a complete one.

Outputs are written under hidden temporary names (:mod:`tryon_sdk.outputs`) and
renamed into place only once every one of them is complete; on an error or
Ctrl-C they are removed and older outputs are left as they were. Outputs of
ours that an earlier run left in the folder and this run did not write (an
``overlay.mp4`` beside a new ``overlay/``) are removed once this run is
committed and listed in the summary's ``stale_removed``. A partial result (an
incomplete video) goes to ``<outdir>/incomplete/`` when the folder holds a
complete earlier one, unless ``overwrite``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ...errors import VideoError
from ...outputs import OutputGroup, atomic_path
from .options import INCOMPLETE_DIR
from .summary import Summary, summary_json

__all__ = ["RunOutputs", "prepare_output_dir", "commit_run"]

#: names our runs give their outputs (besides the compositor-named overlay, found via the summary)
_OUR_NAMES = re.compile(
    r"(overlay|labels)(\.(mp4|mkv|png))?|alpha_[A-Za-z0-9_-]+(\.(mkv|png))?|summary\.json|" + re.escape(INCOMPLETE_DIR)
)


class RunOutputs(OutputGroup):
    """The sinks of one run and their pending files (commit all or discard all), and their names for the summary."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, Any] = {}


def prepare_output_dir(outdir: str | os.PathLike) -> Path:
    """Create ``outdir`` if needed and check that files can be written there (:class:`VideoError` if not)."""
    p = Path(outdir)
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tryon-write-test-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise VideoError(f"cannot write to output folder {p}: {exc.strerror or exc}") from None
    return p


def _read_summary(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _flat_names(outputs: Any) -> set[str]:
    if isinstance(outputs, str):
        return {outputs}
    if isinstance(outputs, dict):
        return set().union(*(_flat_names(v) for v in outputs.values())) if outputs else set()
    if isinstance(outputs, (list, tuple)):
        return set().union(*(_flat_names(v) for v in outputs)) if outputs else set()
    return set()


def _holds_complete_result(out: Path, files: RunOutputs) -> bool:
    """Does ``out`` hold an earlier result that an incomplete one must not replace?"""
    earlier = _read_summary(out)
    if earlier is not None:
        return not earlier.get("truncated", False)
    # outputs without a summary: their state is unknown, so they count as complete
    return any(p.final.exists() for p in files.pending)


def _remove_stale(folder: Path, keep: set[str], previous: dict[str, Any] | None, source: Path) -> list[str]:
    """Remove our outputs in ``folder`` that this run did not write; returns their names."""
    names = _flat_names(previous.get("outputs")) if previous else set()
    try:
        names |= {e.name for e in folder.iterdir() if _OUR_NAMES.fullmatch(e.name)}
    except OSError:
        return []
    removed = []
    for name in sorted(names - keep):
        path = folder / name
        if "/" in name or name in ("", ".", "..") or not (path.exists() or path.is_symlink()):
            continue
        if path.resolve() == source.resolve() or source.resolve().is_relative_to(path.resolve()):
            continue  # never the input
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(name)
        except OSError:
            continue
    return removed


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(summary_json(data))
    except OSError as exc:
        raise VideoError(f"cannot write {path}: {exc.strerror or exc}") from None


def commit_run(out: Path, files: RunOutputs, summary: Summary, *, write_summary: bool, overwrite: bool, source: Path) -> dict[str, Any]:
    """Rename the finished outputs into place (or beside an earlier complete result), tidy, write the summary.

    Returns the summary as a dict; on a failure the files not yet in place are discarded.
    """
    try:
        target = out
        if summary.truncated and not overwrite and _holds_complete_result(out, files):
            target = out / INCOMPLETE_DIR
            files.retarget(target)
        previous = _read_summary(target)
        files.commit()
        keep = _flat_names(files.names) | ({"summary.json"} if write_summary else set())
        if target == out and summary.truncated:
            keep.add(INCOMPLETE_DIR)  # an older partial result beside this partial one is no worse than it
        summary.output_dir = str(target)
        summary.outputs = files.names | ({"summary": "summary.json"} if write_summary else {})
        summary.stale_removed = _remove_stale(target, keep, previous, source)
        data = summary.to_dict()
        if write_summary:
            _write_json_atomic(target / "summary.json", data)
        return data
    except BaseException:
        files.discard()
        raise
