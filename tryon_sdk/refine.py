"""Edge-aware refinement of soft masks, guided by the full-resolution frame.

Network logits are coarse (stride 8-16), so upsampled alphas bleed across
garment edges: the ramp is a stride or two wide and its middle is often a
pixel or two off. Two refinements are offered:

``"colour"`` (default)
    A local two-colour model, the closed-form estimate of colour-line
    matting: in a window of ``radius`` pixels, the mean colour ``F`` of the
    pixels the alpha is sure are inside (> 0.9) and ``B`` of those sure
    outside (< 0.1) are computed with box filters; each uncertain pixel's
    alpha becomes the projection of its colour onto the line ``B -> F``.
    Where ``F`` and ``B`` look alike (a garment the colour of the wall) the
    estimate is not trusted and the network's alpha is kept, blended by
    ``|F - B|^2 / (|F - B|^2 + tau)``. It moves misplaced edges, not just
    blurry ones.
``"guided"``
    The guided filter (He et al., 2010) as in kornia's ``guided_blur``: it
    narrows blurry ramps but cannot move a misplaced edge.

Costs are O(1) per pixel in the radius (box filters).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .errors import ConfigError, InputError

__all__ = ["refine_alpha", "default_radius", "REFINE_METHODS"]

REFINE_METHODS: tuple[str, ...] = ("colour", "guided")


def default_radius(shape: tuple[int, int], stride_px: float | None = None) -> int:
    """Window radius that reaches past the blur of upsampled logits.

    ``stride_px`` is the network's output stride in the image's own pixels
    (the parser records it on each result); without it, 2% of the image's
    longer side is used.
    """
    if stride_px is not None:
        return max(2, round(1.5 * stride_px))
    return max(2, round(0.02 * max(shape)))


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def _colour(alpha: np.ndarray, guide: np.ndarray, r: int, lo: float, hi: float, tau: float) -> np.ndarray:
    fg = (alpha > hi).astype(np.float32)
    bg = (alpha < lo).astype(np.float32)
    band = (alpha > 0.02) & (alpha < 0.98) | ((fg == 0) & (bg == 0))
    if not band.any():  # a 0/1 alpha: nothing is unsure, nothing moves
        return alpha.astype(np.float32)
    wf, wb = _box(fg, r), _box(bg, r)
    f_mean = _box(guide * fg[..., None], r) / np.maximum(wf, 1e-6)[..., None]
    b_mean = _box(guide * bg[..., None], r) / np.maximum(wb, 1e-6)[..., None]
    d = f_mean - b_mean
    dd = (d * d).sum(-1)
    est = np.clip(((guide - b_mean) * d).sum(-1) / (dd + 1e-6), 0.0, 1.0)
    trust = dd / (dd + tau) * ((wf > 0) & (wb > 0))
    return np.where(band, alpha + trust * (est - alpha), alpha).astype(np.float32)


def _guided(alpha: np.ndarray, guide: np.ndarray, r: int, eps: float, iterations: int) -> np.ndarray:
    from kornia.filters import guided_blur

    g = torch.from_numpy(guide).permute(2, 0, 1)[None]
    out = torch.from_numpy(alpha)[None, None]
    s = max(1, min(4, r // 4))  # fast guided filter: coefficients at 1/s resolution
    for _ in range(max(1, iterations)):
        out = guided_blur(g, out, kernel_size=2 * r + 1, eps=eps, subsample=s).clamp_(0.0, 1.0)
    return out[0, 0].numpy()


def refine_alpha(
    alpha: np.ndarray | torch.Tensor,
    guide: np.ndarray | torch.Tensor,
    *,
    radius: int | None = None,
    method: str = "colour",
    tau: float = 0.01,
    eps: float = 1e-4,
    iterations: int = 2,
) -> np.ndarray:
    """Snap one or several soft alphas to the edges of ``guide``.

    Args:
        alpha: ``HxW`` or ``KxHxW`` float in [0, 1].
        guide: ``HxWx3`` uint8 RGB frame of the same size (or a ``3xHxW`` tensor).
        radius: window radius in pixels (default :func:`default_radius`).
        method: ``"colour"`` or ``"guided"`` (see the module docstring).
        tau: colour-model trust scale, in squared [0, 1] RGB distance.
        eps: guided-filter regularisation (``method="guided"``).
        iterations: guided-filter passes (``method="guided"``).

    Returns:
        float32 array of ``alpha``'s shape, in [0, 1].
    """
    if method not in REFINE_METHODS:
        raise ConfigError(f"unknown refinement method {method!r}; valid: {', '.join(REFINE_METHODS)}")
    a = np.asarray(alpha.cpu() if isinstance(alpha, torch.Tensor) else alpha, dtype=np.float32)
    g = guide.cpu().numpy() if isinstance(guide, torch.Tensor) else np.asarray(guide)
    if g.ndim == 3 and g.shape[0] == 3 and g.shape[-1] != 3:
        g = np.moveaxis(g, 0, -1)
    g = np.ascontiguousarray(g, dtype=np.float32)
    if g.max() > 1.0:
        g = g / 255.0
    if g.ndim != 3 or g.shape[:2] != a.shape[-2:]:
        raise InputError(f"guide must be HxWx3 of the alpha's size {a.shape[-2:]}, got {g.shape}")
    r = default_radius(a.shape[-2:]) if radius is None else int(radius)
    if method == "colour":
        run = lambda x: _colour(np.ascontiguousarray(x), g, r, 0.1, 0.9, tau)  # noqa: E731
    else:
        run = lambda x: _guided(np.ascontiguousarray(x), g, r, eps, iterations)  # noqa: E731
    if a.ndim == 2:
        return run(a)
    return np.stack([run(x) for x in a])
