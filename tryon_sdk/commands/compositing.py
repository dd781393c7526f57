"""The ``--composite NAME`` flags of the commands that draw on their output frames (``parse``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..compositor import COMPOSITORS, Compositor, compositor_options, make_compositor
from ..errors import ConfigError
from ..regions import REGIONS

__all__ = ["add_compositor_arguments", "compositor_from_args"]

# CLI flag (dest) -> compositor option name.
_CLI_OPTIONS = {"region": "region", "color": "color", "feather": "feather", "overlay_alpha": "alpha", "strength": "strength"}


def add_compositor_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--composite NAME`` and its options (``--region``, ``--color``, ...) to a command.

    Options the command already defines are left alone (it then owns them).
    """
    group = parser.add_argument_group("compositing")
    taken = set(getattr(parser, "_option_string_actions", {}))

    def add(flag: str, **kw: Any) -> None:
        if flag not in taken:
            group.add_argument(flag, **kw)

    add("--composite", default=None, metavar="NAME",
        help=f"draw on the output frames: {', '.join(COMPOSITORS)} (default: none)")
    add("--region", default=None, metavar="REGION",
        help=f"region to recolour or highlight: {', '.join(REGIONS)} (recolor default: upper_body)")
    add("--color", default=None, metavar="COLOR", help="recolor target, e.g. '#1e90ff', '30,144,255' or 'navy'")
    add("--feather", type=float, default=None, metavar="PX", help="recolor edge softness in pixels (default 3)")
    add("--strength", type=float, default=None, metavar="0..1", help="recolor opacity (default 1)")
    add("--overlay-alpha", type=float, default=None, metavar="0..1", help="overlay opacity (default 0.5)")


def compositor_from_args(args: argparse.Namespace) -> Compositor | None:
    """The compositor the ``--composite`` flags ask for, or ``None`` without ``--composite``."""
    name = getattr(args, "composite", None)
    given = {opt: getattr(args, dest) for dest, opt in _CLI_OPTIONS.items() if getattr(args, dest, None) is not None}
    if name is None:
        stray = [f"--{dest.replace('_', '-')}" for dest, opt in _CLI_OPTIONS.items() if opt in given and dest != "region"]
        if stray:
            raise ConfigError(f"{', '.join(stray)} need --composite NAME; valid names: {', '.join(COMPOSITORS)}")
        return None
    valid = set(compositor_options(name))
    unused = [f"--{dest.replace('_', '-')}" for dest, opt in _CLI_OPTIONS.items() if opt in given and opt not in valid]
    if unused:
        raise ConfigError(f"--composite {name} does not take {', '.join(unused)}")
    return make_compositor(name, **given)
