"""The ``tryon-sdk`` command line.

Subcommands live in :mod:`tryon_sdk.commands`, one module each, found at run
time: a command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Every :class:`~tryon_sdk.errors.TryOnError` becomes a
one-line message on stderr and a non-zero exit.

Exit status: 0 done; 1 error (nothing written, earlier results untouched);
3 done, but the input video was incomplete (cut off or damaged: what it held
was parsed, ``summary.json`` says ``"truncated": true``); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Sequence

from . import commands
from ._version import __version__
from .commands.status import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_STATUS_HELP
from .errors import TryOnError

__all__ = ["main", "build_parser"]

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tryon-sdk",
        description="Body-and-garment masks for virtual try-on, from images and video.",
        epilog=EXIT_STATUS_HELP,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    mods = [importlib.import_module(f"{commands.__name__}.{m.name}") for m in pkgutil.iter_modules(commands.__path__)]
    for mod in sorted((m for m in mods if hasattr(m, "NAME")), key=lambda m: m.NAME):
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP, epilog=getattr(mod, "EPILOG", None))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args._run(args) or 0)
    except TryOnError as exc:
        print(f"tryon-sdk {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"tryon-sdk {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
