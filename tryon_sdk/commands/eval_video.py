"""``tryon-sdk eval-video``: temporal stability of a video's parse, with and without smoothing / limb consistency."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import add_model_arguments, add_progress_argument, load_parser
from ..video.jobs.summary import incomplete_note
from .parse import add_frame_range_arguments, add_work_size_argument, smoothing_option

NAME = "eval-video"
HELP = "measure flicker, agreement, left/right swaps, mixed limbs and flip equivariance on a video"
EPILOG = (
    "Progress goes to stderr: a bar on a terminal, else a line every 10 s. "
    "Exit status: 0 done; 1 error; 3 done, but the video was incomplete (cut off or damaged: "
    "the report covers the frames it held); 130 interrupted."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="INPUT", help="video file")
    add_model_arguments(p)
    add_frame_range_arguments(p, "evaluate")
    p.add_argument("--batch-size", type=int, default=4, metavar="N", help="frames per engine call (default: 4)")
    p.add_argument("--smoothing-ratio", type=float, default=None, metavar="R", help="smoothing ratio 0..1 (default: 0.9)")
    p.add_argument("--mirrored", action="store_true", help="the video is mirrored (selfie camera)")
    p.add_argument(
        "--flip", action=argparse.BooleanOptionalAction, default=True, help="measure flip equivariance (doubles the engine work; default: on)"
    )
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    add_work_size_argument(p)
    add_progress_argument(p, default=True)


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{100 * value:.2f}%" if pct else f"{value:.4f}"
    return str(value)


def format_table(report: dict[str, Any]) -> str:
    """The report as a plain-text table (one row per configuration, then the goals)."""
    head = f"{'configuration':16s} {'flicker':>8s} {'x raw':>7s} {'agreement':>10s} {'swaps':>6s} {'mixed':>8s} {'flip-eq':>8s}"
    speed = f", {report['fps']:.1f} fps" if report.get("fps") else ""
    lines = [f"{report['input']['path']}: {report['frames']} frames ({report['frames_skipped']} skipped{speed})", head]
    for name, m in report["configs"].items():
        lines.append(
            f"{name:16s} {_fmt(m['flicker']):>8s} {_fmt(m['flicker_ratio']):>7s} {_fmt(m['agreement'], True):>10s} "
            f"{m['total_transient_swaps']:>6d} {_fmt(m['mixed_limb_share'], True):>8s} {_fmt(m['flip_equivariance']):>8s}"
        )
    lines.append("goals (smoothing+limbs): " + ", ".join(
        f"{k} {g['goal']}: {'met' if g['met'] else ('n/a' if g['met'] is None else 'NOT met')}" for k, g in report["goals"].items()
    ))  # fmt: skip
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from .status import EXIT_INCOMPLETE
    from ..video.evaluation.evaluate import evaluate_video
    from ..video.jobs.options import WORK_PIXELS, check_frame_range

    check_frame_range(args.start, args.end, args.max_frames)  # bad options fail before the model loads
    smoothing = smoothing_option(True, args.smoothing_ratio)
    parser = load_parser(args)
    report = evaluate_video(
        parser,
        args.input,
        start=args.start,
        end=args.end,
        max_frames=args.max_frames,
        batch_size=args.batch_size,
        smoothing=smoothing,
        mirrored=args.mirrored,
        flip=args.flip,
        progress=args.progress,
        work_pixels=None if args.full_resolution else WORK_PIXELS,
    )
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    if report.get("truncated"):
        print(f"tryon-sdk eval-video: warning: {incomplete_note(args.input, report)}", file=sys.stderr)
        return EXIT_INCOMPLETE
    return 0
