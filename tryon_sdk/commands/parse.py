"""``tryon-sdk parse``: a video, an image or a folder of images -> overlay, labels, alphas, summary."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import add_model_arguments, load_parser

NAME = "parse"
HELP = "parse a video, an image or a folder of images into overlay / label / alpha files and summary.json"


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="INPUT", help="video file, image file, or folder of images")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created if missing)")
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
    p.add_argument("--smoothing", action=argparse.BooleanOptionalAction, default=True, help="temporal smoothing (default: on)")
    p.add_argument(
        "--smoothing-strength",
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
    p.add_argument("--start", type=float, default=None, metavar="SECONDS", help="first time to parse")
    p.add_argument("--end", type=float, default=None, metavar="SECONDS", help="stop before this time")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--crf", type=int, default=20, help="libx264 quality of overlay.mp4 (default: 20; lower is better)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: on when stderr is a terminal)",
    )
    from ..compositor import add_compositor_arguments

    add_compositor_arguments(p)


def smoothing_option(enabled: bool, strength: float | None) -> Any:
    """``False``, ``True`` (defaults) or ``SmoothingOptions(ratio=strength)``."""
    if not enabled:
        return False
    if strength is None:
        return True
    from ..temporal import SmoothingOptions

    return SmoothingOptions(ratio=strength)


def compositor_from(args: argparse.Namespace) -> Any:
    """The overlay compositor asked for with ``--composite`` (``None``: label-colour overlay)."""
    from ..compositor import compositor_from_args

    return compositor_from_args(args)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import PipelineOptions, run_pipeline

    options = PipelineOptions(
        outputs=args.outputs,
        regions=args.regions,
        mask_format=args.mask_format,
        batch_size=args.batch_size,
        smoothing=smoothing_option(args.smoothing, args.smoothing_strength),
        limb_consistency=args.limb_consistency,
        mirrored=args.mirrored,
        start=args.start,
        end=args.end,
        max_frames=args.max_frames,
        compositor=compositor_from(args),
        progress=sys.stderr.isatty() if args.progress is None else args.progress,
        crf=args.crf,
    )
    options.validate()  # bad options fail before the model loads
    parser = load_parser(args)
    summary = run_pipeline(parser, args.input, args.output, options)
    n, skipped = summary["frames_processed"], summary["frames_skipped"]
    if skipped:
        print(f"tryon-sdk parse: warning: skipped {skipped} unreadable frame(s) or image(s)", file=sys.stderr)
    if summary.get("truncated"):
        print(f"tryon-sdk parse: warning: {args.input} ended early (damaged or cut off); kept {n} frame(s)", file=sys.stderr)
    wall = summary["timings_s"]["wall"]
    print(f"parsed {n} frame(s) in {wall:.1f} s -> {args.output}")
    return 0
