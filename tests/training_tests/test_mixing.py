"""Weighted seeded mixing of sources, rank sharding, exact resume, letterboxing, folder sources."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_sdk.errors import ConfigError, DataError
from tryon_sdk.labels import IGNORE_INDEX
from training.data.cache import fit_pair
from training.data.mixing import MixedStream, build_source

from synthetic import synthetic_people

from .conftest import write_image_parquet


PAD = (124, 116, 104)  # ImageNet mean colour, as Preprocess.pad_color gives it


def _imagefolder(root: Path, n: int, seed: int, fill: int | None = None) -> Path:
    images, masks = synthetic_people(n, 48, 32, seed=seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, (img, m) in enumerate(zip(images, masks)):
        if fill is not None:
            img[:] = fill  # tags the source in the pixels
        cv2.imwrite(str(root / "images" / f"{i:03d}.png"), img)
        cv2.imwrite(str(root / "masks" / f"{i:03d}.png"), m)
    return root


@pytest.fixture
def two_sources(tmp_path):
    a = _imagefolder(tmp_path / "a", 10, 1, fill=10)
    b = _imagefolder(tmp_path / "b", 6, 2, fill=200)
    return a, b


def _tags(stream: MixedStream, n: int) -> list[str]:
    out = []
    for _ in range(n):
        img, _ = stream.next_sample()
        out.append("a" if img[24, 16, 0] == 10 else "b")
    return out


def test_weights_and_seed_decide_the_mix(two_sources):
    a, b = two_sources
    specs = [{"source": "imagefolder", "root": str(a), "weight": 3.0}, {"source": "imagefolder", "root": str(b), "weight": 1.0}]
    s1 = MixedStream([build_source(s) for s in specs], (48, 32), seed=0, pad_color=PAD)
    s2 = MixedStream([build_source(s) for s in specs], (48, 32), seed=0, pad_color=PAD)
    t1, t2 = _tags(s1, 200), _tags(s2, 200)
    assert t1 == t2
    assert 0.65 < t1.count("a") / 200 < 0.85  # 3:1 weights
    only_b = MixedStream([build_source({**specs[0], "weight": 0.0}), build_source(specs[1])], (48, 32), seed=0, pad_color=PAD)
    assert set(_tags(only_b, 30)) == {"b"}  # also runs source b through several epochs


def test_resume_continues_the_same_sequence(two_sources):
    a, b = two_sources
    specs = [{"source": "imagefolder", "root": str(a)}, {"source": "imagefolder", "root": str(b)}]
    full = MixedStream([build_source(s) for s in specs], (48, 32), seed=5, pad_color=PAD)
    first = [full.next_sample() for _ in range(23)]
    state = full.state_dict()
    rest = [full.next_sample() for _ in range(9)]
    resumed = MixedStream([build_source(s) for s in specs], (48, 32), seed=5, pad_color=PAD)
    resumed.load_state_dict(state)
    again = [resumed.next_sample() for _ in range(9)]
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(rest, again))
    assert len(first) == 23


def test_ranks_take_disjoint_interleaved_shares(two_sources):
    a, _ = two_sources
    spec = {"source": "imagefolder", "root": str(a)}
    one = MixedStream([build_source(spec)], (48, 32), seed=1, pad_color=PAD)
    single = [one.next_sample()[1] for _ in range(8)]
    r0 = MixedStream([build_source(spec)], (48, 32), seed=1, rank=0, world=2, pad_color=PAD)
    r1 = MixedStream([build_source(spec)], (48, 32), seed=1, rank=1, world=2, pad_color=PAD)
    got0 = [r0.next_sample()[1] for _ in range(4)]
    got1 = [r1.next_sample()[1] for _ in range(4)]
    assert all(np.array_equal(single[2 * i], got0[i]) and np.array_equal(single[2 * i + 1], got1[i]) for i in range(4))


@pytest.mark.slow
def test_val_split_and_parquet_source(tmp_path):
    images, masks = synthetic_people(12, 48, 32, seed=3)
    path = write_image_parquet(tmp_path / "atr.parquet", list(images), list(masks), "mask")
    src = build_source({"source": "atr", "data_files": str(path), "val_count": 3}, seed=0)
    assert src.split["val_rows"] == build_source({"source": "atr", "data_files": str(path), "val_count": 3}, seed=0).split["val_rows"]
    assert len(src.val) == 3 and len(list(src.rows(0))) == 9
    streamed = build_source({"source": "atr", "data_files": str(path), "val_count": 3, "streaming": True, "val_window": 6}, seed=0)
    assert len(streamed.val) == 3 and all(r < 6 for r in streamed.split["val_rows"])
    train_rows = [r["__row"] for r in streamed.rows(0)]
    assert sorted(train_rows) == sorted(set(range(12)) - set(streamed.split["val_rows"]))
    stream = MixedStream([src, streamed], (48, 32), seed=0, pad_color=PAD)
    imgs, msks = stream.next_batch(5)
    assert imgs.shape == (5, 48, 32, 3) and msks.shape == (5, 48, 32)
    assert stream.val_arrays()[0].shape == (6, 48, 32, 3)


def test_fit_pair_letterboxes_with_the_mean_colour_and_ignore():
    img = np.full((30, 60, 3), 255, np.uint8)
    mask = np.full((30, 60), 4, np.uint8)
    oi, om = fit_pair(img, mask, (48, 32), pad_color=PAD)
    assert oi.shape == (48, 32, 3) and om.shape == (48, 32)
    assert np.all(om[:8] == IGNORE_INDEX) and np.all(om[-8:] == IGNORE_INDEX) and np.all(om[20:28] == 4)
    assert set(np.unique(om).tolist()) == {4, IGNORE_INDEX}
    assert np.all(oi[om == IGNORE_INDEX] == PAD) and np.all(oi[om == 4] == 255)  # the border is the pad colour
    stretched = fit_pair(np.zeros((30, 20, 3), np.uint8), np.zeros((30, 20), np.uint8), (48, 32), pad_color=PAD)[1]
    assert np.all(stretched == 0)  # the canvas's own aspect ratio: no padding at all


def test_bad_specs(tmp_path):
    with pytest.raises(ConfigError, match="valid: atr, imat"):
        build_source({"source": "lip"})
    with pytest.raises(DataError, match="images/ and masks/"):
        build_source({"source": "imagefolder", "root": str(tmp_path)})
