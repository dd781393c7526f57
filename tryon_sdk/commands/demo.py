"""``tryon-sdk demo``: the bundled model on the bundled real samples.

``--sample real`` (default) parses the two real samples shipped in
:mod:`tryon_sdk.samples`: a street-fashion photo (Clothing Co-Parsing,
Apache-2.0) as an image, and a 4-second clip of a person doing squats
(tensorflow/tfjs-models, Apache-2.0) through the offline video pipeline
(people first, smoothing and limb consistency on). Each gets its own
subfolder (``photo/``, ``clip/``) with an overlay, labels, a region alpha and
``summary.json``.

``--sample drawn`` renders a short clip of a drawn person instead
(:mod:`tryon_sdk.video.io.sample`, no third-party data) and compares the middle
frame with its drawn truth; the tests use it.

Everything goes into ``-o FOLDER``, by default ``tryon-demo-<user>`` in the
system's temporary folder (never into the current folder, which may be a
source checkout); the command prints where it wrote each file.
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
HELP = "parse the bundled real samples (a photo and a short clip) with the bundled model and write overlays"
SAMPLES = ("real", "drawn")


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
    p.add_argument("--sample", default="real", choices=SAMPLES,
                   help="real: the bundled photo and clip of real people; drawn: a generated clip of a drawn person (default: real)")
    p.add_argument("--frames", type=int, default=None,
                   help="frames of the clip to parse (default: all 20 of the real clip, 30 of the drawn one)")
    p.add_argument("--region", default="upper_body", help="region to write an alpha for (default: upper_body)")


def _print_outputs(folder: Path, names: tuple[str, ...]) -> None:
    for name in names:
        if (folder / name).exists():
            print(f"  {folder / name}")


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..regions import region_classes
    from ..video.jobs.pipeline import prepare_output_dir

    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"--frames must be >= 1, got {args.frames}")
    region_classes(args.region)
    out = prepare_output_dir(args.output if args.output is not None else default_output())
    parser = load_parser(args)
    if args.sample == "drawn":
        return _run_drawn(args, parser, out)
    return _run_real(args, parser, out)


def _run_real(args: argparse.Namespace, parser, out: Path) -> int:
    from ..samples import SAMPLE_CLIP, SAMPLE_PHOTO
    from ..video.jobs.options import PipelineOptions
    from ..video.jobs.pipeline import run_pipeline

    progress = sys.stderr.isatty()
    photo = run_pipeline(parser, SAMPLE_PHOTO, out / "photo", PipelineOptions(regions=(args.region,), progress=False))
    clip = run_pipeline(
        parser, SAMPLE_CLIP, out / "clip", PipelineOptions(regions=(args.region,), max_frames=args.frames, progress=progress)
    )
    print(f"parsed the bundled photo and {clip.get('frames_processed', '?')} frames of the bundled clip with {parser!r}")
    print(f"wrote into {out}:")
    _print_outputs(Path(photo.get("output_dir", out / "photo")), ("overlay.png", "labels.png", f"alpha_{args.region}.png", "summary.json"))
    _print_outputs(Path(clip.get("output_dir", out / "clip")), ("overlay.mp4", "labels.mkv", f"alpha_{args.region}.mkv", "summary.json"))
    print(f"open {out / 'photo' / 'overlay.png'} (the photo) and {out / 'clip' / 'overlay.mp4'} (the clip) to see the parse")
    print("samples: Clothing Co-Parsing photo 0004 (Apache-2.0); tensorflow/tfjs-models pose_squats.mp4 excerpt (Apache-2.0)")
    return 0


def _run_drawn(args: argparse.Namespace, parser, out: Path) -> int:
    from ..outputs import PendingSink
    from ..video.jobs.options import PipelineOptions
    from ..video.jobs.pipeline import run_pipeline
    from ..video.io.sample import SAMPLE_FPS, sample_frames
    from ..video.io.writers import H264Writer, write_png

    frames = list(sample_frames(args.frames if args.frames is not None else 30))
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

    print(f"parsed {summary.get('frames_processed', len(frames))} frames of the drawn sample with {parser!r}")
    print(f"wrote into {out}:")
    _print_outputs(out, ("overlay.mp4", "labels.mkv", f"alpha_{args.region}.mkv", "summary.json"))
    print(f"  {mask_path}")
    print(f"middle frame vs the drawn truth: pixel accuracy {accuracy:.3f}, person pixels found {fg_recall:.3f}")
    return 0
