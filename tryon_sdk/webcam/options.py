"""Webcam demo settings: the options, what the keys switch, and the command-line flags."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from ..compositor import Compositor, make_compositor, parse_color
from ..engines.options import EngineOptions
from ..errors import ConfigError
from ..regions import region_classes
from ..validate import one_of

if TYPE_CHECKING:
    from ..result import ParseResult

__all__ = [
    "DemoOptions", "DemoState", "Switch",
    "COMPOSITES", "COLOR_CYCLE", "REGION_CYCLE", "DEFAULT_OUTPUT", "KEYS_HELP",
]

#: What the demo draws (key m cycles through them).
COMPOSITES: tuple[str, ...] = ("recolor", "overlay", "none")
COLOR_CYCLE: tuple[str, ...] = ("#1e90ff", "crimson", "gold", "green", "black", "white", "purple")
REGION_CYCLE: tuple[str, ...] = ("upper_body", "lower_body", "dress", "outfit", "hair", "shoes")
DEFAULT_OUTPUT = "webcam_demo.mp4"
KEYS_HELP = "m composite, r region, c colour, s smoothing, q quit"


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Settings of :func:`~tryon_sdk.webcam.demo.run_demo` (``tryon-sdk webcam``'s flags); checked on construction.

    ``model``, ``engine`` and ``flip_tta`` load the parser as :meth:`Parser.from_pretrained
    <tryon_sdk.parser.Parser.from_pretrained>` does; ``composite`` is what is drawn (:data:`COMPOSITES`);
    ``mirrored`` (default: on for cameras, off for files) flips the frames to a selfie view and keeps
    left/right the person's own; ``headless`` (default: when there is no display) records instead.
    """

    source: str | int = 0
    model: str | None = None
    engine: EngineOptions = EngineOptions()
    flip_tta: bool = False
    composite: str = "recolor"
    region: str = "upper_body"
    color: str = "#1e90ff"
    smoothing: bool = True
    mirrored: bool | None = None
    width: int | None = None
    height: int | None = None
    output: str | None = None
    headless: bool | None = None  # default: when there is no display
    max_frames: int | None = None
    duration: float | None = None
    hud: bool = True
    refine: bool = True

    def __post_init__(self) -> None:
        one_of("composite", self.composite, COMPOSITES)
        region_classes(self.region)
        parse_color(self.color)
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1, got {self.max_frames}")
        if self.duration is not None and self.duration <= 0:
            raise ConfigError(f"duration must be > 0 seconds, got {self.duration}")


class DemoState:
    """What the keys switch: composite, region, colour and smoothing."""

    def __init__(self, options: DemoOptions) -> None:
        self.composite = options.composite
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
            self.composite = COMPOSITES[(COMPOSITES.index(self.composite) + 1) % len(COMPOSITES)]
        elif ch == "r":
            self._region_i = (self._region_i + 1) % len(self.regions)
            self.region = self.regions[self._region_i]
        elif ch == "c":
            self._color_i = (self._color_i + 1) % len(self.colors)
        elif ch == "s":
            self.smoothing = not self.smoothing
        return True

    def compositor(self) -> Compositor | None:
        if self.composite == "recolor":
            return make_compositor("recolor", region=self.region, color=self.color, refine=self.refine)
        if self.composite == "overlay":
            return make_compositor("overlay")
        return None

    def describe(self) -> str:
        if self.composite == "recolor":
            what = f"recolor {self.region} {self.color}"
        else:
            what = self.composite
        return f"{what} | smoothing {'on' if self.smoothing else 'off'}"


class Switch:
    """A compositor whose delegate the main thread swaps while the stream worker uses it."""

    def __init__(self, inner: Compositor | None) -> None:
        self.inner = inner

    def __call__(self, frame: np.ndarray, result: "ParseResult") -> np.ndarray:
        inner = self.inner  # one read: the main thread may swap it meanwhile
        return frame if inner is None else inner(frame, result)
