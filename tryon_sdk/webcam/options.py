"""Webcam demo settings: the options, what the keys switch, and the command-line flags."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..compositor import Compositor, make_compositor, parse_color
from ..errors import ConfigError
from ..regions import REGIONS, region_classes

if TYPE_CHECKING:
    from ..result import ParseResult

__all__ = [
    "DemoOptions", "DemoState", "Switch", "add_demo_arguments", "options_from_args",
    "MODES", "COLOR_CYCLE", "REGION_CYCLE", "DEFAULT_OUTPUT", "KEYS_HELP",
]

MODES: tuple[str, ...] = ("recolor", "overlay", "none")
COLOR_CYCLE: tuple[str, ...] = ("#1e90ff", "crimson", "gold", "green", "black", "white", "purple")
REGION_CYCLE: tuple[str, ...] = ("upper_body", "lower_body", "dress", "outfit", "hair", "shoes")
DEFAULT_OUTPUT = "webcam_demo.mp4"
KEYS_HELP = "m mode, r region, c colour, s smoothing, q quit"


@dataclass
class DemoOptions:
    """Settings of :func:`run_demo` (the CLI flags, see :func:`add_demo_arguments`)."""

    source: str | int = 0
    model: str | None = None
    device: str = "auto"
    mode: str = "recolor"
    region: str = "upper_body"
    color: str = "#1e90ff"
    smoothing: bool = True
    mirror: bool | None = None  # default: on for cameras, off for files
    width: int | None = None
    height: int | None = None
    output: str | None = None
    headless: bool | None = None  # default: when there is no display
    max_frames: int | None = None
    duration: float | None = None
    hud: bool = True
    refine: bool = True

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; valid: {', '.join(MODES)}")
        region_classes(self.region)
        parse_color(self.color)
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.duration is not None and self.duration <= 0:
            raise ConfigError(f"duration must be > 0 seconds, got {self.duration}")


class DemoState:
    """What the keys switch: mode, region, colour and smoothing."""

    def __init__(self, options: DemoOptions) -> None:
        self.mode = options.mode
        self.region = options.region
        self.smoothing = options.smoothing
        self.refine = options.refine
        self.colors = [options.color] + [c for c in COLOR_CYCLE if parse_color(c) != parse_color(options.color)]
        self.regions = [options.region] + [r for r in REGION_CYCLE if r != options.region]
        self._color_i = 0
        self._region_i = 0

    @property
    def color(self) -> str:
        return self.colors[self._color_i]

    def handle_key(self, key: int) -> bool:
        """Apply a key press (``cv2.waitKey`` code); ``False`` means quit."""
        if key in (ord("q"), ord("Q"), 27):
            return False
        ch = chr(key).lower() if 0 <= key < 256 else ""
        if ch == "m":
            self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        elif ch == "r":
            self._region_i = (self._region_i + 1) % len(self.regions)
            self.region = self.regions[self._region_i]
        elif ch == "c":
            self._color_i = (self._color_i + 1) % len(self.colors)
        elif ch == "s":
            self.smoothing = not self.smoothing
        return True

    def compositor(self) -> Compositor | None:
        if self.mode == "recolor":
            return make_compositor("recolor", region=self.region, color=self.color, refine=self.refine)
        if self.mode == "overlay":
            return make_compositor("overlay")
        return None

    def describe(self) -> str:
        if self.mode == "recolor":
            what = f"recolor {self.region} {self.color}"
        else:
            what = self.mode
        return f"{what} | smoothing {'on' if self.smoothing else 'off'}"


class Switch:
    """A compositor whose delegate the main thread swaps while the stream worker uses it."""

    def __init__(self, inner: Compositor | None) -> None:
        self.inner = inner

    def __call__(self, frame: np.ndarray, result: "ParseResult") -> np.ndarray:
        inner = self.inner  # one read: the main thread may swap it meanwhile
        return frame if inner is None else inner(frame, result)



def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's flags, shared by ``tryon-sdk webcam`` and ``examples/webcam_demo.py``."""
    p.add_argument("--source", default="0",
                   help="camera index (default 0), stream URL, or a video FILE replayed at its frame rate like a camera")
    p.add_argument("--model", default=None, help="checkpoint folder, .safetensors/.onnx file or registered name (default: bundled model)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--mode", default="recolor", choices=MODES, help="what to draw (default: recolor; key m switches)")
    p.add_argument("--region", default="upper_body", choices=tuple(REGIONS), metavar="REGION",
                   help=f"region to recolour: {', '.join(REGIONS)} (default: upper_body; key r switches)")
    p.add_argument("--color", default="#1e90ff", help="recolour target, e.g. '#1e90ff' or 'crimson' (key c switches)")
    p.add_argument("--smoothing", action=argparse.BooleanOptionalAction, default=True,
                   help="temporal smoothing of the class probabilities (default: on; key s switches); "
                        "left/right limb consistency stays on either way")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                   help="selfie view, flipped left-right (default: on for cameras, off for files)")
    p.add_argument("--width", type=int, default=None, help="camera frame width to ask for")
    p.add_argument("--height", type=int, default=None, help="camera frame height to ask for")
    p.add_argument("--output", default=None, metavar="FILE",
                   help=f"also record what is shown to this .mp4 (without a display: {DEFAULT_OUTPUT})")
    p.add_argument("--headless", action="store_true", help="never open a window; record to --output instead")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after showing N frames")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")
    p.add_argument("--no-hud", action="store_true", help="hide the FPS / latency readout")
    p.add_argument("--no-refine", action="store_true", help="skip edge refinement of the recolour mask (faster)")


def options_from_args(args: argparse.Namespace) -> DemoOptions:
    return DemoOptions(
        source=args.source, model=args.model, device=args.device, mode=args.mode, region=args.region, color=args.color,
        smoothing=args.smoothing, mirror=args.mirror, width=args.width, height=args.height, output=args.output,
        headless=True if args.headless else None, max_frames=args.max_frames, duration=args.duration,
        hud=not args.no_hud, refine=not args.no_refine,
    )
