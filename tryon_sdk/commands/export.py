"""``tryon-sdk export``: write a model as ONNX (dynamic batch, height and width)."""

from __future__ import annotations

import argparse
import sys

from . import add_model_argument

NAME = "export"
HELP = "export a model to ONNX for ONNX Runtime (Parser.from_pretrained('model.onnx') loads it)"


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH, e.g. 480x640, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return h, w


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..engines.export import EXPORTERS, FORMATS

    p.add_argument("--format", default="onnx", choices=FORMATS, help="output format (default: onnx)")
    p.add_argument("-o", "--output", required=True, help="file to write, e.g. model.onnx (written atomically)")
    add_model_argument(p, onnx=False)
    p.add_argument("--exporter", default="torchscript", choices=tuple(EXPORTERS),
                   help="torch exporter: torchscript (fast, opset 17) or dynamo (torch.export, opset 18)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    p.add_argument("--no-verify", action="store_true", help="skip comparing ONNX Runtime's output with torch's")
    p.add_argument("--verify-size", type=_size, action="append", default=None, metavar="HxW",
                   help="image size to compare at (repeatable; default: the model's input size and a landscape frame)")


def run(args: argparse.Namespace) -> int:
    from ..engines.export import verify_onnx
    from ..parser import Parser

    parser = Parser.from_pretrained(args.model, device="cpu", runtime="torch")  # torch is the reference
    path = parser.export_onnx(args.output, exporter=args.exporter, opset=args.opset)
    size_mb = path.stat().st_size / 2**20
    c = parser.config
    print(f"wrote {path} ({size_mb:.1f} MiB, {c.architecture}/{c.backbone}, {args.exporter} exporter, dynamic batch/height/width)")
    if not args.no_verify:
        check = verify_onnx(parser.model, parser.config, path, sizes=args.verify_size)
        print(f"onnxruntime vs torch: {check}")
        if check.label_agreement < 0.999:
            print("warning: labels agree on fewer than 99.9% of pixels", file=sys.stderr)
            return 1
    return 0
