"""``tryon-sdk demo``: the main job on the bundled sample with the bundled model.

Renders a short clip of a drawn person (:mod:`tryon_sdk.video.sample`, no
third-party data), runs the offline video pipeline on it (smoothing and limb
consistency on), and writes an overlay video, the label video, an
``upper_body`` alpha video, one region-mask PNG and ``summary.json`` into
``-o FOLDER``, by default ``tryon-demo-<user>`` in the system's temporary
folder (never into the current folder, which may be a source checkout); it
prints where.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from . import add_model_arguments, load_parser

NAME = "demo"
HELP = "parse a bundled sample clip with the bundled model and write an overlay video and a region mask"


def default_output() -> Path:
    """``<temp>/tryon-demo-<user>``: outside any checkout, one per user on a shared machine."""
    try:
        import getpass

        user = getpass.getuser()
    except (KeyError, OSError, ImportError):  # no passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"tryon-demo-{user}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default=None, help="output folder (default: tryon-demo-<user> in the temporary folder)")
    add_model_arguments(p)
    p.add_argument("--frames", type=int, default=30, help="length of the sample clip in frames (default: 30)")
    p.add_argument("--region", default="upper_body", help="region to write a mask for (default: upper_body)")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..video.options import PipelineOptions
    from ..video.pipeline import prepare_output_dir, run_pipeline
    from ..regions import region_classes
    from ..video.sample import SAMPLE_FPS, sample_frames
    from ..outputs import PendingSink
    from ..video.writers import H264Writer, write_png

    if args.frames < 1:
        raise ConfigError(f"--frames must be >= 1, got {args.frames}")
    region_classes(args.region)
    out = prepare_output_dir(args.output if args.output is not None else default_output())
    parser = load_parser(args)

    frames = list(sample_frames(args.frames))
    with PendingSink(out / "sample.mp4", lambda tmp: H264Writer(tmp, fps=Fraction(SAMPLE_FPS), time_base=Fraction(1, SAMPLE_FPS))) as clip:
        for i, (image, _) in enumerate(frames):
            clip.write(image, i)

    summary = run_pipeline(
        parser, out / "sample.mp4", out, PipelineOptions(regions=(args.region,), progress=sys.stderr.isatty())
    )
    middle_image, middle_truth = frames[len(frames) // 2]
    result = parser.parse(middle_image)
    mask_path = out / f"{args.region}_mask.png"
    write_png(mask_path, np.round(result.region(args.region) * 255).astype(np.uint8))
    person = middle_truth > 0
    accuracy = float((result.labels == middle_truth).mean())
    fg_recall = float((result.labels[person] > 0).mean())

    print(f"parsed {summary.get('frames_processed', len(frames))} frames of the bundled sample with {parser!r}")
    print(f"wrote into {out}:")
    for name in ("overlay.mp4", "labels.mkv", f"alpha_{args.region}.mkv", "summary.json"):
        if (out / name).exists():
            print(f"  {out / name}")
    print(f"  {mask_path}")
    print(f"middle frame vs the drawn truth: pixel accuracy {accuracy:.3f}, person pixels found {fg_recall:.3f}")
    return 0
