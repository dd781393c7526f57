"""Which files a batch job parses, and where each one's outputs go.

A source (``SRC``) is one of:

* a folder: every image and video under it, recursively (hidden files and folders skipped);
* a glob (``photos/*.jpg``, ``data/**/*.mp4``): the files it matches;
* an image or video file;
* a text file of paths, one a line (blank lines and ``#`` comments skipped; relative paths are
  relative to the list's folder). A listed path that does not exist is kept, so that the job
  records it as failed instead of stopping.

Each input's outputs go to a folder named after its path relative to its source: ``SRC/a/b.jpg`` ->
``OUT/a/b.jpg/`` (the suffix is kept, so ``clip.mp4`` and ``clip.jpg`` do not collide). The base of a
glob is its leading part without wildcards; a listed file's is the list's folder when the file lies
under it, else the file's own folder; a file given directly is named by its file name.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import ConfigError, InputError
from ..video.io.reader import IMAGE_SUFFIXES

__all__ = ["VIDEO_SUFFIXES", "BatchInput", "discover", "is_media_path"]

#: Video files a folder or glob source picks up (any file can still be listed in a text file).
VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".ts"})
_GLOB_CHARS = set("*?[")


def is_media_path(path: str | os.PathLike) -> bool:
    """An image or video file name (by suffix)."""
    suffix = Path(path).suffix.lower()
    return suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES


@dataclass(frozen=True)
class BatchInput:
    """One file of a batch job.

    Attributes:
        path: the file (absolute).
        rel: its path relative to its source, ``/``-separated: the name of its output folder under ``OUT``.
        kind: ``"image"`` or ``"video"`` (by suffix; anything not an image is tried as a video).
    """

    path: Path
    rel: str

    @property
    def kind(self) -> str:
        return "image" if self.path.suffix.lower() in IMAGE_SUFFIXES else "video"

    def to_json(self) -> dict[str, str]:
        return {"path": str(self.path), "rel": self.rel}


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _walk(folder: Path, skip: Path | None) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (skip is None or (here / d).resolve() != skip))
        for name in sorted(files):
            if not name.startswith(".") and is_media_path(name):
                yield here / name


def _glob_base(pattern: str) -> Path:
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _rel(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.name


def _read_list(list_file: Path) -> list[BatchInput]:
    try:
        text = list_file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the list of inputs {list_file}: {getattr(exc, 'strerror', None) or exc}") from None
    base = list_file.parent
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        p = p if p.is_absolute() else base / p
        found.append(BatchInput(p.resolve(), _rel(p, base)))
    return found


def _expand(src: str | os.PathLike, skip: Path | None) -> list[BatchInput]:
    text = os.fspath(src)
    path = Path(text).expanduser()
    if path.is_dir():
        return sorted((BatchInput(p.resolve(), _rel(p, path)) for p in _walk(path, skip)), key=lambda i: i.rel)
    if path.is_file():
        if is_media_path(path):
            return [BatchInput(path.resolve(), path.name)]
        return _read_list(path)
    if _GLOB_CHARS & set(text):
        base = _glob_base(text)
        matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(text), recursive=True))
        files = [m for m in matches if m.is_file() and not _hidden(Path(_rel(m, base))) and (skip is None or skip not in m.resolve().parents)]
        if not files:
            raise InputError(f"{text}: the pattern matches no files")
        return [BatchInput(m.resolve(), _rel(m, base)) for m in files]
    raise InputError(f"{text}: no such file, folder or pattern")


def discover(sources: Sequence[str | os.PathLike], output: str | os.PathLike | None = None) -> list[BatchInput]:
    """Every input of ``sources`` in order (duplicates dropped), never anything under ``output``.

    Raises :class:`InputError` for a source that does not exist or matches nothing, and
    :class:`ConfigError` when two inputs would write to the same output folder.
    """
    if not sources:
        raise ConfigError("no sources given")
    skip = Path(output).resolve() if output is not None else None
    seen: set[Path] = set()
    by_rel: dict[str, Path] = {}
    out: list[BatchInput] = []
    for src in sources:
        for item in _expand(src, skip):
            if item.path in seen or (skip is not None and skip in item.path.parents):
                continue
            if item.rel in by_rel:
                raise ConfigError(
                    f"{by_rel[item.rel]} and {item.path} would both write to {item.rel!r}: "
                    "give their common parent folder as the source, or run them into different output folders"
                )
            seen.add(item.path)
            by_rel[item.rel] = item.path
            out.append(item)
    return out
