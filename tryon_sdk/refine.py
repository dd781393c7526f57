"""Edge-aware refinement of soft masks, guided by the full-resolution frame.

Network logits are coarse (stride 8-16), so upsampled alphas bleed across
garment edges. A guided filter (He et al., 2010; kornia's ``guided_blur``,
with its fast subsampled variant on large frames) fits the alpha locally as
a linear function of the frame's colours, which snaps alpha edges to colour
edges while keeping flat regions flat.
"""

from __future__ import annotations

import numpy as np
import torch
from kornia.filters import guided_blur

__all__ = ["refine_alpha", "default_radius"]


def default_radius(shape: tuple[int, int]) -> int:
    """A radius that covers the blur of stride-8 logits upsampled to ``shape`` (about 1.5% of the long side)."""
    return max(2, round(0.015 * max(shape)))


def refine_alpha(
    alpha: np.ndarray | torch.Tensor,
    guide: np.ndarray | torch.Tensor,
    *,
    radius: int | None = None,
    eps: float = 1e-3,
) -> np.ndarray:
    """Guided-filter one or several alphas.

    Args:
        alpha: ``HxW`` or ``KxHxW`` float in [0, 1].
        guide: ``HxWx3`` uint8 RGB frame (or ``3xHxW`` tensor) of the same size.
        radius: filter radius in pixels (default :func:`default_radius`).
        eps: regularisation in squared [0, 1] colour units; smaller keeps more edges.

    Returns:
        float32 array of ``alpha``'s shape, clipped to [0, 1].
    """
    a = torch.as_tensor(alpha, dtype=torch.float32)
    single = a.ndim == 2
    if single:
        a = a[None]
    g = torch.as_tensor(guide)
    if g.ndim == 3 and g.shape[-1] == 3 and g.shape[0] != 3:
        g = g.permute(2, 0, 1)
    g = g.float()
    if g.max() > 1.0:
        g = g / 255.0
    h, w = a.shape[-2:]
    r = default_radius((h, w)) if radius is None else int(radius)
    # The fast guided filter computes the coefficients at 1/s resolution: same result for smooth alphas, s^2 cheaper.
    s = max(1, min(4, r // 4))
    out = guided_blur(g[None], a[None], kernel_size=2 * r + 1, eps=eps, subsample=s)[0]
    out = out.clamp_(0.0, 1.0).numpy()
    return out[0] if single else out
