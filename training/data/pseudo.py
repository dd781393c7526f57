"""Pseudo-labels for CCP's unlabelled photos, checked against their image-level tags.

CCP ships 1,094 photos without pixel masks (``photos-unlabeled/NNNN.jpg``)
and with tags (``annotations/image-level/NNNN.mat``, variable ``tags``:
indices into ``label_list.mat``). A teacher (a saved checkpoint, by default
the bundled model) labels each photo, fitted to the cache size like the CCP
cache, with flip and multi-scale test-time augmentation (softmax averaged
over scales and mirrors, left/right swapped back). Then:

* a class the tags do not allow is never written: tag names map to ATR by
  :data:`training.mapping.CCP_TO_ATR` (a shoe tag allows both shoes,
  tights/stockings the legs); Background, Hair, Face, the arms and the legs
  are always allowed (CCP's ``skin`` and ``hair`` are on nearly every photo,
  and skin becomes face/arms/legs);
* each pixel takes the allowed class of highest probability and is kept
  only when that probability is at least ``threshold``, else 255.

The result is an ``.npz`` cache with :func:`training.data.cache.load_cache`'s
layout; its meta records the teacher, the threshold and how many photos and
pixels were kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from tryon_sdk.errors import DataError
from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX, NUM_CLASSES, swap_lr_channels
from tryon_sdk.outputs import atomic_path
from tryon_sdk.preprocess import Preprocess

from ..mapping import CCP_TO_ATR, IGNORE, LEG_COVER, SHOE, SKIN
from .cache import FIT, fit_pair
from .ccp import find_ccp_root, read_label_names

__all__ = ["ALWAYS_ALLOWED", "unlabeled_ids", "read_tags", "allowed_classes", "teacher_probabilities", "pseudo_label", "pseudo_cache"]

_C = CLASS_INDEX
#: Background, hair and the skin-derived classes: allowed whatever the tags say.
ALWAYS_ALLOWED: tuple[int, ...] = (_C["Background"], _C["Hair"], _C["Face"], _C["Left-leg"], _C["Right-leg"], _C["Left-arm"], _C["Right-arm"])
_TOKEN_CLASSES = {
    SKIN: (_C["Face"], _C["Left-leg"], _C["Right-leg"], _C["Left-arm"], _C["Right-arm"]),
    LEG_COVER: (_C["Left-leg"], _C["Right-leg"]),
    SHOE: (_C["Left-shoe"], _C["Right-shoe"]),
}


def unlabeled_ids(root: Path) -> list[str]:
    """Ids of ``photos-unlabeled/NNNN.jpg`` that have ``annotations/image-level/NNNN.mat``, sorted."""
    photos = root / "photos-unlabeled"
    tags = root / "annotations" / "image-level"
    if not photos.is_dir() or not tags.is_dir():
        raise DataError(f"{root} has no photos-unlabeled/ or annotations/image-level/ (expected the original CCP layout)")
    ids = sorted(p.stem for p in photos.glob("*.jpg") if (tags / f"{p.stem}.mat").is_file())
    if not ids:
        raise DataError(f"{photos} holds no NNNN.jpg with a matching {tags}/NNNN.mat")
    return ids


def read_tags(root: Path, image_id: str) -> list[int]:
    """CCP label indices a photo's image-level annotation lists."""
    from scipy.io import loadmat

    try:
        tags = loadmat(str(root / "annotations" / "image-level" / f"{image_id}.mat"))["tags"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"image-level {image_id}.mat: cannot read variable 'tags': {exc}") from exc
    return [int(t) for t in np.asarray(tags).reshape(-1)]


def allowed_classes(tags: Sequence[int], names: Sequence[str]) -> np.ndarray:
    """bool ``NUM_CLASSES``: ATR classes the tags (indices into ``names``) allow, plus :data:`ALWAYS_ALLOWED`."""
    ok = np.zeros(NUM_CLASSES, bool)
    ok[list(ALWAYS_ALLOWED)] = True
    for t in tags:
        if not 0 <= t < len(names):
            raise DataError(f"tag {t} is outside the {len(names)} labels of label_list.mat")
        target = CCP_TO_ATR.get(names[t], IGNORE)
        if target in _TOKEN_CLASSES:
            ok[list(_TOKEN_CLASSES[target])] = True
        elif 0 <= target < NUM_CLASSES:
            ok[target] = True
    return ok


