"""``summary.json``: what a job did, as a :class:`Summary`, written with :mod:`json`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._version import __version__

if TYPE_CHECKING:
    from ...parser import Parser
    from ...result import ParseResult
    from .options import PipelineOptions

__all__ = [
    "Summary", "summary_json", "model_entry", "options_entry", "option_repr", "class_share", "people_json", "incomplete_note"]

#: keys of summary.json in their order (``frames`` is written last, one line per frame)
_KEYS = (
    "tryon_sdk_version", "model", "options", "class_names", "input", "work_size", "frames_expected",
    "frames_processed", "frames_skipped", "frames_dropped", "skipped", "truncated", "truncation",
    "timings_s", "fps", "frames", "output_dir", "outputs", "stale_removed",
)  # fmt: skip
_VIDEO_ONLY = ("work_size", "fps")


@dataclass
class Summary:
    """What one run of :func:`~tryon_sdk.video.jobs.pipeline.run_pipeline` did (``summary.json``).

    ``work_size`` and ``fps`` are written for video input only; ``output_dir``, ``outputs`` and
    ``stale_removed`` are filled in when the outputs are committed.
    """

    model: dict[str, Any]
    options: dict[str, Any]
    class_names: list[str]
    input: dict[str, Any]
    frames_expected: int | None
    frames_processed: int
    frames_skipped: int
    frames_dropped: int
    skipped: list[dict[str, Any]]
    truncated: bool
    truncation: str | None
    timings_s: dict[str, float]
    frames: list[dict[str, Any]]
    work_size: list[int] | None = None
    fps: float | None = None
    output_dir: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    stale_removed: list[str] = field(default_factory=list)
    tryon_sdk_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        """``summary.json``'s content (video-only keys left out for images)."""
        video = self.input.get("kind") == "video"
        return {k: getattr(self, k) for k in _KEYS if video or k not in _VIDEO_ONLY}


def summary_json(summary: dict[str, Any]) -> str:
    """Indented JSON with one line per entry of ``frames`` (long videos stay readable), ``frames`` last."""
    entries = [(k, json.dumps(v, indent=2).replace("\n", "\n  ")) for k, v in summary.items() if k != "frames"]
    if "frames" in summary:
        rows = [f"    {json.dumps(f)}" for f in summary["frames"]]
        entries.append(("frames", "[\n" + ",\n".join(rows) + "\n  ]" if rows else "[]"))
    return "{\n" + ",\n".join(f"  {json.dumps(k)}: {v}" for k, v in entries) + "\n}\n"


def option_repr(value: Any) -> Any:
    """A stage option for the summary: ``false`` when off, ``true`` when given as ``True``, else its fields."""
    from ..stream.options import default_stage_options

    if value is None or isinstance(value, bool):
        return bool(value)
    if any(value is default for default in default_stage_options()):
        return True
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else repr(value)


def model_entry(parser: Parser, *, architecture: bool = True) -> dict[str, Any]:
    """``summary.json``'s ``model`` entry: the parser's architecture, backbone, input size, runtime and checksum."""
    cfg = parser.config
    head = {"architecture": cfg.architecture} if architecture else {}
    return {
        **head,
        "backbone": cfg.backbone,
        "input_size": list(cfg.input_size),
        "sha256": cfg.sha256,
        "device": str(parser.device),
        "runtime": getattr(parser.engine, "name", type(parser.engine).__name__),
    }


def options_entry(options: PipelineOptions, outputs: tuple[str, ...]) -> dict[str, Any]:
    """``summary.json``'s ``options`` entry: what the job was asked to do (outputs, regions, smoothing, limbs, compositor)."""
    comp = options.compositor
    return {
        "outputs": list(outputs),
        "regions": list(options.regions),
        "mask_format": options.mask_format,
        "batch_size": options.batch_size,
        "smoothing": option_repr(options.smoothing),
        "limb_consistency": option_repr(options.limb_consistency),
        "mirrored": options.mirrored,
        "start": options.start,
        "end": options.end,
        "max_frames": options.max_frames,
        "compositor": (getattr(comp, "name", None) or getattr(comp, "__name__", None) or type(comp).__name__) if comp else None,
        "work_pixels": options.work_pixels,
    }


def class_share(labels: np.ndarray, num_classes: int) -> list[float]:
    """Share of the frame's pixels per class, rounded to 6 places."""
    counts = np.bincount(labels.ravel(), minlength=num_classes)[:num_classes]
    return [round(float(c), 6) for c in counts / labels.size]


def people_json(result: ParseResult, scale: float) -> list[dict[str, Any]]:
    """``result.people`` for summary.json, boxes and areas scaled by ``scale`` (working size -> frame size)."""
    out = []
    for person in result.people:
        d = person.as_dict()
        d["box"] = [int(round(v * scale)) for v in d["box"]]
        d["area"] = int(round(d["area"] * scale * scale))
        out.append(d)
    return out


def incomplete_note(source: str, report: dict[str, Any]) -> str:
    """``clip.mp4 is incomplete (why): parsed 409 of 1394 frames[, 2 unreadable skipped]`` for a truncated input."""
    n = report.get("frames_processed", report.get("frames"))
    expected = report.get("frames_expected")
    of = f" of {expected}" if expected else ""
    skipped = report.get("frames_skipped") or 0
    extra = f", {skipped} unreadable skipped" if skipped else ""
    return f"{source} is incomplete ({report.get('truncation') or 'cut off or damaged'}): parsed {n}{of} frames{extra}"
