"""Turn a recipe's ``data`` section into in-memory train/val arrays.

Map-style sources (``ccp``, ``npz``) are cached at ``cache_size`` and split
by :func:`training.data.cache.make_split`; the split is returned as a record
for ``ModelConfig.data_split``. Streaming Hub sources are handled by
:mod:`training.data.mixing`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tryon_sdk.errors import ConfigError, DataError

from .cache import ccp_cache, load_cache, make_split

__all__ = ["ARRAY_SOURCES", "default_cache_dir", "load_arrays"]

ARRAY_SOURCES = ("ccp", "npz", "ccp_pseudo")


def default_cache_dir() -> Path:
    """``$TRYON_TRAINING_CACHE`` or ``~/.cache/tryon_sdk/training``."""
    env = os.environ.get("TRYON_TRAINING_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "tryon_sdk" / "training"


def _arrays_of(
    src: dict[str, Any], size: tuple[int, int], cache_dir: Path, pad_color: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray, list[str], str, dict]:
    kind = src.get("source")
    if kind == "ccp":
        path = ccp_cache(src.get("root"), size, cache_dir, pad_color=pad_color)
        images, masks, ids, meta = load_cache(path)
        return images, masks, ids, "clothing-co-parsing", {"geometry_version": meta.get("geometry_version"), "fit": meta.get("fit")}
    if kind == "ccp_pseudo":
        from .pseudo import pseudo_cache

        teacher = _resolve_path(src.get("teacher") or "tryon_sdk/weights/default")
        path = pseudo_cache(src.get("root"), size, cache_dir, pad_color=pad_color, teacher=teacher,
                            threshold=float(src.get("threshold", 0.7)), scales=tuple(src.get("scales", (0.75, 1.0, 1.25))),
                            min_kept=float(src.get("min_kept", 0.3)), limit=src.get("limit"))
        images, masks, ids, meta = load_cache(path)
        keys = ("teacher", "threshold", "photos_total", "photos_kept", "pixels_total", "pixels_kept")
        return images, masks, ids, "ccp-pseudo", {k: meta.get(k) for k in keys}
    if kind == "npz":
        if not src.get("path"):
            raise ConfigError("an npz source needs 'path'")
        images, masks, ids, meta = load_cache(src["path"])
        if images.shape[1:3] != tuple(size):
            raise DataError(f"{src['path']} holds {images.shape[1:3]} images, the recipe's cache_size is {tuple(size)}")
        return images, masks, ids, str(meta.get("name", Path(src["path"]).stem)), {}
    raise ConfigError(f"unknown array source {kind!r}; valid: {', '.join(ARRAY_SOURCES)}")


def _resolve_path(path: str | os.PathLike) -> Path:
    """A path as given when it exists, else relative to the repository root (bundled weights)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    return Path(__file__).resolve().parents[2] / p


def load_arrays(data: dict[str, Any], *, pad_color: tuple[int, int, int]) -> dict[str, Any]:
    """Load every map-style source, split each, concatenate (``pad_color``: the model's mean colour, for caches built here).

    Returns ``{"train": (images, masks, weights), "val": (images, masks), "split": record}``:
    images uint8 ``N x H x W x 3``, masks uint8 ``N x H x W``, weights float64 ``N``
    (per-sample sampling weight: the source weight spread over its samples).
    """
    size = tuple(data["cache_size"])
    cache_dir = Path(data.get("cache_dir") or default_cache_dir())
    split_cfg = data.get("split") or {}
    if not data.get("train"):
        raise ConfigError("recipe data.train is empty; give a list of sources like {\"source\": \"ccp\"}")
    tr_i, tr_m, tr_w, va_i, va_m = [], [], [], [], []
    record: dict[str, Any] = {"cache_size": list(size), "sources": []}
    for src in data["train"]:
        images, masks, ids, name, extra = _arrays_of(src, size, cache_dir, pad_color)
        val_count = int(src.get("val_count", split_cfg.get("val_count", 0)))
        seed = int(split_cfg.get("seed", 0))
        if val_count > 0:
            split = make_split(ids, val_count, seed)
        else:
            split = {"seed": seed, "val_count": 0, "val_ids": [], "train_ids": sorted(ids)}
        index = {k: i for i, k in enumerate(ids)}
        ti = np.array([index[k] for k in split["train_ids"]], dtype=np.int64)
        vi = np.array([index[k] for k in split["val_ids"]], dtype=np.int64)
        tr_i.append(images[ti])
        tr_m.append(masks[ti])
        tr_w.append(np.full(len(ti), float(src.get("weight", 1.0)) / max(len(ti), 1)))
        if len(vi):
            va_i.append(images[vi])
            va_m.append(masks[vi])
        record["sources"].append({"name": name, "weight": float(src.get("weight", 1.0)), **extra, **split})
    train = (np.concatenate(tr_i), np.concatenate(tr_m), np.concatenate(tr_w))
    val = (np.concatenate(va_i), np.concatenate(va_m)) if va_i else None
    return {"train": train, "val": val, "split": record}
