"""Training scenes that teach "this is not a person": zoom-out, landscape canvases, new backgrounds.

CCP photos show one person filling a portrait frame in front of a street.
Video frames are landscape, people are often small in them, and rooms have
walls, pillars, floors and furniture that such photos never show. Each
training sample is therefore placed on a canvas of the batch's orientation
(portrait ``h x w`` or landscape ``w x h``) in one of three ways:

* ``paste``: the labelled person (CCP mask != 0, softened at the edge) is
  cut out, scaled so that it is ``person_height`` of the canvas height and
  pasted onto a background that contains no person;
* ``photo``: the whole photo, scaled (zoom-out or in) and placed on such a
  background; the photo's own background stays labelled Background;
* ``empty``: a background alone, every pixel Background.

Backgrounds (:func:`make_backgrounds`) are either a strip of a CCP photo
beside the person (stretched to the canvas) or a generated room: a wall
with a gradient and noise, a floor with plank or tile lines, pillars, doors
and table-like furniture. Landscape canvases may be letterboxed to 16:9 or
4:3 inside the network input exactly as :mod:`tryon_sdk.preprocess` pads a
frame (padding ignored in the loss). A horizontal flip swaps left/right
labels. All draws come from the given generator (resumable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tryon_sdk.errors import ConfigError
from tryon_sdk.labels import IGNORE_INDEX

__all__ = ["SceneConfig", "compose_scenes", "make_backgrounds", "background_strips"]


@dataclass(frozen=True)
class SceneConfig:
    """Probabilities and ranges of the scene composition (see the module docstring)."""

    p_scene: float = 0.65          # share of steps that compose scenes (the rest use the plain photo augmentation)
    p_landscape: float = 0.6       # share of scene steps on a landscape canvas
    p_paste: float = 0.55          # per sample, within scene steps
    p_empty: float = 0.1           # per sample, within scene steps (the rest: photo)
    person_height: tuple[float, float] = (0.25, 1.0)   # paste: person height / canvas height
    photo_scale: tuple[float, float] = (0.45, 1.2)     # photo: photo height / canvas height
    p_strip_background: float = 0.35  # CCP strip vs generated room
    p_letterbox: float = 0.5       # landscape: letterbox to 16:9 or 4:3 as the parser pads frames
    rotate_deg: float = 6.0

    def __post_init__(self) -> None:
        for name in ("p_scene", "p_landscape", "p_paste", "p_empty", "p_strip_background", "p_letterbox"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ConfigError(f"scenes.{name} must be in [0, 1], got {v}")
        if self.p_paste + self.p_empty > 1:
            raise ConfigError("scenes.p_paste + scenes.p_empty must be <= 1")
        for name in ("person_height", "photo_scale"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ConfigError(f"scenes.{name} must be 0 < lo <= hi, got {(lo, hi)}")


def _u(g: torch.Generator, lo: float = 0.0, hi: float = 1.0, n: int = 1) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _rand_color(g: torch.Generator, light: bool) -> torch.Tensor:
    """An RGB colour in [0, 1]: mostly neutral/warm, light for walls, darker otherwise."""
    base = _u(g, 0.55, 0.97) if light else _u(g, 0.15, 0.75)
    tint = (torch.rand(3, generator=g) - 0.5) * (0.25 if torch.rand(1, generator=g) < 0.8 else 0.8)
    return (base + tint * base).clamp(0, 1)


def _smooth_noise(h: int, w: int, g: torch.Generator, cells: int, amp: float) -> torch.Tensor:
    """``1 x h x w`` low-frequency noise in about [-amp, amp]."""
    n = torch.rand(1, 1, cells, max(2, round(cells * w / h)), generator=g) * 2 - 1
    return F.interpolate(n, size=(h, w), mode="bicubic", align_corners=False)[0] * amp


def _room(h: int, w: int, g: torch.Generator) -> torch.Tensor:
    """A generated ``3 x h x w`` room: wall, floor, pillars, doors, furniture."""
    ys = torch.linspace(0, 1, h).view(1, h, 1)
    xs = torch.linspace(0, 1, w).view(1, 1, w)
    wall = _rand_color(g, light=True).view(3, 1, 1)
    img = wall * (1 + (ys - 0.5) * float(_u(g, -0.3, 0.3))) + _smooth_noise(h, w, g, 4, 0.05)
    img = img.expand(3, h, w).clone()
    # vertical elements on the wall: pillars (shaded like a cylinder or flat), doors, shelves
    for _ in range(int(torch.randint(0, 4, (1,), generator=g))):
        x0 = float(_u(g, -0.1, 0.95))
        pw = float(_u(g, 0.04, 0.3))
        top = float(_u(g, 0.0, 0.35)) if torch.rand(1, generator=g) < 0.4 else 0.0
        col = _rand_color(g, light=bool(torch.rand(1, generator=g) < 0.5)).view(3, 1, 1)
        inside = (xs >= x0) & (xs < x0 + pw) & (ys >= top)
        t = ((xs - x0) / pw).clamp(0, 1)
        shade = 1 - float(_u(g, 0.0, 0.45)) * (2 * t - 1).abs() ** 2 if torch.rand(1, generator=g) < 0.6 else torch.ones_like(t)
        img = torch.where(inside, col * shade + _smooth_noise(h, w, g, 12, 0.04), img)
        if torch.rand(1, generator=g) < 0.5:  # a frame line / edge shadow
            edge = ((xs - x0).abs() < 0.004) | ((xs - x0 - pw).abs() < 0.004)
            img = torch.where(edge & (ys >= top), img * 0.6, img)
    # floor: planks or tiles in perspective
    horizon = float(_u(g, 0.55, 0.85))
    floor = ys >= horizon
    fcol = _rand_color(g, light=bool(torch.rand(1, generator=g) < 0.5)).view(3, 1, 1)
    depth = ((ys - horizon) / (1 - horizon)).clamp(min=1e-3)
    vp = float(_u(g, 0.2, 0.8))
    if torch.rand(1, generator=g) < 0.6:  # planks: lines converging to a vanishing point, grain along them
        k = float(_u(g, 8, 30))
        u = (xs - vp) / depth
        pattern = 0.5 + 0.5 * torch.sin(u * k * math.pi)
        grain = _smooth_noise(h, w, g, 40, 0.06)
        tex = fcol * (0.85 + 0.15 * pattern) + grain
    else:  # tiles
        k = float(_u(g, 4, 14))
        u = (xs - vp) / depth
        v = 1 / depth
        lines = ((torch.frac(u * k) < 0.04) | (torch.frac(v * k * 0.3) < 0.04)).float()
        tex = fcol * (1 - 0.35 * lines) + _smooth_noise(h, w, g, 20, 0.03)
    img = torch.where(floor, tex * (0.8 + 0.3 * depth), img)
    # furniture: a table or bench (top slab and legs), a cabinet
    for _ in range(int(torch.randint(0, 3, (1,), generator=g))):
        x0, tw = float(_u(g, -0.1, 0.9)), float(_u(g, 0.1, 0.5))
        y0 = float(_u(g, 0.35, horizon + 0.1))
        col = _rand_color(g, light=bool(torch.rand(1, generator=g) < 0.4)).view(3, 1, 1)
        if torch.rand(1, generator=g) < 0.5:  # table: slab + two legs
            slab = (xs >= x0) & (xs < x0 + tw) & (ys >= y0) & (ys < y0 + 0.03)
            leg_h = float(_u(g, 0.1, 0.35))
            legs = (((xs - x0 - 0.01).abs() < 0.008) | ((xs - x0 - tw + 0.01).abs() < 0.008)) & (ys >= y0) & (ys < y0 + leg_h)
            img = torch.where(slab | legs, col.expand(3, h, w), img)
        else:  # cabinet / box
            bh = float(_u(g, 0.1, 0.4))
            box = (xs >= x0) & (xs < x0 + tw) & (ys >= y0) & (ys < y0 + bh)
            img = torch.where(box, col * (1 - 0.15 * (ys - y0) / bh), img)
    if torch.rand(1, generator=g) < 0.5:  # camera blur
        k = int(torch.randint(1, 3, (1,), generator=g)) * 2 + 1
        img = F.avg_pool2d(img[None], k, 1, k // 2, count_include_pad=False)[0]
    img = img + torch.randn(3, h, w, generator=g) * float(_u(g, 0.0, 0.03))
    return img.clamp(0, 1)


def background_strips(images: torch.Tensor, masks: torch.Tensor, min_width: float = 0.18) -> list[tuple[int, int, int]]:
    """``(index, x0, x1)`` column ranges of uint8 ``N x H x W x 3`` photos that hold no labelled person.

    Takes the wider of the strips left and right of the person's box (``masks != 0``),
    kept when it is at least ``min_width`` of the photo's width.
    """
    out = []
    width = masks.shape[2]
    person_cols = (masks != 0).any(1)  # N x W
    for i in range(len(masks)):
        cols = torch.nonzero(person_cols[i]).flatten()
        if cols.numel() == 0:
            out.append((i, 0, width))
            continue
        left, right = int(cols.min()), width - 1 - int(cols.max())
        x0, x1 = (0, left) if left >= right else (width - right, width)
        if x1 - x0 >= min_width * width:
            out.append((i, x0, x1))
    return out


def make_backgrounds(
    n: int, size: tuple[int, int], g: torch.Generator, cfg: SceneConfig,
    photos: torch.Tensor | None = None, strips: list[tuple[int, int, int]] | None = None,
) -> torch.Tensor:
    """``n x 3 x h x w`` float backgrounds in [0, 1] without people.

    ``photos`` (uint8 ``N x H x W x 3``) and ``strips`` (:func:`background_strips`) supply
    real street backgrounds; without them every background is a generated room.
    """
    h, w = size
    out = torch.empty(n, 3, h, w)
    for i in range(n):
        if strips and photos is not None and torch.rand(1, generator=g) < cfg.p_strip_background:
            j, x0, x1 = strips[int(torch.randint(len(strips), (1,), generator=g))]
            crop = photos[j, :, x0:x1].permute(2, 0, 1).float().div(255)
            if torch.rand(1, generator=g) < 0.5:  # tile the strip side by side (mirrored), then fit
                crop = torch.cat([crop, crop.flip(-1)] * 2, -1)
            out[i] = F.interpolate(crop[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0]
        else:
            out[i] = _room(h, w, g)
    return out


def _placement(src_hw: tuple[int, int], dst_hw: tuple[int, int], scale: float, cx: float, bottom: float,
               box: tuple[float, float, float, float], angle_deg: float) -> torch.Tensor:
    """2x3 theta for ``affine_grid`` (output-normalised -> source-normalised, align_corners=False).

    The source box ``(x0, y0, x1, y1)`` (pixels) is scaled by ``scale`` and placed with its
    bottom-centre at canvas pixel ``(cx, bottom)``, rotated by ``angle_deg`` about that point.
    """
    sh, sw = src_hw
    dh, dw = dst_hw
    bx, by = (box[0] + box[2]) / 2, box[3]
    a = math.radians(angle_deg)
    cos, sin = math.cos(a), math.sin(a)
    # destination pixel -> source pixel: p_src = R^-1 (p_dst - c) / s + b
    m = torch.tensor([[cos / scale, sin / scale, 0.0], [-sin / scale, cos / scale, 0.0]], dtype=torch.float64)
    m[:, 2] = torch.tensor([bx, by], dtype=torch.float64) - m[:, :2] @ torch.tensor([cx, bottom], dtype=torch.float64)
    # normalised coords (align_corners=False): p = ((n + 1) * size - 1) / 2
    to_pix = torch.tensor([[dw / 2, 0, (dw - 1) / 2], [0, dh / 2, (dh - 1) / 2], [0, 0, 1]], dtype=torch.float64)
    to_norm = torch.tensor([[2 / sw, 0, 1 / sw - 1], [0, 2 / sh, 1 / sh - 1], [0, 0, 1]], dtype=torch.float64)
    full = to_norm @ torch.cat([m, torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)]) @ to_pix
    return full[:2].float()


def _letterbox(x: torch.Tensor, y: torch.Tensor, g: torch.Generator, fill: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad a landscape batch's content to 16:9 or 4:3 inside the canvas, as the parser letterboxes frames."""
    _, _, h, w = x.shape
    if torch.rand(1, generator=g) < 0.5:  # 16:9: full width, fewer rows
        ch, cw = round(w * 9 / 16), w
    else:  # 4:3: full height, fewer columns
        ch, cw = h, round(h * 4 / 3)
    ch, cw = min(ch, h), min(cw, w)
    top, left = (h - ch) // 2, (w - cw) // 2
    xc = F.interpolate(x, size=(ch, cw), mode="bilinear", align_corners=False, antialias=True)
    yc = F.interpolate(y[:, None].float(), size=(ch, cw), mode="nearest")[:, 0].long()
    xo = fill.view(1, 3, 1, 1).expand_as(x).clone()
    yo = torch.full_like(y, IGNORE_INDEX)
    xo[:, :, top : top + ch, left : left + cw] = xc
    yo[:, top : top + ch, left : left + cw] = yc
    return xo, yo


