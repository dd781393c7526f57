"""Confusion-matrix segmentation metrics.

``confusion[i, j]`` counts pixels of true class ``i`` predicted as ``j``;
ignore pixels are skipped. Pixel accuracy = trace / total. Per-class IoU =
``TP / (TP + FP + FN)``; mean IoU averages the classes *present in the
ground truth* of the evaluated set (a class never annotated has no IoU;
predictions of it still lower the IoU of the true classes through FP/FN).
"""

from __future__ import annotations

import numpy as np
import torch

from tryon_sdk.labels import IGNORE_INDEX

__all__ = ["confusion_matrix", "scores"]


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """int64 ``C x C`` confusion of ``pred`` vs ``target`` (same shape, integer ids)."""
    valid = target != ignore_index
    t = target[valid].long()
    p = pred[valid].long()
    if t.numel() and (t.max() >= num_classes or t.min() < 0):
        raise ValueError(f"target holds ids outside 0..{num_classes - 1} (and {ignore_index})")
    return torch.bincount(t * num_classes + p, minlength=num_classes * num_classes).view(num_classes, num_classes).cpu()


def scores(confusion: torch.Tensor | np.ndarray, class_names: tuple[str, ...] | None = None) -> dict:
    """``{"pixel_accuracy", "mean_iou", "per_class_iou": {name: iou or None}, "present": [ids]}``."""
    cm = torch.as_tensor(confusion, dtype=torch.float64)
    tp = cm.diag()
    gt = cm.sum(1)
    pr = cm.sum(0)
    union = gt + pr - tp
    present = gt > 0
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.zeros_like(tp))
    names = class_names or tuple(str(i) for i in range(len(tp)))
    total = cm.sum()
    return {
        "pixel_accuracy": float(tp.sum() / total) if total > 0 else float("nan"),
        "mean_iou": float(iou[present].mean()) if present.any() else float("nan"),
        "per_class_iou": {names[i]: (float(iou[i]) if present[i] else None) for i in range(len(tp))},
        "present": [int(i) for i in torch.nonzero(present).flatten()],
    }
