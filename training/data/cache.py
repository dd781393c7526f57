"""Fixed-size uint8 caches of a dataset, and the seeded train/val split.

Decoding JPEG + ``.mat`` every step is too slow on 2 CPU cores, so a dataset
is decoded once, resized to the cache size (image: area interpolation, mask:
nearest neighbour only) and stored as one ``.npz`` outside the repository.
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
from tryon_sdk.outputs import atomic_path

__all__ = ["resize_pair", "make_split", "build_cache", "load_cache", "ccp_cache"]


def resize_pair(image: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resize ``image`` (uint8 HxWx3) and ``mask`` (uint8 HxW) to ``size`` = (h, w); the mask by nearest neighbour."""
    h, w = size
    if image.shape[:2] != mask.shape:
        raise DataError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    img = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    msk = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    return img, msk


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
) -> Path:
    """Decode ``load(id)`` for every id, resize to ``size`` and write ``path`` (.npz: images NxHxWx3, masks NxHxW, ids, meta)."""
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
        images[i], masks[i] = resize_pair(*load(image_id), size)
    with atomic_path(path) as tmp:
        np.savez(tmp, images=images, masks=masks, ids=np.array(list(ids)), meta=np.array(json.dumps(meta or {})))
    return path


def load_cache(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """``(images uint8 NxHxWx3, masks uint8 NxHxW, ids, meta)`` from a cache written by :func:`build_cache`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["images"], z["masks"], [str(s) for s in z["ids"]], json.loads(str(z["meta"]))
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read cache {path}: {exc}; delete it to rebuild") from exc


def ccp_cache(root: str | os.PathLike | None, size: tuple[int, int], cache_dir: str | os.PathLike) -> Path:
    """Path of the CCP cache at ``size``, building it on first use (~1 min for 804 images)."""
    from .ccp import GEOMETRY_VERSION, ccp_ids, find_ccp_root, load_ccp_sample, read_label_names

    root = find_ccp_root(root)
    names = read_label_names(root)
    ids = ccp_ids(root)
    path = Path(cache_dir) / f"ccp_{size[0]}x{size[1]}_{len(ids)}_g{GEOMETRY_VERSION}.npz"
    if not path.is_file():
        meta = {"source": str(root), "size": list(size), "name": "clothing-co-parsing", "geometry_version": GEOMETRY_VERSION}
        build_cache(ids, lambda i: load_ccp_sample(root, i, names), size, path, meta=meta)
    return path
