"""Quickstart: parse one image and save what a try-on app needs.

    python examples/quickstart.py photo.jpg -o quickstart-output/
    python examples/quickstart.py                 # the bundled drawn sample, no download

Writes, into the output folder:

* ``overlay.png``             class colours blended over the photo
* ``alpha_<region>.png``      the region's soft alpha (255 = fully inside), edge-refined and feathered
* ``agnostic_<category>.png`` the try-on inpainting mask (white = may be repainted)
* ``agnostic_image.png``      the photo with that mask painted grey, as try-on models expect
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tryon_sdk import Parser
from tryon_sdk.regions import AGNOSTIC_CATEGORIES, REGIONS, agnostic_image
from tryon_sdk.video.io.reader import read_image
from tryon_sdk.video.io.writers import write_png


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", help="photo to parse (default: the bundled drawn sample)")
    ap.add_argument("-o", "--output", default="quickstart-output", help="folder to write into")
    ap.add_argument("--model", default=None, help="checkpoint folder, .safetensors or .onnx file (default: bundled model)")
    ap.add_argument("--region", default="upper_body", choices=tuple(REGIONS))
    ap.add_argument("--category", default="upper_body", choices=tuple(AGNOSTIC_CATEGORIES))
    args = ap.parse_args(argv)

    if args.image:
        image = read_image(args.image)
    else:
        from tryon_sdk.video.io.sample import sample_frames

        image = next(iter(sample_frames(1)))[0]
    parser = Parser.from_pretrained(args.model)
    result = parser.parse(image, return_probabilities=True)

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_png(out / "overlay.png", result.overlay())
    alpha = result.region(args.region, feather=2.0)
    write_png(out / f"alpha_{args.region}.png", np.round(alpha * 255).astype(np.uint8))
    mask = result.agnostic_mask(args.category)
    write_png(out / f"agnostic_{args.category}.png", mask.astype(np.uint8) * 255)
    write_png(out / "agnostic_image.png", agnostic_image(image, mask))

    print(f"{parser!r}")
    counts = np.bincount(result.labels.ravel(), minlength=len(result.class_names))
    for i in np.argsort(-counts):
        if counts[i]:
            print(f"  {result.class_names[i]:14s} {100 * counts[i] / result.labels.size:5.1f}%")
    print(f"{args.region} box: {result.box(args.region)}; wrote {len(list(out.iterdir()))} files to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
