"""CLI subcommands, one module each (see :mod:`tryon_sdk.cli`), and the model options they share."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..engines.options import PRECISIONS, RUNTIMES, EngineOptions

if TYPE_CHECKING:
    from ..parser import Parser


def add_model_argument(p: argparse.ArgumentParser, *, onnx: bool = True) -> None:
    """``--model``: the one definition every command shares (``onnx=False``: safetensors checkpoints only)."""
    files = ".safetensors/.onnx file" if onnx else ".safetensors file"
    p.add_argument("--model", default=None, help=f"checkpoint folder, {files} or registered name (default: bundled model)")


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--no-verify-checksum``, ``--device``, ``--runtime``, ``--precision``, ``--channels-last`` and ``--flip-tta``."""
    add_model_argument(p)
    add_checksum_argument(p)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--runtime", default="auto", choices=RUNTIMES,
                   help="inference runtime: auto (onnxruntime on the CPU when the checkpoint ships a model.onnx, as the "
                        "bundled model does; else torch), torch, or onnxruntime (exported once and cached when the "
                        "checkpoint has no model.onnx; much faster on a few CPU cores) (default: auto)")
    p.add_argument("--precision", default=None, choices=PRECISIONS,
                   help="fp16 (CUDA) / bf16: torch autocast; int8: the checkpoint's model-int8.onnx on onnxruntime "
                        "(default: the model's own, fp32 for checkpoints)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory format (default: on for CUDA, off for CPU)")
    p.add_argument("--flip-tta", action="store_true",
                   help="average with the mirrored frame (left/right swapped back): a flip-equivariant network output, 2x the inference")


def add_checksum_argument(p: argparse.ArgumentParser) -> None:
    """``--no-verify-checksum``: load a checkpoint whose config has no (or another) SHA-256."""
    p.add_argument(
        "--no-verify-checksum",
        dest="verify_checksum",
        action="store_false",
        help="skip the SHA-256 check of the weights, e.g. for a checkpoint whose config has no checksum (only for files you trust)",
    )


def add_progress_argument(p: argparse.ArgumentParser, *, default: bool | None) -> None:
    """``--progress / --no-progress``; ``default=None`` means on when stderr is a terminal."""
    when = "on when stderr is a terminal" if default is None else ("on" if default else "off")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=default,
        help=f"progress on stderr: a bar on a terminal, else a line every 10 s (default: {when})",
    )


def engine_options(args: argparse.Namespace) -> EngineOptions:
    """The :class:`~tryon_sdk.engines.options.EngineOptions` the :func:`add_model_arguments` flags ask for."""
    return EngineOptions(
        device=args.device,
        runtime=args.runtime,
        precision=args.precision,
        channels_last=args.channels_last,
        verify=None if args.verify_checksum else False,  # None: check what can be checked
    )


def load_parser(args: argparse.Namespace) -> "Parser":
    """The parser the :func:`add_model_arguments` flags ask for."""
    import dataclasses

    from ..parser import Parser

    return Parser.from_pretrained(args.model, flip_tta=args.flip_tta, **dataclasses.asdict(engine_options(args)))
