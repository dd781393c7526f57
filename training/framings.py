"""Framing validation: how a parser does on partial people, groups and small people, from CCP's validation photos.

``python -m training.framings --checkpoint PATH [--limit N] [--flip-tta] [--json]``

The set is built from the 120 CCP validation photos of the recipe's seeded
split (:func:`training.data.cache.make_split` over all pixel-level ids, 120,
seed 0: the split the bundled model's metrics use), at full resolution,
labels mapped to ATR (:func:`training.data.ccp.ccp_to_atr`):

* ``whole``: the photo as it is;
* ``hips``: head to hips (rows from just above the head to the hip line);
* ``shoulders``: head and shoulders (to the neck line + 12 % of the person's height);
* ``group``: 2, 3 or 4 consecutive photos side by side at half size (each photo once);
* ``small``: the person cut out at 30-50 % of a 1280x720 landscape frame's height onto a
  generated room (:func:`training.scenes.make_backgrounds`); everything else is Background.

Body lines are those of :func:`training.views.body_lines`. Everything is
deterministic (seeded per photo).

:func:`evaluate_framings` takes ANY ``predict(image uint8 H x W x 3 RGB) -> labels uint8 H x W``
(ATR ids) and returns per framing:

* ``coarse_miou``: mean IoU over the :data:`COARSE_CLASSES` that appear in the ground truth of at
  least ``min_image_share`` (10 %) of the framing's images, from one confusion matrix over the
  framing's images (255 ignored). The share keeps slivers out of the mean: a head-and-shoulders
  crop whose bottom edge grazes the trousers of 3 people in 120 would otherwise put a class at
  IoU ~0 into the mean. ``coarse_iou`` still lists every class present at all;
* ``found_rate``: the share of people found; a person is *found* when at least half of their
  true person pixels (label neither Background nor 255) are non-Background in the prediction;
* ``coarse_iou`` per coarse class, ``pixel_accuracy`` (coarse), ``images``, ``people``.

:func:`mirror_limb_agreement` measures how mirror-consistent a parser's limbs are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import torch

from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX, hflip_labels

from .metrics import scores

__all__ = [
    "COARSE_CLASSES",
    "COARSE_LUT",
    "COARSE_NAMES",
    "FRAMINGS",
    "FramingSample",
    "to_coarse",
    "build_framing_set",
    "evaluate_framings",
    "mirror_limb_agreement",
    "checkpoint_predictor",
    "format_table",
    "main",
]

Predict = Callable[[np.ndarray], np.ndarray]

#: Coarse classes: name -> ATR class names. Sunglasses count as face, Belt as lower body.
COARSE_CLASSES: dict[str, tuple[str, ...]] = {
    "background": ("Background",),
    "hair+hat": ("Hair", "Hat"),
    "face": ("Face", "Sunglasses"),
    "upper": ("Upper-clothes", "Dress", "Scarf"),
    "lower": ("Pants", "Skirt", "Belt"),
    "arms": ("Left-arm", "Right-arm"),
    "legs": ("Left-leg", "Right-leg"),
    "shoes": ("Left-shoe", "Right-shoe"),
    "bag": ("Bag",),
}
COARSE_NAMES: tuple[str, ...] = tuple(COARSE_CLASSES)

#: uint8 LUT of 256 entries: ATR id -> coarse id (255 stays 255).
COARSE_LUT: np.ndarray = np.full(256, IGNORE_INDEX, np.uint8)
for _i, _members in enumerate(COARSE_CLASSES.values()):
    for _m in _members:
        COARSE_LUT[CLASS_INDEX[_m]] = _i

FRAMINGS: tuple[str, ...] = ("whole", "hips", "shoulders", "group", "small")
LIMBS: tuple[int, ...] = (CLASS_INDEX["Left-leg"], CLASS_INDEX["Right-leg"], CLASS_INDEX["Left-arm"], CLASS_INDEX["Right-arm"])


@dataclass
class FramingSample:
    """One evaluation image: ``image`` uint8 H x W x 3 RGB, ``labels`` uint8 H x W ATR ids / 255, ``people`` bool masks H x W."""

    framing: str
    image: np.ndarray
    labels: np.ndarray
    people: list[np.ndarray] = field(default_factory=list)
    source_ids: tuple[str, ...] = ()


def to_coarse(labels: np.ndarray) -> np.ndarray:
    """uint8 coarse ids (:data:`COARSE_CLASSES` order) of uint8 ATR ids; 255 stays 255."""
    return COARSE_LUT[labels]


def _person(labels: np.ndarray) -> np.ndarray:
    return (labels != 0) & (labels != IGNORE_INDEX)


def _lines(labels: np.ndarray) -> tuple[float, float, float, float, float, float] | None:
    from .views import body_lines

    return body_lines(torch.from_numpy(labels.astype(np.int64)))


def _crop_rows(image: np.ndarray, labels: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray] | None:
    lines = _lines(labels)
    if lines is None:
        return None
    top, bot, _, _, neck, hip = lines
    h = bot - top
    y0 = max(0, int(top - 0.05 * h))
    cut = hip + 0.02 * h if kind == "hips" else neck + 0.12 * h
    y1 = min(labels.shape[0], int(round(cut)))
    if y1 - y0 < 16:
        return None
    return image[y0:y1].copy(), labels[y0:y1].copy()


def _resize_pair(image: np.ndarray, labels: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = labels.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)


def _small(image: np.ndarray, labels: np.ndarray, seed: int) -> FramingSample | None:
    from .scenes import SceneConfig, make_backgrounds

    lines = _lines(labels)
    if lines is None:
        return None
    top, bot, left, right, _, _ = lines
    H, W = 720, 1280
    g = torch.Generator().manual_seed(seed)
    bg = make_backgrounds(1, (H, W), g, SceneConfig())[0]
    canvas = (bg.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    out = np.zeros((H, W), np.uint8)
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.3, 0.5) * H / (bot - top)
    im_s, lab_s = _resize_pair(image, labels, s)
    # the person with the ignored pixels inside them, not the photo's ignored edges
    valid = _person(lab_s)
    near = cv2.dilate(valid.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    cut = (lab_s != 0) & near
    ys, xs = np.nonzero(cut)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    ph, pw = y1 - y0, x1 - x0
    oy = int(rng.uniform(0.6, 0.95) * H) - ph
    oy = min(max(oy, 0), H - ph)
    ox = int(rng.uniform(0, max(1, W - pw)))
    m = cut[y0:y1, x0:x1]
    canvas[oy : oy + ph, ox : ox + pw][m] = im_s[y0:y1, x0:x1][m]
    out[oy : oy + ph, ox : ox + pw][m] = lab_s[y0:y1, x0:x1][m]
    person = np.zeros((H, W), bool)
    person[oy : oy + ph, ox : ox + pw] = valid[y0:y1, x0:x1]
    return FramingSample("small", canvas, out, [person])


def build_framing_set(
    root: str | os.PathLike | None = None, *, limit: int | None = None, framings: Sequence[str] = FRAMINGS,
    val_count: int = 120, seed: int = 0,
) -> list[FramingSample]:
    """The framing validation set from CCP's validation photos (the first ``limit`` of them when given).

    Raises :class:`tryon_sdk.errors.DataError` when CCP is not found.
    """
    from .data.cache import make_split
    from .data.ccp import ccp_ids, find_ccp_root, load_ccp_sample, read_label_names

    bad = sorted(set(framings) - set(FRAMINGS))
    if bad:
        from tryon_sdk.errors import ConfigError

        raise ConfigError(f"unknown framings {bad}; valid: {', '.join(FRAMINGS)}")
    root = find_ccp_root(root)
    names = read_label_names(root)
    ids = make_split(ccp_ids(root), val_count, seed)["val_ids"]
    if limit is not None:
        ids = ids[:limit]
    photos = [(i, *load_ccp_sample(root, i, names)) for i in ids]
    out: list[FramingSample] = []
    for k, (image_id, image, labels) in enumerate(photos):
        if "whole" in framings:
            out.append(FramingSample("whole", image, labels, [_person(labels)], (image_id,)))
        for kind in ("hips", "shoulders"):
            if kind in framings:
                c = _crop_rows(image, labels, kind)
                if c is not None:
                    out.append(FramingSample(kind, c[0], c[1], [_person(c[1])], (image_id,)))
        if "small" in framings:
            s = _small(image, labels, seed * 100_003 + k)
            if s is not None:
                s.source_ids = (image_id,)
                out.append(s)
    if "group" in framings:
        k, n_in = 0, 2
        while k < len(photos):
            chunk = photos[k : k + n_in]
            if len(chunk) >= 2:
                halves = [_resize_pair(im, lab, 0.5) for _, im, lab in chunk]
                h = min(lab.shape[0] for _, lab in halves)
                ims = [im[:h] for im, _ in halves]
                labs = [lab[:h] for _, lab in halves]
                people, x = [], 0
                width = sum(lab.shape[1] for lab in labs)
                for lab in labs:
                    m = np.zeros((h, width), bool)
                    m[:, x : x + lab.shape[1]] = _person(lab)
                    people.append(m)
                    x += lab.shape[1]
                out.append(FramingSample("group", np.concatenate(ims, 1), np.concatenate(labs, 1), people,
                                         tuple(i for i, _, _ in chunk)))
            k += len(chunk)
            n_in = 2 + (n_in - 1) % 3  # 2, 3, 4, 2, ...
    return out


def evaluate_framings(predict: Predict, samples: Sequence[FramingSample], *, min_image_share: float = 0.1) -> dict[str, dict[str, Any]]:
    """Per framing: ``coarse_miou``, ``found_rate``, ``coarse_iou``, ``pixel_accuracy``, ``images``, ``people``, ``classes``.

    ``predict``: uint8 ``H x W x 3`` RGB -> uint8 ``H x W`` ATR ids (any parser: a checkpoint, ``Parser.parse``...).
    ``classes``: the coarse classes averaged into ``coarse_miou`` (see the module docstring).
    """
    n = len(COARSE_NAMES)
    conf: dict[str, np.ndarray] = {}
    seen: dict[str, np.ndarray] = {}
    found: dict[str, list[int]] = {}
    for s in samples:
        pred = np.asarray(predict(s.image))
        if pred.shape != s.labels.shape:
            raise ValueError(f"predict returned {pred.shape} labels for a {s.labels.shape} image")
        t = to_coarse(s.labels)
        p = to_coarse(pred.astype(np.uint8))
        p = np.where(p == IGNORE_INDEX, 0, p)  # a predicted id outside the 18 classes counts as background
        valid = t != IGNORE_INDEX
        cm = np.bincount(t[valid].astype(np.int64) * n + p[valid], minlength=n * n).reshape(n, n)
        conf[s.framing] = conf.get(s.framing, np.zeros((n, n), np.int64)) + cm
        seen[s.framing] = seen.get(s.framing, np.zeros(n, np.int64)) + (cm.sum(1) > 0)
        f = found.setdefault(s.framing, [0, 0])
        for person in s.people:
            total = int(person.sum())
            if total == 0:
                continue
            f[1] += 1
            f[0] += int(np.count_nonzero(pred[person] != 0) * 2 >= total)
    out: dict[str, dict[str, Any]] = {}
    counts = {k: sum(1 for s in samples if s.framing == k) for k in conf}
    for k in [f for f in FRAMINGS if f in conf] + [f for f in conf if f not in FRAMINGS]:
        sc = scores(conf[k], COARSE_NAMES)
        counted = [c for i, c in enumerate(COARSE_NAMES) if seen[k][i] >= max(1.0, min_image_share * counts[k])]
        miou = float(np.mean([sc["per_class_iou"][c] for c in counted])) if counted else float("nan")
        out[k] = {
            "coarse_miou": miou, "pixel_accuracy": sc["pixel_accuracy"], "coarse_iou": sc["per_class_iou"], "classes": counted,
            "found_rate": found[k][0] / found[k][1] if found[k][1] else float("nan"),
            "images": counts[k], "people": found[k][1],
        }
    return out


def mirror_limb_agreement(predict: Predict, images: Sequence[np.ndarray]) -> dict[str, float]:
    """How mirror-consistent the limbs of ``predict`` are.

    For each image ``a = predict(x)`` and ``b = hflip_labels(predict(mirror(x)))`` (mirrored back,
    sides swapped). ``limb_agreement``: of the pixels that are a limb (Left/Right leg or arm) in ``a``
    or ``b``, the share that is a limb in both; ``side_agreement``: where both call it a limb, the share
    with the same class. Summed over all images. ``{"limb_agreement", "side_agreement", "limb_pixels"}``.
    """
    limbs = np.array(LIMBS)
    either = both = same = 0
    for x in images:
        a = np.asarray(predict(x))
        b = hflip_labels(np.asarray(predict(np.ascontiguousarray(x[:, ::-1]))))
        la, lb = np.isin(a, limbs), np.isin(b, limbs)
        either += int((la | lb).sum())
        both += int((la & lb).sum())
        same += int((la & lb & (a == b)).sum())
    return {
        "limb_agreement": both / either if either else float("nan"),
        "side_agreement": same / both if both else float("nan"),
        "limb_pixels": either,
    }


def checkpoint_predictor(path: str | os.PathLike, *, flip_tta: bool = False, device: str = "cpu") -> Predict:
    """``predict`` of a saved model folder through the parser's own letterbox (:func:`training.evaluate.predict_logits`)."""
    from tryon_sdk.models.builders import build_model
    from tryon_sdk.models.checkpoint import load_checkpoint, load_weights_into

    from .evaluate import predict_logits

    state, cfg = load_checkpoint(path)
    model = build_model(cfg)
    load_weights_into(model, state, cfg, source=str(path))
    model.eval().to(device)

    def predict(image: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(image))[None].to(device)
        logits = predict_logits(model, cfg, x, tuple(image.shape[:2]), flip_tta=flip_tta)
        return logits[0].argmax(0).to(torch.uint8).cpu().numpy()

    return predict


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table of :func:`evaluate_framings`'s result (and ``mirror`` when present)."""
    lines = [f"{'framing':<10} {'images':>6} {'people':>6} {'coarse mIoU':>11} {'found':>6}"]
    for k, r in report["framings"].items():
        lines.append(f"{k:<10} {r['images']:>6} {r['people']:>6} {r['coarse_miou']:>11.3f} {r['found_rate']:>6.3f}")
    if "mirror" in report:
        m = report["mirror"]
        lines.append(f"mirror limb agreement {m['limb_agreement']:.3f} (sides agree {m['side_agreement']:.3f}) on {report.get('mirror_images', '?')} whole photos")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.framings", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="a saved model folder (e.g. tryon_sdk/weights/default or runs/x/best)")
    p.add_argument("--root", default=None, help="CCP folder (default: $TRYON_SHARED_DATA/clothing-co-parsing)")
    p.add_argument("--limit", type=int, default=None, help="only the first N validation photos")
    p.add_argument("--framings", default=",".join(FRAMINGS), help=f"comma-separated subset of {','.join(FRAMINGS)}")
    p.add_argument("--flip-tta", action="store_true")
    p.add_argument("--no-mirror", action="store_true", help="skip the mirror limb agreement (on the whole photos)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    samples = build_framing_set(a.root, limit=a.limit, framings=[f for f in a.framings.split(",") if f])
    predict = checkpoint_predictor(a.checkpoint, flip_tta=a.flip_tta)
    report: dict[str, Any] = {"checkpoint": str(a.checkpoint), "flip_tta": a.flip_tta, "framings": evaluate_framings(predict, samples)}
    if not a.no_mirror:
        whole = [s.image for s in samples if s.framing == "whole"]
        if not whole:
            whole = [s.image for s in build_framing_set(a.root, limit=a.limit, framings=["whole"])]
        report["mirror"] = mirror_limb_agreement(predict, whole)
        report["mirror_images"] = len(whole)
    print(json.dumps(report, indent=1) if a.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
