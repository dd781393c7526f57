"""``tryon-sdk webcam``: the live demo (camera, or a video file replayed like one), and its flags."""

from __future__ import annotations

import argparse

from ..regions import REGIONS
from ..webcam.options import COMPOSITES, DEFAULT_OUTPUT, DemoOptions
from . import add_model_arguments, engine_options

__all__ = ["add_demo_arguments", "options_from_args"]

NAME = "webcam"
HELP = "live demo: parse a camera (or --source FILE) and show an overlay or recolour; records to a file without a display"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_demo_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..webcam import run_demo

    run_demo(options_from_args(args))
    return 0


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's flags, shared by ``tryon-sdk webcam`` and ``examples/webcam_demo.py``."""
    p.add_argument("--source", default="0",
                   help="camera index (default 0), stream URL, or a video FILE replayed at its frame rate like a camera")
    add_model_arguments(p)
    p.add_argument("--composite", default="recolor", choices=COMPOSITES, help="what to draw (default: recolor; key m switches)")
    p.add_argument("--region", default="upper_body", choices=tuple(REGIONS), metavar="REGION",
                   help=f"region to recolour: {', '.join(REGIONS)} (default: upper_body; key r switches)")
    p.add_argument("--color", default="#1e90ff", help="recolour target, e.g. '#1e90ff' or 'crimson' (key c switches)")
    p.add_argument("--smoothing", action=argparse.BooleanOptionalAction, default=True,
                   help="temporal smoothing of the class probabilities (default: on; key s switches); "
                        "left/right limb consistency stays on either way")
    p.add_argument("--mirrored", action=argparse.BooleanOptionalAction, default=None,
                   help="selfie view, flipped left-right (default: on for cameras, off for files)")
    p.add_argument("--width", type=int, default=None, help="camera frame width to ask for")
    p.add_argument("--height", type=int, default=None, help="camera frame height to ask for")
    p.add_argument("--output", default=None, metavar="FILE",
                   help=f"also record what is shown to this .mp4 (without a display: {DEFAULT_OUTPUT})")
    p.add_argument("--headless", action="store_true", help="never open a window; record to --output instead")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after showing N frames")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")
    p.add_argument("--no-hud", action="store_true", help="hide the FPS / latency readout")
    p.add_argument("--no-refine", action="store_true", help="skip edge refinement of the recolour mask (faster)")


def options_from_args(args: argparse.Namespace) -> DemoOptions:
    """The :class:`DemoOptions` the flags ask for."""
    return DemoOptions(
        source=args.source, model=args.model, engine=engine_options(args), flip_tta=args.flip_tta,
        composite=args.composite, region=args.region, color=args.color, smoothing=args.smoothing, mirrored=args.mirrored, width=args.width, height=args.height, output=args.output,
        headless=True if args.headless else None, max_frames=args.max_frames, duration=args.duration,
        hud=not args.no_hud, refine=not args.no_refine,
    )
