"""Options of the web demo server (:class:`ServeOptions`), validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError
from ..validate import at_least, in_range

__all__ = ["ServeOptions", "ParseOptions", "LOOPBACK", "ROI_CHOICES", "COMPOSITES", "VIDEO_FORMATS"]

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ServeOptions:
    """What the server accepts and keeps.

    Attributes:
        host: the address to bind; loopback unless told otherwise (the demo has no authentication).
        port: the TCP port (0: any free one).
        max_upload_mb: the largest request body, in MB (an upload above it is answered 413).
        max_video_frames: a video job parses at most this many frames (the rest is left out, and said so).
        max_pixels: photos and video frames with more pixels are refused (415) before they are parsed.
        cache_mb: memory for parsed photos kept for recolouring (least recently used go first).
        max_jobs: finished video jobs whose files are kept (oldest removed first).
        batch_size: video frames per engine call.
    """

    host: str = LOOPBACK
    port: int = 8000
    max_upload_mb: float = 100.0
    max_video_frames: int = 600
    max_pixels: int = 40_000_000
    cache_mb: float = 512.0
    max_jobs: int = 8
    batch_size: int = 2

    def __post_init__(self) -> None:
        at_least("port", self.port, 0)
        in_range("port", self.port, 0, 65535)
        in_range("max_upload_mb", self.max_upload_mb, 0.0, math.inf, lo_open=True)
        for name in ("max_video_frames", "max_pixels", "max_jobs", "batch_size"):
            at_least(name, getattr(self, name), 1)
        in_range("cache_mb", self.cache_mb, 0.0, math.inf)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


ROI_CHOICES: dict[str, bool | None] = {"auto": None, "on": True, "off": False}
COMPOSITES: tuple[str, ...] = ("overlay", "recolor")
VIDEO_FORMATS: tuple[str, ...] = ("mp4", "webm")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _flag(name: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "on", "yes"):
        return True
    if value in ("0", "false", "off", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, got {text!r}")


@dataclass(frozen=True)
class ParseOptions:
    """Per-request options (form fields of ``POST /api/parse`` and ``POST /api/jobs``), validated on construction.

    Attributes:
        region: the region recoloured, and whose alpha is sent (see :data:`tryon_sdk.regions.REGIONS`).
        color: the recolour colour (``#rrggbb``, ``r,g,b`` or a CSS name).
        regions: region alphas to send (photos) or to zip (videos); default: ``region``'s.
        agnostic: agnostic-mask categories to send or zip (default: all three).
        overlay_alpha: opacity of the class colours in the overlay, in [0, 1].
        feather: recolour edge softness in pixels.
        roi: people first: ``auto`` (the SDK's default), ``on`` or ``off``.
        limbs: left/right limb consistency (on, as ``tryon-sdk parse``).
        composite: videos: the rendered video shows the ``overlay`` or the ``recolor``.
        video_format: videos: ``mp4`` (H.264, the SDK's writer) or ``webm`` (VP9, for browsers without H.264).
    """

    region: str = "upper_body"
    color: str = "#1e90ff"
    regions: tuple[str, ...] | None = None
    agnostic: tuple[str, ...] | None = None
    overlay_alpha: float = 0.5
    feather: float = 3.0
    roi: str = "auto"
    limbs: bool = True
    composite: str = "overlay"
    video_format: str = "mp4"

    def __post_init__(self) -> None:
        from ..compositor import parse_color
        from ..regions import AGNOSTIC_CATEGORIES, region_classes

        for r in (self.region, *(self.regions or ())):
            region_classes(r)
        for c in self.agnostic or ():
            if c not in AGNOSTIC_CATEGORIES:
                raise ConfigError(f"unknown agnostic category {c!r}; valid: {', '.join(AGNOSTIC_CATEGORIES)}")
        parse_color(self.color)
        if not 0.0 <= self.overlay_alpha <= 1.0:
            raise ConfigError(f"overlay_alpha must be in [0, 1], got {self.overlay_alpha}")
        if not 0.0 <= self.feather <= 100.0:
            raise ConfigError(f"feather must be in [0, 100] pixels, got {self.feather}")
        if self.roi not in ROI_CHOICES:
            raise ConfigError(f"roi must be one of {', '.join(ROI_CHOICES)}, got {self.roi!r}")
        if self.composite not in COMPOSITES:
            raise ConfigError(f"composite must be one of {', '.join(COMPOSITES)}, got {self.composite!r}")
        if self.video_format not in VIDEO_FORMATS:
            raise ConfigError(f"video_format must be one of {', '.join(VIDEO_FORMATS)}, got {self.video_format!r}")

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "ParseOptions":
        """From form fields (unknown fields are refused, so a typo is not silently ignored)."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)}; valid: file, {', '.join(sorted(known))}")
        kw: dict[str, object] = {}
        for name, text in fields.items():
            if name in ("regions", "agnostic"):
                kw[name] = _csv(text)
            elif name in ("overlay_alpha", "feather"):
                try:
                    kw[name] = float(text)
                except ValueError:
                    raise ConfigError(f"{name} must be a number, got {text!r}") from None
            elif name == "limbs":
                kw[name] = _flag(name, text)
            else:
                kw[name] = text.strip()
        return cls(**kw)  # type: ignore[arg-type]

    def alpha_regions(self) -> tuple[str, ...]:
        return self.regions if self.regions is not None else (self.region,)

    def agnostic_categories(self) -> tuple[str, ...]:
        from ..regions import AGNOSTIC_CATEGORIES

        return self.agnostic if self.agnostic is not None else tuple(AGNOSTIC_CATEGORIES)
