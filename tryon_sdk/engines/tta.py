"""Flip test-time augmentation around any engine: one batch with its mirror image, sides swapped back."""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..labels import swap_lr_channels

__all__ = ["flip_tta_probabilities"]


def flip_tta_probabilities(
    engine: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, flip_pairs: Sequence[tuple[int, int]]
) -> torch.Tensor:
    """Softmax probabilities of a normalised ``B x 3 x H x W`` batch averaged with those of its mirror
    image, the left/right classes of the mirrored pass swapped back (``B x C x H x W`` float32).

    ``engine`` maps a batch to logits; both passes run as one batch of ``2B``.
    """
    logits = engine(torch.cat([batch, batch.flip(-1)]))
    probs, mirrored = logits.softmax(1).chunk(2)
    return 0.5 * (probs + swap_lr_channels(mirrored.flip(-1), dim=1, pairs=flip_pairs))
