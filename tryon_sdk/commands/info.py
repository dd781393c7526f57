"""``tryon-sdk info``: the label set, regions and a model's metadata (the bundled model by default)."""

from __future__ import annotations

import argparse
import json

from . import add_model_argument

NAME = "info"
HELP = "show the ATR classes, the regions and a model's metadata (the bundled model unless --model)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_argument(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def run(args: argparse.Namespace) -> int:
    from ..models.checkpoint import load_config
    from ..labels import ATR_CLASSES
    from ..engines.onnx_engine import load_onnx_config
    from ..regions import REGIONS
    from ..models.registry import resolve_checkpoint

    path = resolve_checkpoint(args.model)
    config = load_onnx_config(path) if path.suffix == ".onnx" else load_config(path)
    source = {"name": args.model or "default", "path": str(path), "format": "onnx" if path.suffix == ".onnx" else "safetensors"}
    if args.json:
        out = {
            "classes": list(ATR_CLASSES),
            "regions": {k: sorted(v) for k, v in REGIONS.items()},
            "model": {**config.to_dict(), "source": source},
        }
        print(json.dumps(out, indent=2))
        return 0
    print("ATR classes:")
    for i, name in enumerate(ATR_CLASSES):
        print(f"  {i:2d}  {name}")
    print("Regions:")
    for name, ids in REGIONS.items():
        print(f"  {name:12s} {', '.join(ATR_CLASSES[i] for i in sorted(ids))}")
    print(f"Model {source['name']} ({source['format']}, {path}):")
    print(f"  {config.architecture}/{config.backbone}, {config.num_classes} classes, input {config.input_size}")
    print(f"  sha256 {config.sha256 or '(none)'}")
    if config.metrics:
        print(f"  metrics: {json.dumps(config.metrics)}")
    return 0
