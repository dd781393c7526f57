"""``tryon-sdk parse``: a video, an image or a folder of images -> overlay, labels, alphas, summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import add_model_arguments, add_progress_argument, load_parser

if TYPE_CHECKING:
    from ..limbs import LimbOptions
    from ..people.person import PeopleOptions
    from ..video.jobs.options import PipelineOptions
    from ..video.temporal.smoothing import SmoothingOptions

NAME = "parse"
HELP = "parse a video, an image or a folder of images into overlay / label / alpha files and summary.json"
EPILOG = (
    "An incomplete video (cut off or damaged) is parsed as far as it goes; summary.json then says "
    '"truncated": true with frames_expected and frames_processed, and the exit status is 3. Its partial '
    "result never replaces a complete earlier one: it goes to OUTDIR/incomplete/ instead, unless --overwrite. "
    "Outputs of an earlier run that this run does not write are removed (listed in summary.json's stale_removed). "
    "The rendered video is overlay.mp4, or named after the compositor (--composite recolor: recolor.mp4). "
    "Exit status: 0 done; 1 error; 3 done, but the input was incomplete; 130 interrupted."
)


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="INPUT", help="video file, image file, or folder of images")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created if missing)")
    add_job_arguments(p)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="let the result of an incomplete (cut-off) video replace a complete earlier result in OUTDIR "
        "(default: the partial result goes to OUTDIR/incomplete/)",
    )
    add_progress_argument(p, default=None)


def add_job_arguments(p: argparse.ArgumentParser) -> None:
    """What to write and how to parse: every option of ``parse`` but the input, the output folder,
    ``--overwrite`` and ``--progress`` (``tryon-sdk batch`` shares these; read them with :func:`pipeline_options`)."""
    p.add_argument(
        "--outputs",
        type=_csv,
        default=None,
        metavar="LIST",
        help="comma list of overlay,labels,alpha,summary (default: overlay,labels,summary; alpha too with --regions)",
    )
    p.add_argument("--regions", type=_csv, default=(), metavar="LIST", help="regions to write alphas for, e.g. upper_body,lower_body")
    p.add_argument(
        "--mask-format",
        choices=("video", "png"),
        default="video",
        help="labels/alphas of a video as lossless FFV1 .mkv (default) or as PNG sequences",
    )
    add_model_arguments(p)
    p.add_argument("--batch-size", type=int, default=4, metavar="N", help="frames per engine call (default: 4)")
    p.add_argument(
        "--roi",
        choices=("auto", "on", "off"),
        default="auto",
        help="people first: find the people and parse a crop around each (auto/on), or the whole frame (off)",
    )
    p.add_argument(
        "--person-model",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="find and mask people with the bundled person and face models (default: on); off: the parser alone",
    )
    p.add_argument("--smoothing", action=argparse.BooleanOptionalAction, default=True, help="temporal smoothing (default: on)")
    p.add_argument(
        "--smoothing-ratio",
        type=float,
        default=None,
        metavar="R",
        help="weight of the past for an uncertain pixel, 0..1 (default: 0.9)",
    )
    p.add_argument(
        "--limb-consistency",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep left/right limbs consistent over time (default: on)",
    )
    p.add_argument("--mirrored", action="store_true", help="the video is mirrored (selfie camera)")
    add_frame_range_arguments(p, "parse")
    p.add_argument("--crf", type=int, default=20, help="libx264 quality of the overlay video (default: 20; lower is better)")
    add_work_size_argument(p)
    from .compositing import add_compositor_arguments

    add_compositor_arguments(p)


def add_frame_range_arguments(p: argparse.ArgumentParser, verb: str) -> None:
    """``--start``, ``--end`` and ``--max-frames`` (checked by :func:`tryon_sdk.video.jobs.options.check_frame_range`)."""
    p.add_argument("--start", type=float, default=None, metavar="SECONDS", help=f"first time to {verb}")
    p.add_argument("--end", type=float, default=None, metavar="SECONDS", help="stop before this time")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help=f"{verb} the first N frames only")


def add_work_size_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--full-resolution",
        action="store_true",
        help="parse frames larger than 1280x720 at their own size, not at a 1280x720-pixel working size with "
        "labels scaled back up (several times the memory: ~0.15 GB per 1080p frame in flight)",
    )


def smoothing_option(enabled: bool, strength: float | None) -> SmoothingOptions | None:
    """``None`` (off), the defaults, or ``SmoothingOptions(ratio=strength)``."""
    from ..video.stream.options import smoothing_options
    from ..video.temporal.smoothing import SmoothingOptions

    return smoothing_options(enabled if strength is None or not enabled else SmoothingOptions(ratio=strength))


def limb_option(enabled: bool) -> LimbOptions | None:
    """``None`` (off) or the default ``LimbOptions``."""
    from ..video.stream.options import limb_options

    return limb_options(enabled)


def compositor_from(args: argparse.Namespace) -> Any:
    """The overlay compositor asked for with ``--composite`` (``None``: label-colour overlay)."""
    from .compositing import compositor_from_args

    return compositor_from_args(args)


def pipeline_options(args: argparse.Namespace, *, progress: bool | str = False, overwrite: bool = False) -> "PipelineOptions":
    """The :class:`PipelineOptions` that the :func:`add_job_arguments` options ask for."""
    from ..video.jobs.options import WORK_PIXELS, PipelineOptions
    from ..video.stream import StreamOptions

    return PipelineOptions(
        outputs=args.outputs,
        regions=args.regions,
        mask_format=args.mask_format,
        batch_size=args.batch_size,
        stream=StreamOptions(
            smoothing=smoothing_option(args.smoothing, args.smoothing_ratio),
            limb_consistency=limb_option(args.limb_consistency),
            mirrored=args.mirrored,
            compositor=compositor_from(args),
            roi=roi_option(args.roi, args.person_model),
        ),
        start=args.start,
        end=args.end,
        max_frames=args.max_frames,
        progress=progress,
        crf=args.crf,
        work_pixels=None if args.full_resolution else WORK_PIXELS,
        overwrite=overwrite,
    )


def roi_option(roi: str, person_model: bool) -> "bool | PeopleOptions | None":
    """``--roi`` / ``--person-model`` as the ``roi`` of :meth:`Parser.parse`."""
    from ..people.person import PeopleOptions

    if roi == "off":
        return False
    if not person_model:
        return PeopleOptions(person_model=False)
    return True if roi == "on" else None


def run(args: argparse.Namespace) -> int:
    from .status import EXIT_INCOMPLETE
    from ..video.jobs.pipeline import run_pipeline
    from ..video.jobs.summary import incomplete_note

    options = pipeline_options(
        args, progress=sys.stderr.isatty() if args.progress is None else args.progress, overwrite=args.overwrite
    )
    options.validate()  # bad options fail before the model loads
    parser = load_parser(args)
    summary = run_pipeline(parser, args.input, args.output, options)
    n, skipped = summary["frames_processed"], summary["frames_skipped"]
    where = summary["output_dir"]
    if summary.get("truncated"):
        kept = f" (the complete earlier result in {args.output} is kept; --overwrite replaces it)"
        note = f"{incomplete_note(args.input, summary)}; partial result in {where}" + (kept if Path(where) != Path(args.output) else "")
        print(f"tryon-sdk parse: warning: {note}", file=sys.stderr)
    elif skipped:
        print(f"tryon-sdk parse: warning: skipped {skipped} unreadable frame(s) or image(s)", file=sys.stderr)
    wall = summary["timings_s"]["wall"]
    print(f"parsed {n} frame(s) in {wall:.1f} s -> {where}")
    return EXIT_INCOMPLETE if summary.get("truncated") else 0
