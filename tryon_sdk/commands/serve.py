"""``tryon-sdk serve``: the local web demo (needs the ``serve`` extra; imported only when run)."""

from __future__ import annotations

import argparse
import importlib.util
import sys

from ..errors import ConfigError
from . import add_model_arguments, load_parser

NAME = "serve"
HELP = "local web demo: parse a photo or a short video in the browser, recolour, download the masks"
EPILOG = (
    "Needs the serve extra: pip install 'tryon-sdk[serve]'. Binds to 127.0.0.1 (this machine only) unless "
    "--host says otherwise; the demo has no authentication. The HTTP API is documented in docs/serve.md."
)

#: import name -> what to install; every one must be importable before the model loads
_NEEDS = {"starlette": "starlette", "uvicorn": "uvicorn", "multipart|python_multipart": "python-multipart"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only; 0.0.0.0: every interface)"
    )
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument("--max-upload-mb", type=float, default=100.0, metavar="MB", help="largest upload, in MB (default: 100)")
    p.add_argument("--max-video-frames", type=int, default=600, metavar="N", help="frames a video job parses at most (default: 600)")
    p.add_argument(
        "--max-pixels", type=int, default=40_000_000, metavar="N", help="largest photo or video frame, in pixels (default: 40000000)"
    )
    p.add_argument(
        "--cache-mb", type=float, default=512.0, metavar="MB", help="memory for parsed photos kept for recolouring (default: 512)"
    )
    p.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"), help="uvicorn's log level (default: info)"
    )
    add_model_arguments(p)


def missing_dependencies() -> list[str]:
    """The ``serve`` extra's packages that cannot be imported."""
    return [pkg for names, pkg in _NEEDS.items() if not any(importlib.util.find_spec(n) for n in names.split("|"))]


def run(args: argparse.Namespace) -> int:
    missing = missing_dependencies()
    if missing:
        raise ConfigError(f"the web demo needs {', '.join(missing)}: pip install 'tryon-sdk[serve]'")
    from ..serve.options import LOOPBACK, ServeOptions

    options = ServeOptions(
        host=args.host,
        port=args.port,
        max_upload_mb=args.max_upload_mb,
        max_video_frames=args.max_video_frames,
        max_pixels=args.max_pixels,
        cache_mb=args.cache_mb,
    )  # bad options fail before the model loads
    parser = load_parser(args)
    import uvicorn

    from ..serve.app import create_app

    app = create_app(parser, options)
    if options.host not in (LOOPBACK, "localhost", "::1"):
        note = f"listening on {options.host}: anyone who can reach it can use it (no authentication)"
        print(f"tryon-sdk serve: warning: {note}", file=sys.stderr)
    shown = "localhost" if options.host in (LOOPBACK, "0.0.0.0") else options.host
    print(f"tryon-sdk serve: open http://{shown}:{options.port}/ (Ctrl-C stops)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=options.host, port=options.port, log_level=args.log_level)
    return 0