def compose_scenes(
    images: torch.Tensor,
    masks: torch.Tensor,
    out_size: tuple[int, int],
    cfg: SceneConfig,
    g: torch.Generator,
    *,
    landscape: bool,
    pad_color: tuple[float, float, float] = (0.5, 0.5, 0.5),
    photos: torch.Tensor | None = None,
    strips: list[tuple[int, int, int]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compose one batch of scenes.

    Args:
        images: float32 ``B x 3 x H x W`` in [0, 1]; masks: int ``B x H x W`` ATR ids / 255.
        out_size: portrait ``(h, w)`` of the network input; ``landscape`` uses ``(w, h)``.
        pad_color: RGB of letterbox padding (the model's mean, i.e. 0 after normalisation).
        photos, strips: sources of real backgrounds (see :func:`make_backgrounds`).

    Returns ``(images float32 B x 3 x h' x w' in [0, 1], masks int64 B x h' x w')``
    (colour jitter and flips are applied by the caller's photo augmentation settings).
    """
    n, _, sh, sw = images.shape
    dh, dw = (out_size[1], out_size[0]) if landscape else out_size
    bg = make_backgrounds(n, (dh, dw), g, cfg, photos, strips)
    masks = masks.long()
    person = masks != 0  # labelled person pixels, ignore (255) inside the person included
    thetas, modes = [], []
    for i in range(n):
        r = float(torch.rand(1, generator=g))
        mode = "paste" if r < cfg.p_paste else "empty" if r < cfg.p_paste + cfg.p_empty else "photo"
        ys, xs = torch.nonzero(person[i], as_tuple=True)
        if ys.numel() < 50:
            mode = "photo" if mode == "paste" else mode
            box = (0.0, 0.0, float(sw), float(sh))
        elif mode == "paste":
            box = (float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1)
        else:
            box = (0.0, 0.0, float(sw), float(sh))
        if mode == "photo":
            box_h = float(sh)
            target = float(_u(g, *cfg.photo_scale)) * dh
        else:
            box_h = box[3] - box[1]
            target = float(_u(g, *cfg.person_height)) * dh
        scale = target / box_h
        half_w = (box[2] - box[0]) * scale / 2
        cx = float(_u(g, min(half_w, dw / 2), max(dw - half_w, dw / 2))) + float(_u(g, -0.1, 0.1)) * dw
        bottom = float(_u(g, min(target, dh) * 0.95, dh * 1.02)) if mode != "photo" else float(_u(g, min(target, dh), max(target, dh)))
        angle = float(_u(g, -cfg.rotate_deg, cfg.rotate_deg))
        thetas.append(_placement((sh, sw), (dh, dw), scale, cx, bottom, box, angle))
        modes.append(mode)
    theta = torch.stack(thetas)
    grid = F.affine_grid(theta, [n, 3, dh, dw], align_corners=False)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    lab = F.grid_sample((masks.float() + 1).unsqueeze(1), grid, mode="nearest", padding_mode="zeros", align_corners=False)
    lab = lab[:, 0].round().long() - 1  # -1: outside the photo
    soft = F.grid_sample(person.float().unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    inside = F.grid_sample(torch.ones(n, 1, sh, sw), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out_x = torch.empty(n, 3, dh, dw)
    out_y = torch.zeros(n, dh, dw, dtype=torch.long)
    for i, mode in enumerate(modes):
        if mode == "empty":
            out_x[i] = bg[i]
            continue
        if mode == "paste":
            alpha = F.avg_pool2d(soft[i : i + 1], 3, 1, 1, count_include_pad=False)[0]
            out_x[i] = alpha * x[i] + (1 - alpha) * bg[i]
            keep = (lab[i] >= 0) & (soft[i, 0] >= 0.5)
            out_y[i] = torch.where(keep, lab[i], torch.zeros_like(lab[i]))
        else:
            alpha = inside[i]
            out_x[i] = alpha * x[i] + (1 - alpha) * bg[i]
            out_y[i] = torch.where(lab[i] >= 0, lab[i], torch.zeros_like(lab[i]))
    if landscape and torch.rand(1, generator=g) < cfg.p_letterbox:
        out_x, out_y = _letterbox(out_x, out_y, g, torch.tensor(pad_color))
    return out_x, out_y
