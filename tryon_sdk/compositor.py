"""Compositors: draw on a frame from its parse result.

A compositor is any callable ``(frame, result) -> frame`` (see
:class:`Compositor`): ``frame`` is the ``HxWx3`` uint8 RGB image, ``result``
the :class:`~tryon_sdk.result.ParseResult` for it (labels, region alphas via
``result.region(name)``, probabilities when the parser kept them). It returns
a new ``HxWx3`` uint8 RGB frame and leaves its input untouched. The CLI, the
stream session and the webcam demo all take one.

Shipped, by name (:func:`make_compositor`):

* ``overlay`` — :class:`OverlayCompositor`, class colours blended over the frame.
* ``recolor`` — :class:`RecolorCompositor`, a garment region repainted in
  another colour with its shading and texture kept (CIELAB lightness
  structure), with feathered edges.

Add your own with :func:`register_compositor`; ``examples/texture_paste.py``
shows one that pastes a texture image into the ``upper_body`` region.
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

import cv2
import numpy as np
from PIL import ImageColor

from .errors import ConfigError, InputError
from .labels import PALETTE
from .regions import region_alpha_box, region_classes
from .visualize import overlay

if TYPE_CHECKING:
    from .result import ParseResult

__all__ = [
    "Compositor",
    "OverlayCompositor",
    "RecolorCompositor",
    "COMPOSITORS",
    "register_compositor",
    "make_compositor",
    "compositor_options",
    "cropped_region_alpha",
    "parse_color",
    "NAMED_COLORS",
    "default_compositor",
    "render_frame",
]


@runtime_checkable
class Compositor(Protocol):
    """Anything that turns ``(frame, parse result)`` into an output frame."""

    def __call__(self, frame: np.ndarray, result: "ParseResult") -> np.ndarray:
        """``frame``: ``HxWx3`` uint8 RGB of the result's size -> new ``HxWx3`` uint8 RGB frame."""
        ...


# ---------------------------------------------------------------------- colours
#: The CSS colour names :func:`parse_color` accepts (all 148 of CSS Color Module Level 4, from Pillow), RGB.
NAMED_COLORS: dict[str, tuple[int, int, int]] = {name: ImageColor.getrgb(name)[:3] for name in ImageColor.colormap}
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def parse_color(color: str | tuple[int, int, int] | list[int]) -> tuple[int, int, int]:
    """An RGB triple from ``"#1e90ff"``, ``"1e90ff"``, ``"#19f"``, ``"30,144,255"``, a name, or a tuple."""
    formats = "'#rrggbb', '#rgb', 'r,g,b' (0-255), an (r, g, b) tuple, or a CSS colour name (e.g. navy, crimson, dodgerblue)"
    if isinstance(color, str):
        text = color.strip().lower()
        if text in NAMED_COLORS:
            return NAMED_COLORS[text]
        m = _HEX.match(text)
        if m:
            digits = m.group(1)
            if len(digits) == 3:
                digits = "".join(c * 2 for c in digits)
            return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
        parts = text.split(",")
        if len(parts) == 3:
            try:
                color = [int(p) for p in parts]
            except ValueError:
                raise ConfigError(f"cannot read colour {color!r}; use {formats}") from None
        else:
            raise ConfigError(f"cannot read colour {color!r}; use {formats}")
    try:
        rgb = tuple(int(c) for c in color)
    except (TypeError, ValueError):
        raise ConfigError(f"cannot read colour {color!r}; use {formats}") from None
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ConfigError(f"colour {color!r} must be three values in 0..255; use {formats}")
    return rgb  # type: ignore[return-value]


def _check_frame(frame: np.ndarray, result: "ParseResult") -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        got = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InputError(f"compositors take HxWx3 uint8 RGB frames, got {got}")
    if frame.shape[:2] != tuple(result.labels.shape):
        raise InputError(f"frame {frame.shape[:2]} and parse result {tuple(result.labels.shape)} sizes differ")


