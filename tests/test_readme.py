"""Every ```python block of README.md runs as written (each on its own, in a scratch folder).

A block that needs data makes it (e.g. with :mod:`tryon_sdk.video.sample`); none is skipped.
Whoever adds a python block to the README keeps it runnable.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[tuple[int, str]]:
    """``(first line number, code)`` of each fenced block marked ``python``."""
    blocks = []
    for m in re.finditer(r"^```python[^\n]*\n(.*?)^```", text, flags=re.S | re.M):
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1)))
    return blocks


BLOCKS = python_blocks(README.read_text())


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 4  # the API, streams, temporal stages and compositor snippets at least


@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_block_runs(line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files a block writes land here, not in the checkout
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
