"""Letterboxing: fit images to the network input and map predictions back.

An image is resized with its aspect ratio kept so that it fits the model's
``input_size`` (``H x W``) — transposed for landscape images, so a landscape
frame gets the same scale as a portrait photo — then padded evenly on both
sides to a multiple of the network stride. Even padding keeps a mirrored
image's content where the mirrored padded tensor has it, which flip TTA needs.
Everything runs on the engine's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Letterbox", "plan_letterbox", "to_model_input", "restore"]


@dataclass(frozen=True)
class Letterbox:
    """Where an image sits inside the padded network input."""

    source: tuple[int, int]   # (H, W) of the original image
    scaled: tuple[int, int]   # (H, W) after the aspect-preserving resize
    padded: tuple[int, int]   # (H, W) of the network input
    offset: tuple[int, int]   # (top, left) padding


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def plan_letterbox(source: tuple[int, int], input_size: tuple[int, int], multiple: int = 32) -> Letterbox:
    h, w = source
    th, tw = input_size
    if (h >= w) != (th >= tw):
        th, tw = tw, th
    scale = min(th / h, tw / w)
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    ph, pw = _round_up(sh, multiple), _round_up(sw, multiple)
    return Letterbox((h, w), (sh, sw), (ph, pw), ((ph - sh) // 2, (pw - sw) // 2))


def to_model_input(
    images: list[torch.Tensor],
    input_size: tuple[int, int],
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    multiple: int = 32,
) -> tuple[torch.Tensor, list[Letterbox]]:
    """Letterbox and normalise a list of ``3xHxW`` uint8 tensors (already on the device).

    Returns a ``B x 3 x Hp x Wp`` float32 batch (padding is 0 after
    normalisation, i.e. the mean colour) and one :class:`Letterbox` per image.
    Images of different sizes are padded to the largest padded size.
    """
    boxes = [plan_letterbox((int(im.shape[1]), int(im.shape[2])), input_size, multiple) for im in images]
    ph = max(b.padded[0] for b in boxes)
    pw = max(b.padded[1] for b in boxes)
    device = images[0].device
    m = torch.tensor(mean, device=device).view(3, 1, 1) * 255.0
    s = torch.tensor(std, device=device).view(3, 1, 1) * 255.0
    batch = torch.zeros((len(images), 3, ph, pw), dtype=torch.float32, device=device)
    out_boxes = []
    for i, (im, box) in enumerate(zip(images, boxes)):
        x = im.float()
        if box.scaled != box.source:
            antialias = box.scaled[0] < box.source[0]
            x = F.interpolate(x[None], size=box.scaled, mode="bilinear", align_corners=False, antialias=antialias)[0]
        box = Letterbox(box.source, box.scaled, (ph, pw), ((ph - box.scaled[0]) // 2, (pw - box.scaled[1]) // 2))
        top, left = box.offset
        batch[i, :, top : top + box.scaled[0], left : left + box.scaled[1]] = (x - m) / s
        out_boxes.append(box)
    return batch, out_boxes


def restore(scores: torch.Tensor, box: Letterbox) -> torch.Tensor:
    """Crop one ``C x Hp x Wp`` score map to the image and resize it to the source size (bilinear)."""
    top, left = box.offset
    x = scores[:, top : top + box.scaled[0], left : left + box.scaled[1]]
    if box.scaled != box.source:
        x = F.interpolate(x[None], size=box.source, mode="bilinear", align_corners=False)[0]
    return x