def _check_unit(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {value}")
    return value


def cropped_region_alpha(
    result: "ParseResult", region: str, *, feather: float = 0.0, refine: bool = True
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """A result's region alpha on its bounding box only: ``(alpha, (y0, y1, x0, x1))``, ``None`` if absent.

    Equal to ``result.region(region, feather=feather, refine=refine)[y0:y1, x0:x1]`` (and zero outside the
    box); see :func:`~tryon_sdk.regions.region_alpha_box`.
    """
    return region_alpha_box(
        region,
        labels=result.labels,
        probabilities=result.probabilities,
        image=result.image if refine else None,
        refine=refine,
        feather=feather,
        stride_px=result.stride_px,
    )


# ------------------------------------------------------------------ compositors
class OverlayCompositor:
    """Blend class colours over the frame.

    Args:
        alpha: opacity of the class colours, in [0, 1].
        region: only colour this region's classes (see :data:`~tryon_sdk.regions.REGIONS`);
            ``None`` colours every non-background class.
    """

    name = "overlay"

    def __init__(self, alpha: float = 0.5, region: str | None = None) -> None:
        self.alpha = _check_unit("alpha", alpha)
        self.region = region
        self._classes = None if region is None else np.asarray(sorted(region_classes(region)))

    def __call__(self, frame: np.ndarray, result: "ParseResult") -> np.ndarray:
        _check_frame(frame, result)
        labels = result.labels
        if self._classes is not None:
            labels = np.where(np.isin(labels, self._classes), labels, 0).astype(labels.dtype)
        return overlay(frame, labels, alpha=self.alpha, palette=PALETTE)

    def __repr__(self) -> str:
        return f"OverlayCompositor(alpha={self.alpha}, region={self.region!r})"


def _rgb_to_lab(rgb_u8: np.ndarray) -> np.ndarray:
    """``...x3`` uint8 RGB -> float32 CIELAB (L in [0, 100], a/b about [-128, 127]), D65 as OpenCV."""
    return cv2.cvtColor(rgb_u8.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)


_XYZ_TO_RGB = np.array(
    [[3.240479, -1.53715, -0.498535], [-0.969256, 1.875991, 0.041556], [0.055648, -0.204043, 1.057311]], np.float32
)
_WHITE = np.array([0.950456, 1.0, 1.088754], np.float32)


def _finv(t: np.ndarray) -> np.ndarray:
    return np.where(t > 6.0 / 29.0, t**3, 3.0 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0))


def _gamma(lin: np.ndarray) -> np.ndarray:
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.abs(lin) ** (1.0 / 2.4) - 0.055)


def _lab_to_linear_rgb(lab: np.ndarray) -> np.ndarray:
    """``Nx3`` CIELAB -> linear sRGB, unclipped (out-of-gamut colours leave [0, 1])."""
    fy = (lab[:, 0] + 16.0) / 116.0
    f = np.stack([fy + lab[:, 1] / 500.0, fy, fy - lab[:, 2] / 200.0], -1)
    xyz = np.ascontiguousarray(_finv(f) * _WHITE, dtype=np.float32)
    return cv2.transform(xyz[:, None, :], _XYZ_TO_RGB)[:, 0, :]  # a 3x3 matmul; numpy's BLAS call is ~20x slower here


def _lab_to_rgb_in_gamut(lab: np.ndarray, steps: int = 8) -> np.ndarray:
    """``HxWx3`` CIELAB -> float32 sRGB in [0, 1], bringing out-of-gamut colours in at constant hue.

    Clipping each RGB channel (what OpenCV does) turns dark saturated colours
    toward other hues; instead the chroma of each out-of-gamut pixel is scaled
    down (bisection) until it fits, which keeps its CIELAB hue and lightness.
    """
    flat = lab.reshape(-1, 3)
    lin = _lab_to_linear_rgb(flat)
    tol = 1e-4
    bad = np.nonzero(((lin < -tol) | (lin > 1.0 + tol)).any(-1))[0]
    if bad.size:
        sub = flat[bad]
        lo = np.zeros(bad.size, np.float32)
        hi = np.ones(bad.size, np.float32)
        for _ in range(steps):
            mid = 0.5 * (lo + hi)
            trial = np.concatenate([sub[:, :1], sub[:, 1:] * mid[:, None]], -1)
            t = _lab_to_linear_rgb(trial)
            fits = ((t >= -tol) & (t <= 1.0 + tol)).all(-1)
            lo = np.where(fits, mid, lo)
            hi = np.where(fits, hi, mid)
        lin[bad] = _lab_to_linear_rgb(np.concatenate([sub[:, :1], sub[:, 1:] * lo[:, None]], -1))
    return np.clip(_gamma(np.clip(lin, 0.0, 1.0)), 0.0, 1.0).astype(np.float32).reshape(lab.shape)


_LUT_SIZE = 1001  # lightness steps of 0.1


