"""Parse many images and videos into a folder tree: ``tryon-sdk batch`` and :func:`run`.

::

    from tryon_sdk.batch import BatchOptions, run

    report = run(["photos/", "clips/*.mp4"], "out/", BatchOptions(workers=2))
    print(report.line())          # 25 input(s): 24 ok, 0 skipped, 1 failed in ... -> out/manifest.jsonl

One module per concern: :mod:`.sources` (which files, and their names under ``OUT``), :mod:`.manifest`
(``OUT/manifest.jsonl`` and what makes an input complete), :mod:`.work` (one input, written
atomically), :mod:`.local` (this process or worker processes), :mod:`.ray_executor` (Ray Data),
:mod:`.layouts` (VITON-HD and DressCode folders), :mod:`.runner` (the driver). See ``docs/batch.md``.
"""

from __future__ import annotations

from .manifest import MANIFEST_NAME, Record
from .options import LAYOUTS, BatchOptions, ModelSpec, default_workers
from .runner import BatchReport, run
from .sources import BatchInput, discover

__all__ = ["run", "BatchOptions", "ModelSpec", "BatchReport", "Record", "BatchInput", "discover", "default_workers", "LAYOUTS", "MANIFEST_NAME"]
