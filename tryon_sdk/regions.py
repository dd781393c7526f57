"""Named garment and body regions for compositors, and try-on agnostic masks.

A region is a set of ATR classes. Its soft alpha is the summed probability of
those classes (or a 0/1 mask when only labels are known), snapped to the
frame's edges unless ``refine=False`` — by default with
:func:`~tryon_sdk.refine.refine_alpha`'s ``"colour"`` method, a local
two-colour model that can move a misplaced edge (the guided filter is the
other method there), in a window of 1.5 network strides — and optionally
feathered.

Agnostic masks are the inpainting masks of OOTDiffusion / IDM-VTON style
try-on: the area the new garment may occupy, with head, hair, shoes and bag
always kept out of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .errors import ConfigError, InputError
from .geometry import Box
from .refine import default_radius, refine_alpha

__all__ = [
    "REGIONS",
    "AGNOSTIC_CATEGORIES",
    "region_classes",
    "region_alpha",
    "region_alpha_box",
    "region_box",
    "feather_alpha",
    "agnostic_mask",
    "agnostic_image",
]

_SHOWN = 1.0 / 512  # a region's alpha below this would not show in 8 bits: 0

REGIONS: dict[str, frozenset[int]] = {
    "upper_body": frozenset({4}),
    "lower_body": frozenset({5, 6}),
    "dress": frozenset({7}),
    "outfit": frozenset({4, 5, 6, 7}),
    "shoes": frozenset({9, 10}),
    "accessories": frozenset({1, 3, 8, 16, 17}),
    "hair": frozenset({2}),
    "face": frozenset({11}),
    "arms": frozenset({14, 15}),
    "legs": frozenset({12, 13}),
    "skin": frozenset({11, 12, 13, 14, 15}),
    "person": frozenset(range(1, 18)),
}
"""Region name -> the ATR class ids it groups, e.g. ``REGIONS["lower_body"] == {5, 6}`` (Skirt, Pants).

``"person"`` is every class but Background. :meth:`ParseResult.region <tryon_sdk.result.ParseResult.region>`
and :func:`region_alpha` take these names.
"""


@dataclass(frozen=True)
class AgnosticSpec:
    """Classes masked for inpainting (then dilated) and classes always kept."""

    masked: frozenset[int]
    kept: frozenset[int]


_KEPT = frozenset({1, 2, 3, 11, 9, 10, 16})  # hat, hair, sunglasses, face, shoes, bag
AGNOSTIC_CATEGORIES: dict[str, AgnosticSpec] = {
    "upper_body": AgnosticSpec(frozenset({4, 7, 14, 15}), _KEPT),
    "lower_body": AgnosticSpec(frozenset({5, 6, 12, 13}), _KEPT),
    "dresses": AgnosticSpec(frozenset({4, 5, 6, 7}), _KEPT),
}
"""Try-on category -> the classes its agnostic mask covers and those always kept out of it (:func:`agnostic_mask`)."""


def region_classes(name: str) -> frozenset[int]:
    """The ATR class ids of region ``name`` (see :data:`REGIONS`); :class:`ConfigError` for an unknown name."""
    try:
        return REGIONS[name]
    except KeyError:
        raise ConfigError(f"unknown region {name!r}; valid: {', '.join(REGIONS)}") from None


def feather_alpha(alpha: np.ndarray, feather: float) -> np.ndarray:
    """Soften edges so the 10-90% ramp is about ``feather`` pixels wide (Gaussian, sigma = feather / 2.56)."""
    if feather < 0:
        raise ConfigError(f"feather must be >= 0 pixels, got {feather}")
    if feather == 0:
        return alpha
    sigma = feather / 2.56
    return cv2.GaussianBlur(alpha, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def region_alpha(name: str, **options: Any) -> np.ndarray:
    """Soft ``HxW`` float32 alpha in [0, 1] of a named region: :func:`region_alpha_box` (same keyword
    arguments: ``labels`` or ``probabilities``, ``image``, ``refine``, ``feather``, ``radius``,
    ``stride_px``) at the frame's size, 0 outside the box."""
    found = region_alpha_box(name, **options)
    labels, probabilities = options.get("labels"), options.get("probabilities")
    shape = labels.shape if probabilities is None else tuple(probabilities.shape[1:])
    out = np.zeros(shape, np.float32)
    if found is not None:
        alpha, (y0, y1, x0, x1) = found
        out[y0:y1, x0:x1] = alpha
    return out


