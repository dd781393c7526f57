"""``tryon-sdk batch``: many images and videos -> a folder per input (or a try-on dataset) and manifest.jsonl."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import add_progress_argument, engine_options
from .parse import add_job_arguments, pipeline_options

if TYPE_CHECKING:
    from ..batch import ModelSpec

NAME = "batch"
HELP = "parse many images and videos (folders, globs, lists of paths) into a folder per input, resumably, in parallel"
EPILOG = (
    "Each input's outputs (what `tryon-sdk parse` writes for it) go to OUTDIR/<its path relative to its source>/, "
    "renamed into place when complete; OUTDIR/manifest.jsonl gets a line per input (path, status ok/failed/skipped, "
    "outputs, frames, seconds, error). A rerun skips complete inputs (--overwrite redoes them) and retries failed "
    "ones. Exit status: 0 every input done; 1 some input failed (or the job could not run); 3 done, but some video "
    "was incomplete; 130 interrupted (rerun to continue)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", metavar="SRC", help="folder (recursive), glob, image/video file, or text file of paths (one a line)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created if missing)")
    add_job_arguments(p)
    p.add_argument("--overwrite", action="store_true", help="redo inputs whose outputs are already complete")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes, each with its own parser (default: what the cores and memory allow)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads per worker (default: the cores shared out)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray Data: 'local' (default when no address is given) starts a local Ray runtime, "
                        "'auto' or an address joins a cluster (OUTDIR must be on a filesystem the workers share); "
                        "needs the ray extra: pip install 'tryon-sdk[ray]'")
    p.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G", help="GPUs each Ray actor asks for (default: 0)")
    p.add_argument("--layout", choices=("parse", "viton-hd", "dresscode"), default="parse",
                   help="parse: a folder per input (default); viton-hd / dresscode: the folders those try-on projects read "
                        "(images only; see docs/batch.md)")
    add_progress_argument(p, default=None)


def run(args: argparse.Namespace) -> int:
    from ..batch import BatchOptions, run as run_batch
    from .status import EXIT_ERROR, EXIT_INCOMPLETE

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    options = BatchOptions(
        pipeline=pipeline_options(args),
        model=model_spec(args),
        layout=args.layout,
        workers=args.workers,
        threads=args.threads,
        ray=args.ray,
        gpus_per_worker=args.gpus_per_worker,
        overwrite=args.overwrite,
        progress=progress,
    )
    report = run_batch(args.sources, args.output, options)
    failed = [r for r in report.records if r.status == "failed"]
    for rec in failed[:10]:
        why = rec.error or "unknown error"
        print(f"tryon-sdk batch: failed: {why if why.startswith(rec.path) else f'{rec.path}: {why}'}", file=sys.stderr)
    if len(failed) > 10:
        print(f"tryon-sdk batch: ... and {len(failed) - 10} more failed (see the manifest)", file=sys.stderr)
    print(report.line())
    if failed:
        return EXIT_ERROR
    return EXIT_INCOMPLETE if report.truncated else 0


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The :class:`~tryon_sdk.batch.options.ModelSpec` the shared model flags (:func:`add_model_arguments`) ask for."""
    from ..batch import ModelSpec

    return ModelSpec(name=args.model, engine=engine_options(args), flip_tta=args.flip_tta)
