"""Webcam demo: live body/garment parsing with an on-screen overlay or recolour.

    python examples/webcam_demo.py                         # camera 0
    python examples/webcam_demo.py --source clip.mp4       # replay a video as if it were a camera
    python examples/webcam_demo.py --composite overlay --region lower_body --color gold

Keys: m mode (recolor / overlay / none), r region, c colour, s smoothing, q quit.
Without a display it records what it would show to webcam_demo.mp4 (or
--output) and says so. Same code as ``tryon-sdk webcam`` (tryon_sdk/webcam/).
"""

from __future__ import annotations

import argparse
import sys

from tryon_sdk.errors import TryOnError
from tryon_sdk.commands.webcam import add_demo_arguments, options_from_args
from tryon_sdk.webcam import run_demo


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_demo_arguments(ap)
    args = ap.parse_args(argv)
    try:
        run_demo(options_from_args(args))
    except TryOnError as exc:
        print(f"webcam_demo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
