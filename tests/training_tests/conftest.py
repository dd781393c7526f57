"""Fixtures for the training tests: real CCP (skipped when absent) and tiny datasets in the real schemas."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]

# ATR ids used by the synthetic people
BG, HAIR, UPPER, PANTS, FACE = 0, 2, 4, 6, 11
L_SHOE, R_SHOE, L_LEG, R_LEG, L_ARM, R_ARM = 9, 10, 12, 13, 14, 15
COLOURS = {BG: (150, 160, 170), HAIR: (60, 40, 20), UPPER: (200, 30, 40), PANTS: (30, 40, 150), FACE: (225, 175, 145),
           L_ARM: (215, 165, 135), R_ARM: (215, 165, 135), L_LEG: (205, 160, 130), R_LEG: (205, 160, 130),
           L_SHOE: (20, 20, 20), R_SHOE: (20, 20, 20)}


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


def person_mask(h: int, w: int, rng: np.random.Generator, facing: int = 1) -> np.ndarray:
    """A standing person facing the camera (``facing=1``) in ATR ids, uint8 ``h x w``; jittered position/size."""
    m = np.zeros((h, w), np.uint8)
    s = rng.uniform(0.8, 1.0)
    cx = int(w / 2 + rng.uniform(-0.1, 0.1) * w)
    top = int(rng.uniform(0.02, 0.08) * h)
    H = int(0.9 * h * s)
    W = int(0.45 * w * s)

    def box(y0, y1, x0, x1, v):
        m[max(top + int(y0 * H), 0):top + int(y1 * H), max(cx + int(x0 * W), 0):max(cx + int(x1 * W), 0)] = v

    box(0.0, 0.06, -0.17, 0.17, HAIR)
    box(0.06, 0.16, -0.14, 0.14, FACE if facing == 1 else HAIR)
    box(0.17, 0.5, -0.3, 0.3, UPPER)
    # person's left is image-right when facing the camera
    la, ra = (L_ARM, R_ARM) if facing == 1 else (R_ARM, L_ARM)
    box(0.18, 0.5, 0.32, 0.46, la)
    box(0.18, 0.5, -0.46, -0.32, ra)
    box(0.5, 0.75, -0.28, 0.28, PANTS)
    ll, rl = (L_LEG, R_LEG) if facing == 1 else (R_LEG, L_LEG)
    box(0.75, 0.93, 0.06, 0.24, ll)
    box(0.75, 0.93, -0.24, -0.06, rl)
    ls, rs = (L_SHOE, R_SHOE) if facing == 1 else (R_SHOE, L_SHOE)
    box(0.93, 1.0, 0.04, 0.28, ls)
    box(0.93, 1.0, -0.28, -0.04, rs)
    return m


def render(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 ``h x w x 3`` RGB image of an ATR mask: class colours plus noise."""
    img = np.zeros(mask.shape + (3,), np.int16)
    for c, col in COLOURS.items():
        img[mask == c] = col
    img += rng.integers(-12, 13, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def synthetic_people(n: int, h: int = 96, w: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` synthetic people: images uint8 ``n x h x w x 3`` and ATR masks ``n x h x w``."""
    rng = np.random.default_rng(seed)
    masks = np.stack([person_mask(h, w, rng) for _ in range(n)])
    images = np.stack([render(m, rng) for m in masks])
    return images, masks


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
