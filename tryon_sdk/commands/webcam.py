"""``tryon-sdk webcam``: the live demo (camera, or a video file replayed like one)."""

from __future__ import annotations

import argparse

NAME = "webcam"
HELP = "live demo: parse a camera (or --source FILE) and show an overlay or recolour; records to a file without a display"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..webcam import add_demo_arguments

    add_demo_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..webcam import options_from_args, run_demo

    run_demo(options_from_args(args))
    return 0
