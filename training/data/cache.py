"""Fixed-size uint8 caches of a dataset, the fit of a sample into a fixed canvas, and the seeded train/val split.

Decoding JPEG + ``.mat`` every step is too slow on 2 CPU cores, so a dataset
is decoded once, fitted to the cache size (:func:`fit_pair`: aspect kept, image
by area interpolation, mask by nearest neighbour only, padded with the model's
mean colour and the ignore label) and stored as one ``.npz`` outside the
repository. The stream mixer (:mod:`training.data.mixing`) fits its samples the
same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from tryon_sdk.errors import DataError
from tryon_sdk.labels import IGNORE_INDEX
from tryon_sdk.outputs import atomic_path

__all__ = ["FIT", "fit_pair", "make_split", "build_cache", "load_cache", "ccp_cache"]

#: How :func:`fit_pair` places a sample in its canvas (recorded in a cache's meta and file name).
FIT = "letterbox"


def fit_pair(
    image: np.ndarray, mask: np.ndarray, size: tuple[int, int], *, pad_color: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``image`` (uint8 HxWx3) and ``mask`` (uint8 HxW) into a ``size`` = (h, w) canvas, centred, aspect kept.

    The image is padded with ``pad_color`` (the model's mean colour,
    :attr:`tryon_sdk.preprocess.Preprocess.pad_color`, 0 after normalisation) and the mask with
    255 (ignored by the loss and the metrics); the mask is resized by nearest neighbour only.

    This is not the parser's letterbox (:class:`tryon_sdk.preprocess.Preprocess`) itself because a
    training batch needs one canvas for every sample: it is not transposed for landscape images nor
    padded to the stride, and augmentation rescales and crops it afterwards. What matters for
    consistency is kept: no stretching, and a border the network sees as at inference (the mean
    colour). Evaluation (:mod:`training.evaluate`) runs the parser's transform itself.
    """
    h, w = size
    if image.shape[:2] != mask.shape:
        raise DataError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    ih, iw = mask.shape
    s = min(h / ih, w / iw)
    nh, nw = max(1, round(ih * s)), max(1, round(iw * s))
    img = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    msk = cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_NEAREST)
    out_i = np.empty((h, w, 3), np.uint8)
    out_i[:] = np.asarray(pad_color, np.uint8)
    out_m = np.full((h, w), IGNORE_INDEX, np.uint8)
    y0, x0 = (h - nh) // 2, (w - nw) // 2
    out_i[y0 : y0 + nh, x0 : x0 + nw] = img
    out_m[y0 : y0 + nh, x0 : x0 + nw] = msk
    return out_i, out_m


def make_split(ids: Sequence[str], val_count: int, seed: int) -> dict:
    """Deterministic seeded split: ``{"seed", "val_ids", "train_ids", "ids_sha256"}`` (ids sorted first)."""
    ids = sorted(ids)
    if not 0 < val_count < len(ids):
        raise DataError(f"val_count={val_count} must be between 1 and {len(ids) - 1} for {len(ids)} items")
    perm = np.random.default_rng(seed).permutation(len(ids))
    val = sorted(ids[i] for i in perm[:val_count])
    train = sorted(ids[i] for i in perm[val_count:])
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    return {"seed": seed, "val_count": val_count, "val_ids": val, "train_ids": train, "ids_sha256": digest}


def build_cache(
    ids: Sequence[str],
    load: Callable[[str], tuple[np.ndarray, np.ndarray]],
    size: tuple[int, int],
    path: str | os.PathLike,
    meta: dict | None = None,
    progress: bool = True,
    *,
    pad_color: tuple[int, int, int],
) -> Path:
    """Decode ``load(id)`` for every id, fit it to ``size`` (:func:`fit_pair` with ``pad_color``) and write ``path``
    (.npz: images NxHxWx3, masks NxHxW, ids, meta; meta records the fit and the pad colour)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = size
    images = np.empty((len(ids), h, w, 3), np.uint8)
    masks = np.empty((len(ids), h, w), np.uint8)
    it = ids
    if progress:
        from tqdm import tqdm

        it = tqdm(ids, desc=f"cache {path.name}", unit="img")
    for i, image_id in enumerate(it):
        images[i], masks[i] = fit_pair(*load(image_id), size, pad_color=pad_color)
    meta = {**(meta or {}), "fit": FIT, "pad_color": [int(c) for c in pad_color]}
    with atomic_path(path) as tmp:
        np.savez(tmp, images=images, masks=masks, ids=np.array(list(ids)), meta=np.array(json.dumps(meta)))
    return path


def load_cache(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """``(images uint8 NxHxWx3, masks uint8 NxHxW, ids, meta)`` from a cache written by :func:`build_cache`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["images"], z["masks"], [str(s) for s in z["ids"]], json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read cache {path}: {exc}; delete it to rebuild") from exc


def ccp_cache(
    root: str | os.PathLike | None, size: tuple[int, int], cache_dir: str | os.PathLike, *, pad_color: tuple[int, int, int]
) -> Path:
    """Path of the CCP cache at ``size`` padded with ``pad_color``, building it on first use (~1 min for 804 images)."""
    from .ccp import GEOMETRY_VERSION, ccp_ids, find_ccp_root, load_ccp_sample, read_label_names

    root = find_ccp_root(root)
    names = read_label_names(root)
    ids = ccp_ids(root)
    pad = "-".join(str(int(c)) for c in pad_color)
    path = Path(cache_dir) / f"ccp_{size[0]}x{size[1]}_{len(ids)}_g{GEOMETRY_VERSION}_{FIT}{pad}.npz"
    if not path.is_file():
        meta = {"source": str(root), "size": list(size), "name": "clothing-co-parsing", "geometry_version": GEOMETRY_VERSION}
        build_cache(ids, lambda i: load_ccp_sample(root, i, names), size, path, meta=meta, pad_color=pad_color)
    return path
