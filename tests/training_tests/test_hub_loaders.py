"""ATR and dense iMaterialist loaders on local parquet written with the Hub schemas (datasets.Image columns)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tryon_sdk.errors import DataError
from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX
from training.data.atr import atr_sample, atr_split, iter_atr, load_atr
from training.data.imaterialist import imat_dense_sample, load_imat_dense
from training.mapping import FASHIONPEDIA_CATEGORIES

from synthetic import synthetic_people

from .conftest import write_image_parquet

pytest.importorskip("datasets")
A = CLASS_INDEX
CAT = {n: i + 1 for i, n in enumerate(FASHIONPEDIA_CATEGORIES)}  # dense label value of each category


@pytest.fixture
def atr_parquet(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    images, masks = synthetic_people(6, 96, 64, seed=2)
    return write_image_parquet(tmp_path / "atr" / "train-00000.parquet", list(images), list(masks), "mask"), images, masks


def test_atr_map_style_and_streaming_read_the_same_rows(atr_parquet):
    path, images, masks = atr_parquet
    ds = load_atr(data_files=str(path))
    assert len(ds) == 6 and set(ds.column_names) == {"image", "mask"}
    decoded = list(iter_atr(ds))
    for (img, m), src_m in zip(decoded, masks):
        assert img.shape == (96, 64, 3) and img.dtype == np.uint8
        assert np.array_equal(m, src_m)  # PNG masks are lossless, ATR ids kept as they are
    streamed = list(iter_atr(load_atr(data_files=str(path), streaming=True)))
    assert len(streamed) == 6 and all(np.array_equal(a[1], b[1]) for a, b in zip(decoded, streamed))


def test_atr_rejects_values_outside_the_18_classes(tmp_path):
    images, masks = synthetic_people(1, 32, 24)
    masks[0, 0, 0] = 18
    path = write_image_parquet(tmp_path / "bad.parquet", list(images), list(masks), "mask")
    with pytest.raises(DataError, match="outside 0..17"):
        atr_sample(load_atr(data_files=str(path))[0])


def test_atr_rejects_wrong_schema(tmp_path):
    images, masks = synthetic_people(1, 32, 24)
    path = write_image_parquet(tmp_path / "other.parquet", list(images), list(masks), "label")
    with pytest.raises(DataError, match="missing column"):
        load_atr(data_files=str(path))
    with pytest.raises(DataError, match="not found"):
        load_atr(data_files=str(tmp_path / "nope.parquet"))


def test_atr_split_is_seeded_and_disjoint():
    a, b = atr_split(100, 10, seed=3), atr_split(100, 10, seed=3)
    assert a == b and len(set(a["val_rows"])) == 10 and a != atr_split(100, 10, seed=4)
    with pytest.raises(DataError):
        atr_split(10, 10)


def _dense_label() -> np.ndarray:
    lab = np.zeros((80, 60), np.uint8)
    lab[20:50, 15:45] = CAT["top, t-shirt, sweatshirt"]
    lab[22:40, 8:15] = CAT["sleeve"]  # a part touching the top
    lab[50:70, 18:42] = CAT["skirt"]
    lab[55:60, 20:25] = CAT["pocket"]  # a part inside the skirt
    lab[5:10, 25:35] = CAT["glasses"]
    lab[2:5, 20:40] = CAT["headband, head covering, hair accessory"]
    lab[20:23, 25:35] = CAT["neckline"]  # front-only cue
    lab[72:78, 14:24] = CAT["shoe"]
    lab[72:78, 36:46] = CAT["shoe"]
    lab[40:46, 50:58] = CAT["watch"]
    return lab


def test_dense_imaterialist_parquet_maps_to_atr(tmp_path):
    lab = _dense_label()
    img = np.full(lab.shape + (3,), 120, np.uint8)
    path = write_image_parquet(tmp_path / "imat.parquet", [img], [lab], "label")
    ds = load_imat_dense(data_files=str(path))
    image, out = imat_dense_sample(ds[0])
    assert image.shape == (80, 60, 3)
    assert np.all(out[30:45, 20:40] == A["Upper-clothes"])
    assert np.all(out[22:40, 8:15] == A["Upper-clothes"])  # sleeve -> its garment
    assert np.all(out[55:60, 20:25] == A["Skirt"])  # pocket -> its garment
    assert np.all(out[5:10, 25:35] == A["Sunglasses"]) and np.all(out[2:5, 20:40] == A["Hat"])
    assert np.all(out[72:78, 14:24] == A["Right-shoe"]) and np.all(out[72:78, 36:46] == A["Left-shoe"])
    assert np.all(out[lab == 0] == IGNORE_INDEX)  # unlabelled is never Background
    assert np.all(out[40:46, 50:58] == IGNORE_INDEX)


def test_dense_without_front_cue_leaves_shoes_unsided():
    from training.data.imaterialist import dense_to_atr

    lab = _dense_label()
    lab[lab == CAT["neckline"]] = CAT["top, t-shirt, sweatshirt"]
    out = dense_to_atr(lab)
    assert np.all(out[72:78, 14:24] == IGNORE_INDEX) and np.all(out[72:78, 36:46] == IGNORE_INDEX)
    lab[0, 0] = 47
    with pytest.raises(DataError, match="outside 0..46"):
        dense_to_atr(lab)
