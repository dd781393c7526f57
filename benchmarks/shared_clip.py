"""What several benchmarks share: where the real clip lies, and a stand-in for a timed benchmark."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

__all__ = ["REAL_CLIP", "timed"]

#: The shared real clip (``$TRYON_SHARED_DATA`` or ``../shared/data`` beside the repository).
REAL_CLIP = (
    Path(os.environ.get("TRYON_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    / "video"
    / "one-by-one-person-detection.mp4"
)


def timed(seconds: float) -> SimpleNamespace:
    """What ``record`` reads from a pytest-benchmark fixture (``.stats.mean``), for a duration measured by hand."""
    return SimpleNamespace(stats=SimpleNamespace(mean=seconds))