@torch.inference_mode()
def teacher_probabilities(model: torch.nn.Module, pre: Preprocess, image: np.ndarray, scales: Sequence[float] = (0.75, 1.0, 1.25)) -> torch.Tensor:
    """float32 ``C x H x W`` softmax of ``model`` on a uint8 ``H x W x 3`` image, averaged over ``scales`` and mirrors."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    acc = None
    for s in scales:
        batch, boxes = pre([x], scale=s, symmetric=True)
        logits = model(torch.cat([batch, batch.flip(-1)]))["out"].float()
        p, pm = logits.softmax(1).chunk(2)
        p = 0.5 * (p + swap_lr_channels(pm.flip(-1), dim=1))
        p = Preprocess.restore(p[0], boxes[0])
        acc = p if acc is None else acc + p
    return acc / len(scales)


def pseudo_label(probs: torch.Tensor, allowed: np.ndarray, threshold: float) -> np.ndarray:
    """uint8 ``H x W``: the allowed class of highest probability where it reaches ``threshold``, else 255.

    ``probs``: float ``C x H x W``; ``allowed``: bool ``C``. A forbidden class is never written.
    """
    p = probs * torch.as_tensor(allowed, dtype=probs.dtype).view(-1, 1, 1)
    conf, lab = p.max(0)
    out = lab.to(torch.uint8)
    out[conf < threshold] = IGNORE_INDEX
    return out.numpy()


def pseudo_cache(
    root: str | os.PathLike | None, size: tuple[int, int], cache_dir: str | os.PathLike, *, pad_color: tuple[int, int, int],
    teacher: str | os.PathLike, threshold: float = 0.7, scales: Sequence[float] = (0.75, 1.0, 1.25),
    min_kept: float = 0.3, limit: int | None = None, progress: bool = True,
) -> Path:
    """Path of the pseudo-labelled cache (built on first use): photos fitted to ``size`` like the CCP cache.

    Photos where fewer than ``min_kept`` of the pixels survive the threshold are dropped; ``limit``
    labels only the first ``limit`` photos (ids sorted).
    Meta: ``teacher`` (path, sha256), ``threshold``, ``scales``, ``photos_total``, ``photos_kept``,
    ``pixels_total``, ``pixels_kept`` (of kept photos, letterbox excluded), ``class_pixels``.
    """
    import json

    from tryon_sdk.models.builders import build_model
    from tryon_sdk.models.checkpoint import load_checkpoint, load_weights_into

    root = find_ccp_root(root)
    names = read_label_names(root)
    ids = unlabeled_ids(root)
    if limit is not None:
        ids = ids[: int(limit)]
    state, cfg = load_checkpoint(teacher)
    pad = "-".join(str(int(c)) for c in pad_color)
    tag = f"{(cfg.sha256 or 'x')[:10]}_t{int(round(threshold * 100))}_s{'-'.join(str(s) for s in scales)}"
    path = Path(cache_dir) / f"ccp_pseudo_{size[0]}x{size[1]}_{len(ids)}_{tag}_{FIT}{pad}.npz"
    if path.is_file():
        return path
    model = build_model(cfg)
    load_weights_into(model, state, cfg, source=str(teacher))
    model.eval()
    pre = Preprocess.from_config(cfg)
    h, w = size
    images, masks, kept_ids = [], [], []
    pixels_total = pixels_kept = 0
    class_pixels = np.zeros(NUM_CLASSES, np.int64)
    it = ids
    if progress:
        from tqdm import tqdm

        it = tqdm(ids, desc=f"pseudo-labels {path.name}", unit="img")
    for image_id in it:
        bgr = cv2.imread(str(root / "photos-unlabeled" / f"{image_id}.jpg"), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"cannot decode {root / 'photos-unlabeled' / f'{image_id}.jpg'}")
        img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        fitted, frame = fit_pair(img, np.zeros(img.shape[:2], np.uint8), size, pad_color=pad_color)
        inside = frame != IGNORE_INDEX  # the photo, not the fit's bars
        lab = pseudo_label(teacher_probabilities(model, pre, fitted, scales), allowed_classes(read_tags(root, image_id), names), threshold)
        lab[~inside] = IGNORE_INDEX
        n_in, n_kept = int(inside.sum()), int((lab != IGNORE_INDEX).sum())
        if n_kept < min_kept * n_in:
            continue
        images.append(fitted)
        masks.append(lab)
        kept_ids.append(image_id)
        pixels_total += n_in
        pixels_kept += n_kept
        class_pixels += np.bincount(lab[lab != IGNORE_INDEX], minlength=NUM_CLASSES)[:NUM_CLASSES]
    if not kept_ids:
        raise DataError(f"no unlabelled photo kept {min_kept:.0%} of its pixels at threshold {threshold}")
    meta = {
        "name": "ccp-pseudo", "source": str(root), "size": [h, w], "fit": FIT, "pad_color": [int(c) for c in pad_color],
        "teacher": {"path": str(teacher), "sha256": cfg.sha256}, "threshold": threshold, "scales": list(scales),
        "min_kept": min_kept, "photos_total": len(ids), "photos_kept": len(kept_ids),
        "pixels_total": pixels_total, "pixels_kept": pixels_kept, "class_pixels": class_pixels.tolist(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        np.savez(tmp, images=np.stack(images), masks=np.stack(masks), ids=np.array(kept_ids), meta=np.array(json.dumps(meta)))
    return path
