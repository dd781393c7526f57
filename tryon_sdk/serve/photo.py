"""One photo: parsed as ``tryon-sdk parse`` parses it, and the JSON answer of ``POST /api/parse``.

The session options come from the CLI's own :class:`~tryon_sdk.video.jobs.options.PipelineOptions`
(IMAGE mode, no smoothing, limb consistency on), so the labels of ``POST /api/parse`` are
those of ``tryon-sdk parse photo.jpg -o out/``'s ``labels.png``, pixel for pixel. The result
keeps its probabilities: region alphas and recolours get soft, edge-snapped borders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..compositor import make_compositor
from ..labels import PALETTE
from .encode import mask_u8, png_b64, to_json
from .options import ROI_CHOICES, ParseOptions

if TYPE_CHECKING:
    from ..parser import Parser
    from ..result import ParseResult
    from ..video.stream import RunningMode, StreamOptions

__all__ = [
    "session_options",
    "video_compositor",
    "parse_photo",
    "photo_json",
    "recolor_json",
    "render_overlay",
    "recolored",
    "class_share",
    "palette_json",
]


def session_options(options: ParseOptions, mode: "RunningMode", **fields: Any) -> "StreamOptions":
    """The session ``tryon-sdk parse`` would use for this mode, with the request's options applied
    (probabilities kept; ``fields``: other :class:`~tryon_sdk.video.stream.session.StreamOptions` fields)."""
    from ..video.jobs.options import PipelineOptions
    from ..video.stream import RunningMode, StreamOptions
    from ..video.stream.options import limb_options

    extra: dict[str, Any] = {"smoothing": None} if mode is RunningMode.IMAGE else {}
    pipeline = PipelineOptions(stream=StreamOptions(limb_consistency=limb_options(options.limbs)))
    return pipeline.stream_options(mode, return_probabilities=True, roi=ROI_CHOICES[options.roi], **{**extra, **fields})


def video_compositor(options: ParseOptions) -> Any:
    """What a video job's rendered video shows: the overlay or the recolour."""
    if options.composite == "recolor":
        return make_compositor("recolor", region=options.region, color=options.color, feather=options.feather)
    return make_compositor("overlay", alpha=options.overlay_alpha)


def parse_photo(parser: "Parser", image: np.ndarray, options: ParseOptions) -> "ParseResult":
    """``image`` (``HxWx3`` uint8 RGB) through an IMAGE session, as the CLI parses an image file."""
    from ..video.stream import RunningMode, open_stream

    with open_stream(parser, session_options(options, RunningMode.IMAGE)) as session:
        return session.parse(image)


def render_overlay(result: "ParseResult", options: ParseOptions) -> np.ndarray:
    """The class-colour overlay (``HxWx3`` uint8)."""
    return make_compositor("overlay", alpha=options.overlay_alpha)(result.image, result)


def recolored(result: "ParseResult", region: str, color: str, feather: float) -> np.ndarray:
    """``region`` repainted in ``color`` (``HxWx3`` uint8), shading kept."""
    return make_compositor("recolor", region=region, color=color, feather=feather)(result.image, result)


def _alpha_png(result: "ParseResult", region: str) -> str:
    from ..video.jobs.stages import alpha_u8

    return png_b64(alpha_u8(result.region(region)))


def class_share(labels: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    counts = np.bincount(labels.ravel(), minlength=len(names))[: len(names)]
    return {name: round(float(c) / labels.size, 5) for name, c in zip(names, counts) if c}


def photo_json(result_id: str, result: "ParseResult", options: ParseOptions) -> dict[str, Any]:
    """The answer of ``POST /api/parse`` (see ``docs/serve.md``)."""
    h, w = result.labels.shape
    names = tuple(result.class_names)
    return {
        "id": result_id,
        "width": int(w),
        "height": int(h),
        "people": to_json(list(result.people)),
        "classes": list(names),
        "class_share": class_share(result.labels, names),
        "labels_png": png_b64(result.labels),
        "overlay_png": png_b64(render_overlay(result, options)),
        "region": options.region,
        "color": options.color,
        "recolor_png": png_b64(recolored(result, options.region, options.color, options.feather)),
        "alphas": {r: _alpha_png(result, r) for r in options.alpha_regions()},
        "agnostic": {c: png_b64(mask_u8(result.agnostic_mask(c))) for c in options.agnostic_categories()},
    }


def recolor_json(result_id: str, result: "ParseResult", region: str, color: str, feather: float) -> dict[str, Any]:
    """The answer of ``POST /api/recolor``: the recolour and the region's alpha."""
    return {
        "id": result_id,
        "region": region,
        "color": color,
        "recolor_png": png_b64(recolored(result, region, color, feather)),
        "alpha_png": _alpha_png(result, region),
    }


def palette_json(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """``[{"id", "name", "color": "#rrggbb"}]`` for the page's legend."""
    return [{"id": i, "name": n, "color": "#%02x%02x%02x" % tuple(int(c) for c in PALETTE[i])} for i, n in enumerate(names)]
