"""Evaluation: ``python -m training.evaluate --checkpoint DIR --dataset SPEC [--flip-tta] [--out report.json]``.

Each image is letterboxed exactly as :class:`tryon_sdk.Parser` does it (aspect
kept, even padding to the stride multiple, the model's mean/std) and the
scores are cropped and resized back bilinearly to the label resolution, so
numbers are measured on the labels as stored and describe the parser. Metrics
come from one confusion matrix over the whole set (:mod:`training.metrics`).

``--dataset`` is ``ccp-val`` (the validation split recorded in the
checkpoint's ``data_split``), ``ccp`` (all CCP images), or a ``.npz`` cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tryon_sdk.models.checkpoint import load_checkpoint, load_weights_into
from tryon_sdk.config import ModelConfig
from tryon_sdk.models.builders import build_model
from tryon_sdk.errors import ConfigError, DataError
from tryon_sdk.labels import IGNORE_INDEX
from tryon_sdk.engines.tta import flip_tta_probabilities
from tryon_sdk.preprocess import Preprocess

from .metrics import confusion_matrix, scores

__all__ = ["predict_logits", "evaluate_arrays", "format_table", "main"]

DATASETS = ("ccp-val", "ccp", "<path>.npz")


@torch.inference_mode()
def predict_logits(model: nn.Module, cfg: ModelConfig, images: torch.Tensor, out_size: tuple[int, int], flip_tta: bool = False, channels_last: bool = False) -> torch.Tensor:
    """Scores float32 ``B x C x out_h x out_w`` for uint8 ``B x H x W x 3`` images (on the model's device).

    The images go through the parser's own transform (:class:`tryon_sdk.preprocess.Preprocess`) and flip
    TTA (:func:`tryon_sdk.engines.tta.flip_tta_probabilities`), and come back through
    :meth:`~tryon_sdk.preprocess.Preprocess.restore`, so the metrics describe what :class:`~tryon_sdk.Parser` does.
    With ``flip_tta`` the scores are probabilities, else logits (same argmax).
    """
    batch, boxes = Preprocess.from_config(cfg)(list(images.permute(0, 3, 1, 2)))
    if channels_last:
        batch = batch.contiguous(memory_format=torch.channels_last)

    def run(x: torch.Tensor) -> torch.Tensor:
        return model(x)["out"].float()

    scores = flip_tta_probabilities(run, batch, cfg.flip_pairs) if flip_tta else run(batch)
    out = torch.stack([Preprocess.restore(score, box) for score, box in zip(scores, boxes)])
    if tuple(out.shape[-2:]) != tuple(out_size):
        out = F.interpolate(out, size=out_size, mode="bilinear", align_corners=False)
    return out


def evaluate_arrays(
    model: nn.Module,
    cfg: ModelConfig,
    images: np.ndarray,
    masks: np.ndarray,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 16,
    flip_tta: bool = False,
    channels_last: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` on uint8 ``N x H x W x 3`` images and ``N x H x W`` masks (ATR ids / 255).

    Returns :func:`training.metrics.scores` plus ``"confusion"`` (list of lists) and ``"images"``.
    """
    was_training = model.training
    model.eval()
    cm = torch.zeros(cfg.num_classes, cfg.num_classes, dtype=torch.int64)
    for i in range(0, len(images), batch_size):
        imgs = torch.from_numpy(np.ascontiguousarray(images[i : i + batch_size])).to(device)
        gt = torch.from_numpy(np.ascontiguousarray(masks[i : i + batch_size])).to(device).long()
        logits = predict_logits(model, cfg, imgs, tuple(gt.shape[-2:]), flip_tta, channels_last)
        cm += confusion_matrix(logits.argmax(1), gt, cfg.num_classes, IGNORE_INDEX)
    model.train(was_training)
    rep = scores(cm, tuple(cfg.class_names))
    rep["confusion"] = cm.tolist()
    rep["images"] = int(len(images))
    return rep


def format_table(report: dict[str, Any]) -> str:
    """Plain-text per-class IoU table."""
    lines = [f"{'class':<15} {'IoU':>7}", "-" * 23]
    for name, iou in report["per_class_iou"].items():
        lines.append(f"{name:<15} {('%.4f' % iou) if iou is not None else '   n/a':>7}")
    lines += ["-" * 23, f"{'mean IoU':<15} {report['mean_iou']:>7.4f}", f"{'pixel acc':<15} {report['pixel_accuracy']:>7.4f}"]
    return "\n".join(lines)


def _dataset_arrays(spec: str, cfg: ModelConfig, cache_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    from .data.cache import ccp_cache, load_cache
    from .data.sources import default_cache_dir

    if spec.endswith(".npz"):
        images, masks, _, _ = load_cache(spec)
        return images, masks
    if spec in ("ccp", "ccp-val"):
        size = tuple(cfg.data_split.get("cache_size") or (384, 256))
        pad_color = Preprocess.from_config(cfg).pad_color
        images, masks, ids, _ = load_cache(ccp_cache(None, size, cache_dir or default_cache_dir(), pad_color=pad_color))
        if spec == "ccp":
            return images, masks
        srcs = [s for s in cfg.data_split.get("sources", []) if s.get("name") == "clothing-co-parsing"]
        if not srcs or not srcs[0].get("val_ids"):
            raise DataError("the checkpoint records no CCP validation split (data_split.sources[].val_ids); use --dataset ccp")
        index = {k: i for i, k in enumerate(ids)}
        sel = np.array([index[k] for k in srcs[0]["val_ids"]])
        return images[sel], masks[sel]
    raise ConfigError(f"unknown dataset {spec!r}; valid: {', '.join(DATASETS)}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description="Evaluate a checkpoint: pixel accuracy, mean and per-class IoU.")
    p.add_argument("--checkpoint", required=True, help="folder with model.safetensors + config.json")
    p.add_argument("--dataset", required=True, help="ccp-val, ccp or a .npz cache")
    p.add_argument("--out", default=None, help="JSON report path (default <checkpoint>/eval_<dataset>.json)")
    p.add_argument("--flip-tta", action="store_true", help="average with the mirrored prediction (left/right swapped)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--cache-dir", default=None)
    a = p.parse_args(argv)
    state, cfg = load_checkpoint(a.checkpoint)
    model = build_model(cfg)
    load_weights_into(model, state, cfg, source=a.checkpoint)
    model.to(a.device)
    images, masks = _dataset_arrays(a.dataset, cfg, a.cache_dir)
    rep = evaluate_arrays(model, cfg, images, masks, device=torch.device(a.device), batch_size=a.batch_size, flip_tta=a.flip_tta)
    rep.update(checkpoint=str(a.checkpoint), dataset=a.dataset, flip_tta=a.flip_tta)
    out = Path(a.out) if a.out else Path(a.checkpoint) / f"eval_{Path(a.dataset).stem}.json"
    out.write_text(json.dumps(rep, indent=1))
    print(format_table(rep))
    print(f"report: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
