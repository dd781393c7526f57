"""``tryon-sdk info``: the label set, regions and a model's metadata."""

from __future__ import annotations

import argparse
import json

NAME = "info"
HELP = "show the ATR classes, the regions and a model's metadata"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="checkpoint folder, .safetensors file or registered name (default: bundled model)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_config
    from ..labels import ATR_CLASSES
    from ..regions import REGIONS
    from ..registry import resolve_checkpoint

    config = load_config(resolve_checkpoint(args.model)) if args.model is not None else None
    if args.json:
        out = {
            "classes": list(ATR_CLASSES),
            "regions": {k: sorted(v) for k, v in REGIONS.items()},
            "model": config.to_dict() if config else None,
        }
        print(json.dumps(out, indent=2))
        return 0
    print("ATR classes:")
    for i, name in enumerate(ATR_CLASSES):
        print(f"  {i:2d}  {name}")
    print("Regions:")
    for name, ids in REGIONS.items():
        print(f"  {name:12s} {', '.join(ATR_CLASSES[i] for i in sorted(ids))}")
    if config:
        print(f"Model: {config.architecture}/{config.backbone}, input {config.input_size}, sha256 {config.sha256}")
        if config.metrics:
            print(f"  metrics: {json.dumps(config.metrics)}")
    return 0
