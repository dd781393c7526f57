"""Cross-entropy + multi-class Dice: ``L = L_CE + dice_weight * L_Dice``.

The Dice term is computed over the whole batch per class, on valid pixels
only (target != ignore index), from softmax probabilities:
``dice_c = (2 sum p_c t_c + eps) / (sum p_c + sum t_c + eps)``, and averaged
over the classes *present in the target or in the prediction (argmax)* of
the batch. Classes absent from both carry no information; averaging them in
(each contributing ``1 - eps/eps = 0`` with smoothing, or an arbitrary value
without) would either reward nothing or dominate the loss. A class that is
predicted but absent from the target has Dice ~0 and is pushed down.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tryon_sdk.labels import IGNORE_INDEX, NUM_CLASSES

__all__ = ["dice_loss", "CEDiceLoss"]


def dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX, eps: float = 1.0) -> torch.Tensor:
    """Mean ``1 - dice_c`` over classes present in target or argmax prediction.

    ``logits``: float ``B x C x H x W``; ``target``: int64 ``B x H x W`` (ids or
    ``ignore_index``). Returns a scalar (0 when no pixel is valid).
    """
    num_classes = logits.shape[1]
    valid = target != ignore_index
    if not valid.any():
        return logits.sum() * 0.0
    prob = logits.float().softmax(1)
    t = torch.where(valid, target, 0)
    v = valid.to(prob.dtype)
    # per-class sums without a B x C x H x W one-hot: gather p at the true class
    p_true = prob.gather(1, t.unsqueeze(1)).squeeze(1) * v
    inter = torch.zeros(num_classes, dtype=prob.dtype, device=prob.device).scatter_add(0, t.reshape(-1), p_true.reshape(-1))
    psum = (prob * v.unsqueeze(1)).sum((0, 2, 3))
    tsum = torch.bincount(t[valid], minlength=num_classes)[:num_classes].to(prob.dtype)
    dice = (2 * inter + eps) / (psum + tsum + eps)
    present = tsum > 0
    present |= torch.bincount(logits.detach().argmax(1)[valid], minlength=num_classes)[:num_classes] > 0
    return (1 - dice)[present].mean()


class CEDiceLoss(nn.Module):
    """``CE(weight, ignore_index) + dice_weight * Dice``; ``forward(logits B x C x H x W, target int64 B x H x W) -> scalar``."""

    def __init__(self, class_weights: torch.Tensor | None = None, dice_weight: float = 1.0, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.dice_weight = dice_weight
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        if (target != self.ignore_index).any():
            ce = F.cross_entropy(logits, target, weight=self.class_weights, ignore_index=self.ignore_index)
        else:
            ce = logits.sum() * 0.0
        if self.dice_weight == 0:
            return ce
        return ce + self.dice_weight * dice_loss(logits, target, self.ignore_index)


def class_weights_from_masks(masks: np.ndarray, num_classes: int = NUM_CLASSES, lo: float = 0.2, hi: float = 5.0) -> torch.Tensor:
    """Square-root median-frequency weights (float32 ``C``), clipped to ``[lo, hi]``; absent classes get 1."""
    counts = np.bincount(masks.reshape(-1), minlength=256)[:num_classes].astype(np.float64)
    present = counts > 0
    freq = counts / counts.sum()
    w = np.ones(num_classes)
    w[present] = np.sqrt(np.median(freq[present]) / freq[present])
    return torch.tensor(np.clip(w, lo, hi), dtype=torch.float32)


def mirror_consistency_loss(logits: torch.Tensor, logits_of_mirror: torch.Tensor) -> torch.Tensor:
    """Symmetric KL between the scores of images and the mirrored scores of their mirrors, left/right swapped.

    ``logits``: float ``B x C x H x W`` = ``f(x)``; ``logits_of_mirror``: ``f(flip(x))``.
    With ``q = swap_lr(flip(softmax(f(flip(x)))))`` the loss is ``mean over pixels of
    (KL(p || q) + KL(q || p)) / 2``: 0 for a network that is mirror-consistent, > 0 otherwise.
    Gradients flow into both branches. Returns a scalar.
    """
    from tryon_sdk.labels import swap_lr_channels

    lp = logits.float().log_softmax(1)
    lq = swap_lr_channels(logits_of_mirror.float().flip(-1), dim=1).log_softmax(1)
    p, q = lp.exp(), lq.exp()
    return 0.5 * ((p * (lp - lq)).sum(1) + (q * (lq - lp)).sum(1)).mean()