def region_alpha_box(
    name: str,
    *,
    labels: np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
    image: np.ndarray | None = None,
    refine: bool = True,
    feather: float = 0.0,
    radius: int | None = None,
    stride_px: float | None = None,
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """A region's soft alpha (float32 in [0, 1]) on its bounding box only: ``(alpha, (y0, y1, x0, x1))``,
    ``None`` when absent.

    Uses ``probabilities`` (``CxHxW``) when given, else ``labels`` (``HxW`` ids). ``refine`` snaps edges to
    ``image`` (``HxWx3`` uint8) with :func:`~tryon_sdk.refine.refine_alpha`'s default, the local two-colour
    model (the guided filter is the other method there); it is skipped when no image is given, and it
    leaves a 0/1 alpha (labels only) as it is: such an alpha has no uncertain band to move. ``radius``
    defaults to 1.5 network strides (``stride_px``, in image pixels) so the window spans the blur of the
    upsampled logits, or 2% of the image's longer side when the stride is not known. ``feather`` softens
    the edges by that many pixels.

    The box holds every pixel whose summed probability is at least 1/512 (smaller alphas would not show
    in 8 bits and are 0), plus a margin covering the reach of refinement and feathering, so these run on
    the part of the frame the region fills.
    """
    classes = sorted(region_classes(name))
    if probabilities is not None:
        coarse = np.asarray(probabilities[classes]).sum(axis=0, dtype=np.float32)
    elif labels is not None:
        coarse = np.isin(labels, classes).astype(np.float32)
    else:
        raise InputError("region_alpha needs labels or probabilities")
    if feather < 0:
        raise ConfigError(f"feather must be >= 0 pixels, got {feather}")
    refine = refine and image is not None
    if refine and image.shape[:2] != coarse.shape:  # type: ignore[union-attr]
        raise InputError(f"image {image.shape[:2]} and alpha {coarse.shape} sizes differ")  # type: ignore[union-attr]
    shown = coarse >= _SHOWN
    ys, xs = np.flatnonzero(shown.any(axis=1)), np.flatnonzero(shown.any(axis=0))
    if ys.size == 0:
        return None
    h, w = coarse.shape
    r = (radius if radius is not None else default_radius((h, w), stride_px)) if refine else 0
    reach = int(np.ceil(4.0 * feather / 2.56)) + 1 if feather > 0 else 0  # OpenCV's Gaussian kernel radius
    m = 2 * r + reach + 2 if refine or feather > 0 else 0
    y0, y1 = max(0, int(ys[0]) - m), min(h, int(ys[-1]) + 1 + m)
    x0, x1 = max(0, int(xs[0]) - m), min(w, int(xs[-1]) + 1 + m)
    alpha = np.where(shown[y0:y1, x0:x1], coarse[y0:y1, x0:x1], np.float32(0.0))
    if refine:
        alpha = refine_alpha(alpha, image[y0:y1, x0:x1], radius=r)  # type: ignore[index]
    alpha = feather_alpha(np.ascontiguousarray(alpha, dtype=np.float32), feather)
    return np.clip(alpha, 0.0, 1.0, out=alpha), (y0, y1, x0, x1)


def region_box(alpha: np.ndarray, threshold: float = 0.5) -> Box | None:
    """Bounding box of ``alpha > threshold``; ``None`` when the region is absent."""
    ys, xs = np.nonzero(alpha > threshold)
    if ys.size == 0:
        return None
    return Box(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def agnostic_mask(labels: np.ndarray, category: str, *, dilation: int | None = None) -> np.ndarray:
    """Inpainting mask (``HxW`` bool) for a try-on ``category``.

    The category's classes are dilated by ``dilation`` pixels (default 2% of the
    longer side, so the new garment may be looser than the old one), then every
    kept class (head, hair, sunglasses, shoes, bag) is removed from the mask.
    """
    try:
        spec = AGNOSTIC_CATEGORIES[category]
    except KeyError:
        raise ConfigError(f"unknown agnostic category {category!r}; valid: {', '.join(AGNOSTIC_CATEGORIES)}") from None
    if dilation is None:
        dilation = max(1, round(0.02 * max(labels.shape)))
    if dilation < 0:
        raise ConfigError(f"dilation must be >= 0 pixels, got {dilation}")
    mask = np.isin(labels, sorted(spec.masked)).astype(np.uint8)
    if dilation > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilation + 1, 2 * dilation + 1))
        mask = cv2.dilate(mask, kernel)
    mask = mask.astype(bool)
    mask &= ~np.isin(labels, sorted(spec.kept))
    return mask


def agnostic_image(image: np.ndarray, mask: np.ndarray, fill: tuple[int, int, int] = (128, 128, 128)) -> np.ndarray:
    """The person image with the agnostic ``mask`` painted in ``fill`` (grey, as try-on models expect)."""
    if image.shape[:2] != mask.shape:
        raise InputError(f"image {image.shape[:2]} and mask {mask.shape} sizes differ")
    out = image.copy()
    out[mask] = np.asarray(fill, dtype=np.uint8)
    return out
