"""Joint image/mask augmentation on batches, on the batch's device.

One random affine per sample (scale, rotation, translation = crop) warps the
image bilinearly and the mask by nearest neighbour only (label values are
never blended); pixels from outside the source become 255 in the mask and
``fill`` in the image: the model's mean colour, what the parser pads with.
Colour jitter touches the image only. A horizontal flip mirrors both and
swaps the left/right classes (:func:`tryon_sdk.labels.hflip_labels`).

On CUDA the warp and jitter run through kornia (``backend="kornia"``);
on CPU the same maths runs in plain torch (``affine_grid``/``grid_sample``),
which avoids kornia's per-call overhead. Both backends draw the same random
parameters from the given generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tryon_sdk.errors import ConfigError
from tryon_sdk.labels import IGNORE_INDEX, hflip_labels

__all__ = ["AugmentConfig", "augment_batch", "jitter_and_flip", "to_float_batch", "normalize"]

BACKENDS = ("auto", "torch", "kornia")


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms. ``scale`` multiplies the whole-image fit (1 = the full image fills the output)."""

    scale: tuple[float, float] = (0.75, 1.5)
    rotate_deg: float = 10.0
    translate: float = 0.1
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    hflip: float = 0.5
    backend: str = "auto"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown augmentation backend {self.backend!r}; valid: {', '.join(BACKENDS)}")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ConfigError(f"scale range must be 0 < lo <= hi, got {self.scale}")
        if not 0 <= self.hflip <= 1:
            raise ConfigError(f"hflip probability must be in [0, 1], got {self.hflip}")


def to_float_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``B x H x W x 3`` -> float32 ``B x 3 x H x W`` in [0, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """``(x - mean) / std`` per channel for ``B x 3 x H x W``."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _affine_params(n: int, cfg: AugmentConfig, g: torch.Generator) -> dict[str, torch.Tensor]:
    lo, hi = cfg.scale
    scale = torch.exp(_uniform(n, math.log(lo), math.log(hi), g))
    angle = _uniform(n, -cfg.rotate_deg, cfg.rotate_deg, g)
    # translation of the crop centre in normalised source coords: anywhere that keeps
    # the crop inside the image when zoomed in, plus a small free shift
    room = (1 - 1 / scale).clamp(min=0) + cfg.translate
    tx = (torch.rand(n, generator=g) * 2 - 1) * room
    ty = (torch.rand(n, generator=g) * 2 - 1) * room
    return {"scale": scale, "angle": angle, "tx": tx, "ty": ty}


def _theta(p: dict[str, torch.Tensor], h: int, w: int) -> torch.Tensor:
    """Output-normalised -> source-normalised 2x3 matrices (aspect-correct rotation)."""
    a = torch.deg2rad(p["angle"])
    cos, sin = torch.cos(a), torch.sin(a)
    s = 1 / p["scale"]
    # work in pixel-proportional coords: x' = x * w, y' = y * h, rotate, come back
    theta = torch.zeros(len(s), 2, 3)
    theta[:, 0, 0] = s * cos
    theta[:, 0, 1] = -s * sin * h / w
    theta[:, 1, 0] = s * sin * w / h
    theta[:, 1, 1] = s * cos
    theta[:, 0, 2] = p["tx"]
    theta[:, 1, 2] = p["ty"]
    return theta


def _jitter(x: torch.Tensor, b: torch.Tensor, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    view = (-1, 1, 1, 1)
    x = x * b.view(view)
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    x = (x - gray.mean((2, 3), keepdim=True)) * c.view(view) + gray.mean((2, 3), keepdim=True)
    gray = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    x = (x - gray) * s.view(view) + gray
    return x.clamp_(0, 1)


def augment_batch(
    images: torch.Tensor,
    masks: torch.Tensor,
    out_size: tuple[int, int],
    cfg: AugmentConfig,
    generator: torch.Generator,
    *,
    fill: tuple[float, float, float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch.

    Args:
        images: float32 ``B x 3 x H x W`` in [0, 1] (any device).
        masks: uint8/int64 ``B x H x W`` of class ids / 255 (same device).
        out_size: ``(h, w)`` of the output crop.
        generator: CPU generator for all random draws (reproducible, resumable).
        fill: RGB in [0, 1] of image pixels from outside the source (the model's mean, ``ModelConfig.mean``).

    Returns ``(images float32 B x 3 x h x w in [0, 1], masks int64 B x h x w)``.
    """
    n = images.shape[0]
    h, w = out_size
    p = _affine_params(n, cfg, generator)
    theta = _theta(p, h, w).to(images.device)
    bri = _uniform(n, 1 - cfg.brightness, 1 + cfg.brightness, generator).to(images.device)
    con = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, generator).to(images.device)
    sat = _uniform(n, 1 - cfg.saturation, 1 + cfg.saturation, generator).to(images.device)
    flip = (torch.rand(n, generator=generator) < cfg.hflip).to(images.device)
    backend = cfg.backend
    if backend == "auto":
        backend = "kornia" if images.is_cuda else "torch"
    m = masks.to(torch.float32).unsqueeze(1) + 1  # 0 marks "outside the source"
    shade = torch.as_tensor(fill, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    images = images - shade  # warped with zero padding, then shifted back: the outside is ``fill``
    if backend == "kornia":
        import kornia

        # kornia's warp takes pixel-space matrices; convert from normalised theta
        src_hw, dst_hw = images.shape[-2:], (h, w)
        theta3 = torch.cat([theta, torch.tensor([0.0, 0.0, 1.0], device=theta.device).expand(n, 1, 3)], 1)
        to_norm_dst = kornia.geometry.conversions.normal_transform_pixel(*dst_hw).to(theta.device)
        from_norm_src = torch.linalg.inv(kornia.geometry.conversions.normal_transform_pixel(*src_hw).to(theta.device))
        m_pix = from_norm_src @ theta3 @ to_norm_dst  # dst pixel -> src pixel
        inv = torch.linalg.inv(m_pix)[:, :2]  # warp_affine wants src -> dst
        x = kornia.geometry.transform.warp_affine(images, inv, dst_hw, mode="bilinear", padding_mode="zeros", align_corners=False)
        m = kornia.geometry.transform.warp_affine(m, inv, dst_hw, mode="nearest", padding_mode="zeros", align_corners=False)
    else:
        grid = F.affine_grid(theta, [n, 3, h, w], align_corners=False)
        x = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        m = F.grid_sample(m, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    x = _jitter(x + shade, bri, con, sat)
    labels = m.squeeze(1).round().long() - 1
    labels[labels < 0] = IGNORE_INDEX
    if flip.any():
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        labels = torch.where(flip.view(-1, 1, 1), hflip_labels(labels), labels)
    return x, labels


def jitter_and_flip(
    images: torch.Tensor, masks: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour jitter and the left/right-swapping horizontal flip of :func:`augment_batch`, without the warp."""
    n = images.shape[0]
    bri = _uniform(n, 1 - cfg.brightness, 1 + cfg.brightness, generator).to(images.device)
    con = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, generator).to(images.device)
    sat = _uniform(n, 1 - cfg.saturation, 1 + cfg.saturation, generator).to(images.device)
    flip = (torch.rand(n, generator=generator) < cfg.hflip).to(images.device)
    x = _jitter(images, bri, con, sat)
    labels = masks
    if flip.any():
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        labels = torch.where(flip.view(-1, 1, 1), hflip_labels(labels), labels)
    return x, labels
