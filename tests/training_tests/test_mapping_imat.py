"""One test per Fashionpedia -> ATR row, through the dense-label mapper."""

from __future__ import annotations

import numpy as np
import pytest

from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX
from training.data.imaterialist import dense_to_atr
from training.mapping import FASHIONPEDIA_CATEGORIES, FASHIONPEDIA_TO_ATR, IMAT_DENSE_TO_ATR, PART, SHOE

A = CLASS_INDEX
VALUE = {n: i + 1 for i, n in enumerate(FASHIONPEDIA_CATEGORIES)}  # 0 = unlabelled


def test_category_list_and_dense_convention():
    assert len(FASHIONPEDIA_CATEGORIES) == 46 and len(set(FASHIONPEDIA_CATEGORIES)) == 46
    assert FASHIONPEDIA_CATEGORIES[0] == "shirt, blouse" and FASHIONPEDIA_CATEGORIES[23] == "shoe"
    assert FASHIONPEDIA_CATEGORIES[-1] == "tassel"
    assert sorted(FASHIONPEDIA_TO_ATR) == sorted(FASHIONPEDIA_CATEGORIES)
    assert IMAT_DENSE_TO_ATR[0] == IGNORE_INDEX and len(IMAT_DENSE_TO_ATR) == 47


@pytest.mark.parametrize("name", FASHIONPEDIA_CATEGORIES)
def test_mapping_row(name):
    target = FASHIONPEDIA_TO_ATR[name]
    lab = np.zeros((60, 50), np.uint8)
    lab[10:40, 10:30] = VALUE["pants"]  # a garment for parts to attach to
    if target == SHOE:
        lab[8:10, 12:28] = VALUE["neckline"]
        lab[50:56, 8:16] = VALUE[name]
        lab[50:56, 30:38] = VALUE[name]
        out = dense_to_atr(lab)
        assert np.all(out[50:56, 8:16] == A["Right-shoe"]) and np.all(out[50:56, 30:38] == A["Left-shoe"])
        lab[50:56, 30:38] = 0  # one shoe: side cannot be decided
        assert np.all(dense_to_atr(lab)[50:56, 8:16] == IGNORE_INDEX)
        return
    lab[20:30, 30:36] = VALUE[name]  # touching the pants
    lab[50:55, 40:46] = VALUE[name]  # far from any garment
    out = dense_to_atr(lab)
    if target == PART:
        assert np.all(out[20:30, 30:36] == A["Pants"])
        assert np.all(out[50:55, 40:46] == IGNORE_INDEX)
    else:
        assert np.all(out[20:30, 30:36] == target) and np.all(out[50:55, 40:46] == target)
    assert np.all(out[lab == 0] == IGNORE_INDEX)
