"""The parser's input transform: letterbox and normalise images for the network, and map scores back.

:class:`Preprocess` is built from a :class:`~tryon_sdk.config.ModelConfig`
(``Preprocess.from_config(config)``) and is the one transform everything
that feeds the network uses: :class:`~tryon_sdk.parser.Parser` (its whole
images, people crops and the cheap people-detection pass), the ONNX check
and int8 calibration (:mod:`tryon_sdk.engines`) and training's evaluation.

An image is resized with its aspect ratio kept so that it fits the model's
``input_size`` (``H x W``) — transposed for landscape images, so a landscape
frame gets the same scale as a portrait photo — then padded on both sides
to a multiple of the network stride with the mean colour (0 after
normalisation). The padding is split evenly, the odd pixel at the end;
``symmetric=True`` instead adjusts the resized width by a pixel so the left
and right padding are equal, which makes a mirrored image's tensor exactly
the mirrored tensor (the detection pass needs that under flip TTA).
Everything runs on the images' device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from .config import ModelConfig

__all__ = ["Letterbox", "Preprocess", "plan_letterbox"]


@dataclass(frozen=True)
class Letterbox:
    """Where an image sits inside the padded network input."""

    source: tuple[int, int]   # (H, W) of the original image
    scaled: tuple[int, int]   # (H, W) after the aspect-preserving resize
    padded: tuple[int, int]   # (H, W) of the network input
    offset: tuple[int, int]   # (top, left) padding


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def plan_letterbox(source: tuple[int, int], input_size: tuple[float, float], multiple: int = 32) -> Letterbox:
    """Geometry of fitting an ``(H, W)`` image into ``input_size`` (transposed for landscape images)."""
    h, w = source
    th, tw = input_size
    if (h >= w) != (th >= tw):
        th, tw = tw, th
    scale = min(th / h, tw / w)
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    ph, pw = _round_up(sh, multiple), _round_up(sw, multiple)
    return Letterbox((h, w), (sh, sw), (ph, pw), ((ph - sh) // 2, (pw - sw) // 2))


@dataclass(frozen=True)
class Preprocess:
    """Letterbox + normalisation of one model (see the module docstring).

    Args:
        input_size: ``(H, W)`` of the network input for a portrait image.
        mean, std: per-channel RGB normalisation, for pixel values in [0, 1].
        multiple: the padded input's sides are multiples of this (the network stride).
    """

    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    multiple: int = 32

    @classmethod
    def from_config(cls, config: "ModelConfig") -> "Preprocess":
        return cls(tuple(config.input_size), tuple(config.mean), tuple(config.std), int(config.size_multiple))  # type: ignore[arg-type]

    @property
    def pad_color(self) -> tuple[int, int, int]:
        """uint8 RGB of the padding: the mean colour, about 0 after normalisation."""
        return tuple(int(round(255 * m)) for m in self.mean)  # type: ignore[return-value]

    def plan(self, shape: tuple[int, int], *, scale: float = 1.0, symmetric: bool = False) -> Letterbox:
        """Geometry for an ``(H, W)`` image at ``scale`` of the input size (one image alone in its batch)."""
        size = self.input_size if scale == 1.0 else tuple(max(1.0, v * scale) for v in self.input_size)
        box = plan_letterbox(shape, size, self.multiple)  # type: ignore[arg-type]
        if not symmetric:
            return box
        (sh, sw), (ph, pw) = box.scaled, box.padded
        if (pw - sw) % 2:
            sw = sw + 1 if sw + 1 <= pw else sw - 1
        return Letterbox(box.source, (sh, sw), box.padded, ((ph - sh) // 2, (pw - sw) // 2))

    def __call__(
        self, images: Sequence[torch.Tensor], *, scale: float = 1.0, symmetric: bool = False
    ) -> tuple[torch.Tensor, list[Letterbox]]:
        """Letterbox and normalise ``3xHxW`` uint8 tensors (all on one device).

        Returns a ``B x 3 x Hp x Wp`` float32 batch on that device and one :class:`Letterbox` per image.
        Images of different sizes are centred in the largest padded size. Resizing is bilinear,
        antialiased when it shrinks; on the CPU it runs on the uint8 pixels (rounded to whole levels).
        """
        boxes = [self.plan((int(im.shape[1]), int(im.shape[2])), scale=scale, symmetric=symmetric) for im in images]
        ph = max(b.padded[0] for b in boxes)
        pw = max(b.padded[1] for b in boxes)
        device = images[0].device
        m = torch.tensor(self.mean, device=device).view(3, 1, 1) * 255.0
        s = torch.tensor(self.std, device=device).view(3, 1, 1) * 255.0
        batch = torch.zeros((len(images), 3, ph, pw), dtype=torch.float32, device=device)
        out_boxes = []
        for i, (im, box) in enumerate(zip(images, boxes)):
            x = im
            if box.scaled != box.source:
                antialias = box.scaled[0] < box.source[0]
                if x.device.type != "cpu" or x.dtype != torch.uint8:
                    x = x.float()
                # on the CPU, uint8 in an HWC layout has a vectorised resize about twice as fast as float's
                x = F.interpolate(x[None], size=box.scaled, mode="bilinear", align_corners=False, antialias=antialias)[0]
            box = Letterbox(box.source, box.scaled, (ph, pw), ((ph - box.scaled[0]) // 2, (pw - box.scaled[1]) // 2))
            top, left = box.offset
            region = batch[i, :, top : top + box.scaled[0], left : left + box.scaled[1]]
            region.copy_(x).sub_(m).div_(s)
            out_boxes.append(box)
        return batch, out_boxes

    def arrays(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The batch of ``HxWx3`` uint8 RGB arrays as a ``B x 3 x Hp x Wp`` float32 array (on the CPU)."""
        batch, _ = self([torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1) for im in images])
        return batch.numpy()

    @staticmethod
    def crop(scores: torch.Tensor, box: Letterbox) -> torch.Tensor:
        """The image's part of one ``C x Hp x Wp`` score map, at the resized image's size."""
        top, left = box.offset
        return scores[:, top : top + box.scaled[0], left : left + box.scaled[1]]

    @staticmethod
    def restore(scores: torch.Tensor, box: Letterbox) -> torch.Tensor:
        """Crop one ``C x Hp x Wp`` score map to the image and resize it to the source size (bilinear)."""
        x = Preprocess.crop(scores, box)
        if box.scaled != box.source:
            x = F.interpolate(x[None], size=box.source, mode="bilinear", align_corners=False)[0]
        return x
