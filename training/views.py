"""Training views beyond the whole photo: framings (partial people) and groups.

CCP photos show one person head to toe filling a portrait frame. A parser
in the field also sees:

* **framings** (:func:`frame_crops`): head-to-knees, head-to-hips and
  head-and-shoulders crops, and people cut by any frame edge, in portrait or
  landscape canvases. The crop keeps its own aspect and is letterboxed into
  the canvas as :class:`tryon_sdk.preprocess.Preprocess` pads a frame
  (``fill`` colour, label 255), or fills the canvas when it already has the
  canvas's aspect.
* **groups** (:func:`compose_groups`): 2-4 people pasted side by side onto a
  background without people, at different sizes; smaller people stand
  farther back (feet higher) and are drawn first, so a nearer person occludes
  them and the labels follow the occlusion (the front person's labels win).
  Or, in ``tiles`` mode, 2-4 whole photos side by side at reduced size.

Body lines come from the labels: the neck line is the 2nd percentile row of
Upper-clothes/Dress, the hip line the 3rd percentile row of Pants/Skirt
(fallbacks at fixed fractions of the person's height, as in
:mod:`training.data.ccp`). Images are float32 ``B x 3 x H x W`` in [0, 1],
labels int64 ``B x H x W`` (ATR ids / 255). All draws come from the given
generator (resumable).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tryon_sdk.errors import ConfigError
from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX

from .scenes import SceneConfig, _placement, make_backgrounds

__all__ = ["ViewConfig", "FRAMINGS", "body_lines", "framing_box", "crop_into", "frame_crops", "compose_groups"]

FRAMINGS = ("knees", "hips", "shoulders", "edge")
_UPPER = (CLASS_INDEX["Upper-clothes"], CLASS_INDEX["Dress"])
_LOWER = (CLASS_INDEX["Pants"], CLASS_INDEX["Skirt"])


@dataclass(frozen=True)
class ViewConfig:
    """Probabilities of the framing and group steps (recipe section ``views``; the rest of a step's draws follow ``scenes``)."""

    p_framing: float = 0.25        # share of steps that crop framings
    p_group: float = 0.15          # share of steps that compose groups
    p_landscape: float = 0.5       # framing / group steps on a landscape canvas
    framing_weights: tuple[float, float, float, float] = (1.0, 1.5, 1.5, 1.0)  # knees, hips, shoulders, edge
    p_fill_canvas: float = 0.5     # framing box widened to the canvas aspect (else letterboxed)
    people: tuple[int, int] = (2, 4)
    person_height: tuple[float, float] = (0.35, 1.0)   # of the canvas height, nearest person
    depth_shrink: tuple[float, float] = (0.55, 1.0)    # each farther person's height relative to the nearest
    spread: tuple[float, float] = (0.2, 1.0)           # width of the group's span / canvas width (narrow: overlaps)
    p_tiles: float = 0.3           # group steps that tile whole photos side by side instead

    def __post_init__(self) -> None:
        for name in ("p_framing", "p_group", "p_landscape", "p_fill_canvas", "p_tiles"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ConfigError(f"views.{name} must be in [0, 1], got {v}")
        if len(self.framing_weights) != len(FRAMINGS) or min(self.framing_weights) < 0 or sum(self.framing_weights) <= 0:
            raise ConfigError(f"views.framing_weights must be {len(FRAMINGS)} non-negative numbers ({', '.join(FRAMINGS)}), got {self.framing_weights}")
        lo, hi = self.people
        if not 2 <= lo <= hi:
            raise ConfigError(f"views.people must be 2 <= lo <= hi, got {self.people}")
        for name in ("person_height", "depth_shrink", "spread"):
            lo_f, hi_f = getattr(self, name)
            if not 0 < lo_f <= hi_f:
                raise ConfigError(f"views.{name} must be 0 < lo <= hi, got {(lo_f, hi_f)}")


def _u(g: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> float:
    return float(torch.rand(1, generator=g)) * (hi - lo) + lo


def body_lines(labels: torch.Tensor) -> tuple[float, float, float, float, float, float] | None:
    """``(top, bottom, left, right, neck, hip)`` pixel lines of the person in one int ``H x W`` label map, or None.

    Person = labels not Background and not 255. Neck/hip as in the module docstring.
    """
    person = (labels != 0) & (labels != IGNORE_INDEX)
    ys, xs = torch.nonzero(person, as_tuple=True)
    if ys.numel() < 50:
        return None
    top, bot = float(ys.min()), float(ys.max()) + 1
    h = bot - top
    upper = torch.isin(labels, torch.tensor(_UPPER, device=labels.device))
    lower = torch.isin(labels, torch.tensor(_LOWER, device=labels.device))
    uy = torch.nonzero(upper, as_tuple=True)[0].float()
    ly = torch.nonzero(lower, as_tuple=True)[0].float()
    neck = float(torch.quantile(uy, 0.02)) if uy.numel() >= 50 else top + 0.18 * h
    hip = float(torch.quantile(ly, 0.03)) if ly.numel() >= 50 else top + 0.52 * h
    hip = max(hip, neck + 0.15 * h)
    return top, bot, float(xs.min()), float(xs.max()) + 1, neck, hip


def framing_box(labels: torch.Tensor, kind: str, g: torch.Generator, aspect: float | None = None) -> tuple[float, float, float, float]:
    """Crop box ``(x0, y0, x1, y1)`` in source pixels for one framing of the person in ``labels`` (int ``H x W``).

    ``kind`` in :data:`FRAMINGS`; ``aspect`` (w / h) widens or heightens the box about its centre to that aspect.
    The whole map when no person is labelled.
    """
    H, W = labels.shape
    lines = body_lines(labels)
    if lines is None:
        return 0.0, 0.0, float(W), float(H)
    top, bot, left, right, neck, hip = lines
    h = bot - top
    if kind == "knees":
        cut = top + _u(g, 0.68, 0.78) * h
    elif kind == "hips":
        cut = hip + _u(g, -0.02, 0.06) * h
    elif kind == "shoulders":
        cut = neck + _u(g, 0.06, 0.16) * h
    elif kind == "edge":
        cut = bot + _u(g, 0.0, 0.05) * h
    else:
        raise ConfigError(f"unknown framing {kind!r}; valid: {', '.join(FRAMINGS)}")
    y0 = top - _u(g, 0.02, 0.12) * (cut - top)
    rows = labels[max(int(y0), 0) : max(int(cut), 1)]
    cols = torch.nonzero(((rows != 0) & (rows != IGNORE_INDEX)).any(0), as_tuple=True)[0]
    x_lo, x_hi = (float(cols.min()), float(cols.max()) + 1) if cols.numel() else (left, right)
    margin = _u(g, 0.05, 0.3) * (x_hi - x_lo)
    x0, x1, y1 = x_lo - margin, x_hi + margin, cut
    if kind == "edge":  # cut the person by one frame edge: left, right or top
        side = int(torch.randint(3, (1,), generator=g))
        bw, bh = x1 - x0, y1 - y0
        if side == 0:
            x0 += _u(g, 0.15, 0.5) * bw
        elif side == 1:
            x1 -= _u(g, 0.15, 0.5) * bw
        else:
            y0 += _u(g, 0.1, 0.3) * bh
    if aspect is not None:
        bw, bh = x1 - x0, y1 - y0
        if bw / bh < aspect:
            cx = (x0 + x1) / 2
            x0, x1 = cx - bh * aspect / 2, cx + bh * aspect / 2
        else:
            grow = bw / aspect - bh
            f = _u(g, 0.0, 1.0)  # mostly extend downwards would show what the crop cut off; split at random
            y0, y1 = y0 - grow * f * 0.3, y1 + grow * (1 - f * 0.3)
    return x0, y0, x1, y1


def _theta_box(box: tuple[float, float, float, float], src_hw: tuple[int, int], content: tuple[float, float, float, float]) -> torch.Tensor:
    """2x3 theta (``affine_grid``, align_corners=False) sampling source ``box`` into output ``content``.

    Both are ``(x0, y0, x1, y1)`` with pixel-edge coordinates; content is given in normalised output coords.
    """
    sh, sw = src_hw
    bx0, by0, bx1, by1 = box
    cx0, cy0, cx1, cy1 = content
    # output normalised n -> source pixel-edge coordinate, then to source normalised
    ax = (bx1 - bx0) / (cx1 - cx0)
    ay = (by1 - by0) / (cy1 - cy0)
    th = torch.zeros(2, 3)
    th[0, 0] = 2 * ax / sw
    th[0, 2] = 2 * (bx0 - ax * cx0) / sw - 1
    th[1, 1] = 2 * ay / sh
    th[1, 2] = 2 * (by0 - ay * cy0) / sh - 1
    return th


def crop_into(
    images: torch.Tensor, labels: torch.Tensor, boxes: list[tuple[float, float, float, float]], out_hw: tuple[int, int],
    fill: tuple[float, float, float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample each ``boxes[i]`` of ``images``/``labels`` into an ``out_hw`` canvas, aspect kept, centred, letterboxed.

    Pixels outside the source photo and the letterbox bars get ``fill`` and label 255.
    Returns ``(float32 B x 3 x h x w, int64 B x h x w)``.
    """
    n, _, sh, sw = images.shape
    dh, dw = out_hw
    thetas, contents = [], []
    for x0, y0, x1, y1 in boxes:
        s = min(dh / (y1 - y0), dw / (x1 - x0))
        nh, nw = min(dh, max(1, round((y1 - y0) * s))), min(dw, max(1, round((x1 - x0) * s)))
        top, left = (dh - nh) // 2, (dw - nw) // 2
        contents.append((top, left, nh, nw))
        c = (2 * left / dw - 1, 2 * top / dh - 1, 2 * (left + nw) / dw - 1, 2 * (top + nh) / dh - 1)
        thetas.append(_theta_box((x0, y0, x1, y1), (sh, sw), c))
    grid = F.affine_grid(torch.stack(thetas).to(images.device), [n, 3, dh, dw], align_corners=False)
    shade = torch.as_tensor(fill, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    x = F.grid_sample(images - shade, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + shade
    lab = F.grid_sample(labels.float().unsqueeze(1) + 1, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    y = lab[:, 0].round().long() - 1
    y[y < 0] = IGNORE_INDEX
    for i, (top, left, nh, nw) in enumerate(contents):
        bars = torch.ones(dh, dw, dtype=torch.bool, device=images.device)
        bars[top : top + nh, left : left + nw] = False
        x[i][:, bars] = shade.view(3, 1)
        y[i][bars] = IGNORE_INDEX
    return x, y


def frame_crops(
    images: torch.Tensor, labels: torch.Tensor, out_size: tuple[int, int], cfg: ViewConfig, g: torch.Generator, *,
    landscape: bool, fill: tuple[float, float, float],
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of framing crops (one random framing per sample) in a portrait ``out_size`` = (h, w) canvas or its transpose.

    Returns ``(float32 B x 3 x h' x w' in [0, 1], int64 B x h' x w')``, labels aligned with the pixels.
    """
    dh, dw = (out_size[1], out_size[0]) if landscape else out_size
    w = torch.tensor(cfg.framing_weights, dtype=torch.float64)
    boxes = []
    for i in range(images.shape[0]):
        kind = FRAMINGS[int(torch.multinomial(w, 1, generator=g))]
        aspect = dw / dh if _u(g) < cfg.p_fill_canvas else None
        boxes.append(framing_box(labels[i], kind, g, aspect))
    return crop_into(images, labels.long(), boxes, (dh, dw), fill)


def _tiles(images: torch.Tensor, labels: torch.Tensor, k: int, first: int, dh: int, dw: int, fill: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` whole photos (from index ``first``, wrapping) side by side, each scaled to the same height, letterboxed into ``dh x dw``."""
    n, _, sh, sw = images.shape
    idx = [(first + j) % n for j in range(k)]
    row_x = torch.cat([images[j] for j in idx], -1)
    row_y = torch.cat([labels[j] for j in idx], -1)
    box = [(0.0, 0.0, float(row_x.shape[-1]), float(sh))]
    x, y = crop_into(row_x[None], row_y[None], box, (dh, dw), tuple(fill.tolist()))
    return x[0], y[0]


def compose_groups(
    images: torch.Tensor, labels: torch.Tensor, out_size: tuple[int, int], cfg: ViewConfig, g: torch.Generator, *,
    landscape: bool, fill: tuple[float, float, float], scenes: SceneConfig | None = None,
    photos: torch.Tensor | None = None, strips: list[tuple[int, int, int]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of group scenes: output ``i`` holds the people of samples ``i, i+1, ...`` (wrapping), the nearest drawn last.

    Args:
        images: float32 ``B x 3 x H x W`` in [0, 1]; labels: int ``B x H x W`` ATR ids / 255.
        out_size: portrait ``(h, w)``; ``landscape`` uses ``(w, h)``.
        scenes, photos, strips: backgrounds as :func:`training.scenes.make_backgrounds` makes them.

    Returns ``(float32 B x 3 x h' x w', int64 B x h' x w')``.
    """
    n, _, sh, sw = images.shape
    dh, dw = (out_size[1], out_size[0]) if landscape else out_size
    labels = labels.long()
    shade = torch.as_tensor(fill, dtype=images.dtype)
    bg = make_backgrounds(n, (dh, dw), g, scenes or SceneConfig(), photos, strips)
    valid_person = ((labels != 0) & (labels != IGNORE_INDEX)).float().unsqueeze(1)
    # the person with the ignored pixels inside it, but not the ignored bars at the photo's edges
    near = F.max_pool2d(valid_person, 9, 1, 4)[:, 0] > 0
    person = (labels != 0) & near
    out_x, out_y = bg.clone(), torch.zeros(n, dh, dw, dtype=torch.long)
    ones = torch.ones(1, 1, sh, sw)
    for i in range(n):
        k = int(torch.randint(cfg.people[0], cfg.people[1] + 1, (1,), generator=g))
        if _u(g) < cfg.p_tiles:
            out_x[i], out_y[i] = _tiles(images, labels, k, i, dh, dw, shade)
            continue
        near_h = _u(g, *cfg.person_height) * dh
        heights = sorted((near_h * (1.0 if j == 0 else _u(g, *cfg.depth_shrink)) for j in range(k)))  # farthest first
        # left-to-right slots over a span of the canvas (narrow spans overlap people), shuffled so depth and
        # position are independent
        slots = torch.randperm(k, generator=g).tolist()
        span = _u(g, *cfg.spread) * dw
        x_start = _u(g, min(0.0, dw - span), max(0.0, dw - span))
        for rank, hgt in enumerate(heights):
            j = (i + rank) % n
            ys, xs = torch.nonzero(valid_person[j, 0] > 0, as_tuple=True)
            if ys.numel() < 50:
                continue
            box = (float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1)
            scale = hgt / (box[3] - box[1])
            slot_w = span / k
            cx = x_start + (slots[rank] + 0.5) * slot_w + _u(g, -0.35, 0.35) * slot_w
            depth = 1 - hgt / max(heights)  # 0 for the nearest
            bottom = dh * (_u(g, 0.93, 1.03) - 0.25 * depth)
            theta = _placement((sh, sw), (dh, dw), scale, cx, bottom, box, _u(g, -4, 4))[None]
            grid = F.affine_grid(theta, [1, 3, dh, dw], align_corners=False)
            xj = F.grid_sample(images[j : j + 1], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
            lj = F.grid_sample(labels[j : j + 1, None].float() + 1, grid, mode="nearest", padding_mode="zeros", align_corners=False)[0, 0]
            lj = lj.round().long() - 1
            soft = F.grid_sample(person[j : j + 1, None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            soft = soft * F.grid_sample(ones, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            alpha = F.avg_pool2d(soft, 3, 1, 1, count_include_pad=False)[0]
            out_x[i] = alpha * xj + (1 - alpha) * out_x[i]
            keep = (lj >= 0) & (lj != 0) & (soft[0, 0] >= 0.5)
            out_y[i] = torch.where(keep, lj, out_y[i])
    return out_x, out_y