class RecolorCompositor:
    """Repaint a garment region in a target colour, keeping its shading and texture.

    In CIELAB, the region's chroma (a, b) becomes the target's; its lightness
    keeps every pixel's deviation from the region's mean (folds, shadows,
    print), and only the mean moves toward the target's lightness. The result
    is blended in with the region's soft, feathered alpha, so pixels outside
    the region (beyond the feather) are untouched.

    Args:
        region: a region name (see :data:`~tryon_sdk.regions.REGIONS`).
        color: target colour (anything :func:`parse_color` reads).
        feather: edge softness in pixels (10-90% ramp width).
        refine: snap the region's edges to the frame (see :meth:`ParseResult.region`).
        lightness: how far the mean lightness moves to the target's (0 keeps the garment's, 1 the target's).
        strength: opacity of the new colour, in [0, 1].
    """

    name = "recolor"

    def __init__(
        self,
        region: str = "upper_body",
        color: str | tuple[int, int, int] = "#1e90ff",
        *,
        feather: float = 3.0,
        refine: bool = True,
        lightness: float = 0.7,
        strength: float = 1.0,
    ) -> None:
        region_classes(region)  # validates the name
        if feather < 0:
            raise ConfigError(f"feather must be >= 0 pixels, got {feather}")
        self.region = region
        self.color = parse_color(color)
        self.feather = float(feather)
        self.refine = bool(refine)
        self.lightness = _check_unit("lightness", lightness)
        self.strength = _check_unit("strength", strength)
        self._target_lab = _rgb_to_lab(np.asarray([[self.color]], dtype=np.uint8))[0, 0]
        # Every output pixel has the target's chroma, so its colour is a function of lightness alone: tabulate it.
        grid = np.linspace(0.0, 100.0, _LUT_SIZE, dtype=np.float32)
        ramp = np.stack([grid, np.full_like(grid, self._target_lab[1]), np.full_like(grid, self._target_lab[2])], -1)
        self._ramp = _lab_to_rgb_in_gamut(ramp[None])[0] * 255.0

    def __call__(self, frame: np.ndarray, result: "ParseResult") -> np.ndarray:
        _check_frame(frame, result)
        found = cropped_region_alpha(result, self.region, feather=self.feather, refine=self.refine)
        if found is None:
            return frame.copy()
        # Only the region's bounding box is converted: garments cover a fraction of the frame.
        alpha, (oy, _, ox, _) = found
        ys, xs = np.nonzero(alpha > 1.0 / 512)
        if ys.size == 0:
            return frame.copy()
        y0, y1, x0, x1 = oy + ys.min(), oy + ys.max() + 1, ox + xs.min(), ox + xs.max() + 1
        crop = frame[y0:y1, x0:x1]
        a = alpha[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        lab = _rgb_to_lab(crop)
        lum = lab[..., 0]
        core = a > 0.5
        w = a[core] if core.any() else a.ravel()
        vals = lum[core] if core.any() else lum.ravel()
        mean = float(np.average(vals, weights=w))
        std = float(np.sqrt(np.average((vals - mean) ** 2, weights=w)))
        t_l = float(self._target_lab[0])
        centre = mean + self.lightness * (t_l - mean)
        # Keep about two standard deviations of texture inside [0, 100] so folds survive dark/light targets.
        margin = 2.0 * min(std, 15.0)
        centre = float(np.clip(centre, margin, 100.0 - margin))
        new_l = np.clip(lum - mean + centre, 0.0, 100.0)
        rgb = self._ramp[np.rint(new_l * ((_LUT_SIZE - 1) / 100.0)).astype(np.intp)]
        k = (a * self.strength)[..., None]
        out = frame.copy()
        blended = crop.astype(np.float32) * (1.0 - k) + rgb * k
        out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
        return out

    def __repr__(self) -> str:
        return (
            f"RecolorCompositor(region={self.region!r}, color={'#%02x%02x%02x' % self.color!r}, feather={self.feather}, "
            f"refine={self.refine}, lightness={self.lightness}, strength={self.strength})"
        )


# --------------------------------------------------------------------- registry
#: compositor name -> factory taking keyword options.
COMPOSITORS: dict[str, Callable[..., Compositor]] = {
    "overlay": OverlayCompositor,
    "recolor": RecolorCompositor,
}


def register_compositor(name: str, factory: Callable[..., Compositor], *, overwrite: bool = False) -> None:
    """Make ``factory(**options)`` available as ``make_compositor(name, ...)`` and ``--composite name``."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"compositor name must be letters, digits, '-' or '_', got {name!r}")
    if name in COMPOSITORS and not overwrite:
        raise ConfigError(f"compositor {name!r} is already registered; pass overwrite=True to replace it")
    COMPOSITORS[name] = factory


def compositor_options(name: str) -> tuple[str, ...]:
    """The keyword options a registered compositor accepts."""
    factory = _factory(name)
    params = inspect.signature(factory).parameters.values()
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _factory(name: str) -> Callable[..., Compositor]:
    try:
        return COMPOSITORS[name]
    except KeyError:
        raise ConfigError(f"unknown compositor {name!r}; valid: {', '.join(COMPOSITORS)}") from None


def make_compositor(name: str, **options: Any) -> Compositor:
    """Build a registered compositor, e.g. ``make_compositor("recolor", region="upper_body", color="#1e90ff")``."""
    factory = _factory(name)
    valid = compositor_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(
            f"compositor {name!r} has no option {', '.join(map(repr, unknown))}; valid: {', '.join(valid) or '(none)'}"
        )
    return factory(**options)


#: The output image when no compositor is set: label colours blended over the frame at 50%.
default_compositor: Compositor = OverlayCompositor()


def render_frame(compositor: Compositor | None, image: np.ndarray, result: ParseResult) -> np.ndarray:
    """``compositor(image, result)`` (default: :data:`default_compositor`), checked to be ``HxWx3`` uint8 like ``image``."""
    out = (compositor or default_compositor)(image, result)
    if not isinstance(out, np.ndarray) or out.shape != image.shape or out.dtype != np.uint8:
        raise InputError(
            f"compositor must return an HxWx3 uint8 array like its input {image.shape}, got "
            f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}"
        )
    return out
