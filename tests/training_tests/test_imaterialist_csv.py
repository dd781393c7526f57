"""Kaggle iMaterialist CSV: the RLE decoder on a known mask and instance rasterisation."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_sdk.errors import DataError
from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX
from training.data.imaterialist import imat_csv_mask, iter_imat_csv, read_imat_csv, rle_decode, rle_encode
from training.mapping import FASHIONPEDIA_CATEGORIES

A = CLASS_INDEX
CID = {n: i for i, n in enumerate(FASHIONPEDIA_CATEGORIES)}


def test_rle_decode_known_mask():
    # 3 rows x 4 columns, pixels numbered 1.. down each column:
    #  1 4 7 10
    #  2 5 8 11
    #  3 6 9 12
    # "2 3" -> pixels 2,3,4 ; "9 2" -> pixels 9,10
    got = rle_decode("2 3 9 2", 3, 4)
    expected = np.array([[0, 1, 0, 1], [1, 0, 0, 0], [1, 0, 1, 0]], dtype=bool)
    assert np.array_equal(got, expected)
    assert rle_encode(expected) == "2 3 9 2"


def test_rle_roundtrip_and_errors():
    rng = np.random.default_rng(0)
    m = rng.random((17, 11)) > 0.6
    assert np.array_equal(rle_decode(rle_encode(m), 17, 11), m)
    with pytest.raises(DataError, match="odd"):
        rle_decode("1 2 3", 3, 4)
    with pytest.raises(DataError, match="outside"):
        rle_decode("11 5", 3, 4)


def _write_csv(path: Path, rows: list[tuple[str, np.ndarray, str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ImageId", "EncodedPixels", "Height", "Width", "ClassId", "AttributesIds"])
        for image_id, mask, cid in rows:
            w.writerow([image_id, rle_encode(mask), mask.shape[0], mask.shape[1], cid, ""])
    return path


def _box(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_csv_instances_to_atr(tmp_path):
    h, w = 60, 40
    rows = [
        ("a", _box(h, w, 10, 35, 8, 32), str(CID["dress"])),
        ("a", _box(h, w, 12, 30, 2, 8), str(CID["sleeve"])),  # part outside the dress mask, touching it
        ("a", _box(h, w, 10, 12, 15, 25), f"{CID['neckline']}_115_136"),  # 2019-style ClassId with attributes
        ("a", _box(h, w, 50, 56, 8, 16), str(CID["shoe"])),
        ("a", _box(h, w, 50, 56, 24, 32), str(CID["shoe"])),
        ("a", _box(h, w, 20, 26, 30, 38), str(CID["bag, wallet"])),  # drawn over the dress
        ("b", _box(h, w, 5, 20, 5, 20), str(CID["jumpsuit"])),
        ("b", _box(h, w, 50, 56, 8, 16), str(CID["shoe"])),
    ]
    path = _write_csv(tmp_path / "train.csv", rows)
    table = read_imat_csv(path)
    assert sorted(table) == ["a", "b"] and len(table["a"]) == 6
    out = imat_csv_mask(table["a"])
    assert np.all(out[14:30, 10:28] == A["Dress"])
    assert np.all(out[12:30, 2:8] == A["Dress"])  # sleeve -> the garment it touches
    assert np.all(out[20:26, 32:38] == A["Bag"])
    assert np.all(out[50:56, 8:16] == A["Right-shoe"]) and np.all(out[50:56, 24:32] == A["Left-shoe"])
    assert np.all(out[40:48, :] == IGNORE_INDEX)  # unlabelled -> ignore, not Background
    out_b = imat_csv_mask(table["b"])
    assert np.all(out_b == IGNORE_INDEX)  # jumpsuit ignored; one shoe, no front cue: no side

    images = tmp_path / "images"
    images.mkdir()
    for image_id in ("a", "b"):
        cv2.imwrite(str(images / f"{image_id}.jpg"), np.full((h, w, 3), 90, np.uint8))
    samples = list(iter_imat_csv(path, images))
    assert len(samples) == 2 and samples[0][0].shape == (h, w, 3) and np.array_equal(samples[0][1], out)


def test_csv_schema_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("ImageId,EncodedPixels,Height\nx,1 2,3\n")
    with pytest.raises(DataError, match="missing column"):
        read_imat_csv(p)
    p.write_text("ImageId,EncodedPixels,Height,Width,ClassId\nx,1 2,3,4,46\n")
    with pytest.raises(DataError, match="outside 0..45"):
        read_imat_csv(p)
