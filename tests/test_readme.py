"""Every ```python block of README.md and of the docs (``docs/**/*.md``) runs as written.

Each block runs on its own, in a scratch folder. A block that needs data makes it (e.g. with
:mod:`tryon_sdk.video.io.sample`) or uses the bundled real samples (:mod:`tryon_sdk.samples`).

Two markers, an HTML comment on the line right above the opening fence, are the only ways out
(``docs/contributing-docs.md`` documents them):

* ``<!-- snippet: needs-shared-data -->``: runs only where the project's shared data is
  (``$TRYON_SHARED_DATA`` or ``../shared/data``); skipped with that reason elsewhere.
* ``<!-- snippet: skip REASON -->``: never runs (slow, needs a GPU or a camera); the reason is shown.

README blocks carry no marker: every one of them runs. Whoever adds a python block keeps it runnable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
MARKER = re.compile(r"<!--\s*snippet:\s*(needs-shared-data|skip)\b\s*(.*?)\s*-->\s*$")


def python_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """``(first line number, code, marker)`` of each fenced block marked ``python``.

    ``marker`` is ``"needs-shared-data"``, ``"skip: REASON"`` or ``None`` (from the comment right above the fence).
    """
    blocks = []
    for m in re.finditer(r"^```python[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARKER.search(before)
        marker = None if mark is None else mark.group(1) if mark.group(1) != "skip" else f"skip: {mark.group(2) or 'no reason given'}"
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1), marker))
    return blocks


def shared_data_dir() -> Path:
    return Path(os.environ.get("TRYON_SHARED_DATA", REPO.parent / "shared" / "data"))


BLOCKS = python_blocks(README.read_text())
DOC_FILES = sorted(DOCS.rglob("*.md"))
DOC_BLOCKS = [(path.relative_to(REPO).as_posix(), *block) for path in DOC_FILES for block in python_blocks(path.read_text())]


def run_block(name: str, code: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # files a block writes land here, not in the checkout
    exec(compile(code, name, "exec"), {"__name__": "__readme__"})


def test_readme_has_python_blocks():
    # the README's three snippets: parse an image and take a region alpha, a video session, a compositor
    assert len(BLOCKS) >= 3
    assert all(marker is None for _, _, marker in BLOCKS)  # every README block runs, none is skipped


@pytest.mark.parametrize("line, code, marker", BLOCKS, ids=[f"README.md:{line}" for line, _, _ in BLOCKS])
def test_readme_block_runs(line, code, marker, tmp_path, monkeypatch):
    run_block(f"README.md:{line}", code, tmp_path, monkeypatch)


def test_most_docs_blocks_run():
    """The docs have snippets, and markers are the exception: at least three quarters run everywhere."""
    assert len(DOC_BLOCKS) >= 10
    unmarked = [b for b in DOC_BLOCKS if b[3] is None]
    assert len(unmarked) >= 0.75 * len(DOC_BLOCKS), [f"{p}:{line} {m}" for p, line, _, m in DOC_BLOCKS if m]


@pytest.mark.parametrize("path, line, code, marker", DOC_BLOCKS, ids=[f"{p}:{line}" for p, line, _, _ in DOC_BLOCKS])
def test_docs_block_runs(path, line, code, marker, tmp_path, monkeypatch):
    if marker is not None and marker.startswith("skip"):
        pytest.skip(f"{path}:{line} is marked {marker}")
    if marker == "needs-shared-data" and not shared_data_dir().is_dir():
        pytest.skip(f"{path}:{line} needs the shared data at {shared_data_dir()} (set TRYON_SHARED_DATA)")
    if marker == "needs-shared-data":
        monkeypatch.setenv("TRYON_SHARED_DATA", str(shared_data_dir()))
    run_block(f"{path}:{line}", code, tmp_path, monkeypatch)
