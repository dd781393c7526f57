"""Real-camera degradations of training images (labels unchanged).

Webcams, phones and re-encoded clips blur, add noise, compress, quantise
palettes and mis-expose. Each sample is degraded with probability ``p`` by
``ops`` randomly chosen operations, in random order:

* ``motion``: a line kernel (3-11 px, any angle); ``defocus``: a disc (radius 1-3 px);
* ``noise``: Gaussian read noise plus signal-dependent shot noise;
* ``jpeg``: JPEG at quality 8-40 (OpenCV);
* ``palette``: 8-64 colour adaptive palette with Floyd-Steinberg dithering (GIF-like, PIL);
* ``lowlight``: exposure x0.2-0.7 then gamma 0.7-1.6, with noise;
* ``rescale``: down to 25-60 % (area) then back up (bilinear);
* ``cast``: a webcam-like colour cast (per-channel gains, lowered saturation and contrast).

Pixels in ``keep`` (the letterbox bars) are restored afterwards: the parser
pads after the camera, so bars are never degraded. Images are float32
``B x 3 x H x W`` in [0, 1]; every draw comes from the given generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tryon_sdk.errors import ConfigError

__all__ = ["DegradeConfig", "OPS", "degrade_batch", "apply_op"]

OPS = ("motion", "defocus", "noise", "jpeg", "palette", "lowlight", "rescale", "cast")


@dataclass(frozen=True)
class DegradeConfig:
    """Recipe section ``degrade``: per-sample probability, number of operations, allowed operations."""

    p: float = 0.4
    ops: tuple[int, int] = (1, 2)
    allowed: tuple[str, ...] = OPS

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise ConfigError(f"degrade.p must be in [0, 1], got {self.p}")
        if not 1 <= self.ops[0] <= self.ops[1]:
            raise ConfigError(f"degrade.ops must be 1 <= lo <= hi, got {self.ops}")
        bad = sorted(set(self.allowed) - set(OPS))
        if bad or not self.allowed:
            raise ConfigError(f"degrade.allowed has unknown operations {bad}; valid: {', '.join(OPS)}")


def _u(g: torch.Generator, lo: float, hi: float) -> float:
    return float(torch.rand(1, generator=g)) * (hi - lo) + lo


def _conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Depthwise convolution of ``3 x H x W`` with a normalised 2-D kernel, reflect padding."""
    kh, kw = k.shape
    k = (k / k.sum()).to(x)[None, None].expand(3, 1, kh, kw)
    xp = F.pad(x[None], (kw // 2, kw // 2, kh // 2, kh // 2), mode="replicate")
    return F.conv2d(xp, k, groups=3)[0]


def _to_u8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def _from_u8(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.array(a, copy=True)).permute(2, 0, 1).to(like).div(255)


def apply_op(x: torch.Tensor, op: str, g: torch.Generator) -> torch.Tensor:
    """One degradation of a float ``3 x H x W`` image in [0, 1]; same shape and dtype out."""
    h, w = x.shape[-2:]
    if op == "motion":
        length = int(torch.randint(3, 12, (1,), generator=g)) | 1
        a = _u(g, 0, math.pi)
        k = np.zeros((length, length), np.float32)
        c = length // 2
        dx, dy = math.cos(a) * c, math.sin(a) * c
        cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
        return _conv(x, torch.from_numpy(k))
    if op == "defocus":
        r = _u(g, 1.0, 3.0)
        n = int(math.ceil(r)) * 2 + 1
        yy, xx = torch.meshgrid(torch.arange(n) - n // 2, torch.arange(n) - n // 2, indexing="ij")
        return _conv(x, ((yy**2 + xx**2) <= r * r + 0.5).float())
    if op == "noise":
        read, shot = _u(g, 0.005, 0.05), _u(g, 0.0, 0.03)
        std = torch.sqrt(read**2 + shot * x.clamp(min=0))
        return (x + torch.randn(x.shape, generator=g) * std).clamp(0, 1)
    if op == "jpeg":
        q = int(_u(g, 8, 40))
        ok, buf = cv2.imencode(".jpg", _to_u8(x), [cv2.IMWRITE_JPEG_QUALITY, q])
        return _from_u8(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), x) if ok else x
    if op == "palette":
        colors = int(_u(g, 8, 64))
        im = Image.fromarray(_to_u8(x))
        # the palette from a small copy (fast); the full image mapped onto it with dithering, as GIF encoders do
        palette = im.reduce(4).quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
        out = im.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
        return _from_u8(np.array(out.convert("RGB")), x)
    if op == "lowlight":
        y = (x * _u(g, 0.2, 0.7)).clamp(min=0) ** _u(g, 0.7, 1.6)
        return apply_op(y, "noise", g)
    if op == "rescale":
        f = _u(g, 0.25, 0.6)
        small = F.interpolate(x[None], size=(max(8, round(h * f)), max(8, round(w * f))), mode="area")
        return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)[0].clamp(0, 1)
    if op == "cast":
        gains = torch.tensor([_u(g, 0.8, 1.2), _u(g, 0.9, 1.1), _u(g, 0.75, 1.25)]).view(3, 1, 1).to(x)
        y = x * gains
        gray = y.mean(0, keepdim=True)
        y = gray + (y - gray) * _u(g, 0.5, 1.0)  # washed-out webcam colours
        m = y.mean()
        return (m + (y - m) * _u(g, 0.7, 1.0) + _u(g, -0.05, 0.08)).clamp(0, 1)
    raise ConfigError(f"unknown degradation {op!r}; valid: {', '.join(OPS)}")


def degrade_batch(x: torch.Tensor, cfg: DegradeConfig, g: torch.Generator, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Degrade float32 ``B x 3 x H x W`` images in [0, 1] (CPU); ``keep``: bool ``B x H x W`` pixels restored afterwards."""
    out = x.clone()
    for i in range(x.shape[0]):
        if float(torch.rand(1, generator=g)) >= cfg.p:
            continue
        k = int(torch.randint(cfg.ops[0], cfg.ops[1] + 1, (1,), generator=g))
        order = torch.randperm(len(cfg.allowed), generator=g)[:k].tolist()
        y = out[i]
        for j in order:
            y = apply_op(y, cfg.allowed[j], g)
        out[i] = y
    if keep is not None:
        out = torch.where(keep[:, None], x, out)
    return out
