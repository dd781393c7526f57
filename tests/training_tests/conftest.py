"""Fixtures for the training tests: real CCP (skipped when absent) and tiny datasets in the real schemas."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthetic import synthetic_people

REPO = Path(__file__).resolve().parents[2]


def ccp_dir_or_skip() -> Path:
    """The real CCP folder (``$TRYON_SHARED_DATA`` or ``<repo>/../shared/data``), else skip with the reason."""
    from tryon_sdk.errors import DataError
    from training.data.ccp import find_ccp_root

    try:
        return find_ccp_root()
    except DataError as exc:
        pytest.skip(f"../shared/data/clothing-co-parsing not found: {exc}")


@pytest.fixture(scope="session")
def ccp_root() -> Path:
    return ccp_dir_or_skip()


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def write_image_parquet(path: Path, images: list[np.ndarray], labels: list[np.ndarray], label_column: str) -> Path:
    """A parquet file with the Hub schema: ``image`` and ``label_column`` as ``datasets.Image`` features."""
    import datasets

    feats = datasets.Features({"image": datasets.Image(), label_column: datasets.Image()})
    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": jpeg_bytes(i), "path": None} for i in images], label_column: [{"bytes": png_bytes(m), "path": None} for m in labels]},
        features=feats,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(path))
    return path


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    """A 24-image cache (96x64) of synthetic people, as written by training.data.cache.build_cache."""
    from training.data.cache import build_cache

    images, masks = synthetic_people(24)
    ids = [f"{i:04d}" for i in range(len(images))]
    return build_cache(ids, lambda k: (images[int(k)], masks[int(k)]), (96, 64), tmp_path / "tiny.npz", meta={"name": "synthetic"}, progress=False, pad_color=(0, 0, 0))


def tiny_recipe(npz: Path, **over) -> dict:
    """A recipe that trains LR-ASPP at 64x48 on ``npz`` in seconds."""
    r = {
        "name": "tiny",
        "model": {"architecture": "lraspp", "backbone": "mobilenet_v3_large", "input_size": [64, 48], "init": "none"},
        "data": {"train": [{"source": "npz", "path": str(npz)}], "cache_size": [96, 64], "split": {"val_count": 4, "seed": 0}},
        "optim": {"name": "adamw", "lr": 0.003},
        "schedule": {"name": "poly", "warmup_steps": 2, "by": "steps"},
        "loss": {"dice_weight": 1.0, "class_weights": "balanced"},
        "augment": {"scale": [0.9, 1.1], "rotate_deg": 5, "translate": 0.05},
        "batch_size": 4,
        "steps": 20,
        "eval_every": 10,
        "checkpoint_every": 5,
        "log_every": 1,
        "seed": 0,
        "num_threads": 1,
        "channels_last": False,
    }
    for k, v in over.items():
        r[k] = v
    return r
