"""The framing validation set on real CCP validation photos: crops aligned, metrics of known predictors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX, hflip_labels
from training.framings import (COARSE_CLASSES, FRAMINGS, build_framing_set, evaluate_framings, main, mirror_limb_agreement,
                               to_coarse)

from .conftest import REPO


@pytest.fixture(scope="module")
def samples(ccp_root):
    return build_framing_set(ccp_root, limit=5)


def _oracle(samples):
    """A predictor that returns each sample's own ground truth (255 -> Background)."""
    table = {id(s.image): s.labels for s in samples}

    def predict(image):
        lab = table[id(image)]
        return np.where(lab == IGNORE_INDEX, 0, lab).astype(np.uint8)

    return predict


def test_coarse_classes_cover_every_atr_class_once():
    members = [m for ms in COARSE_CLASSES.values() for m in ms]
    assert sorted(members) == sorted(CLASS_INDEX) and len(members) == len(set(members))
    assert to_coarse(np.array([0, 5, 17, 255], np.uint8)).tolist() == [0, 4, 3, 255]


def test_framing_set_is_built_from_the_validation_split(samples, ccp_root):
    from training.data.cache import make_split
    from training.data.ccp import ccp_ids, load_ccp_sample, read_label_names

    val = make_split(ccp_ids(ccp_root), 120, 0)["val_ids"][:5]
    kinds = [s.framing for s in samples]
    assert set(kinds) == set(FRAMINGS)
    assert kinds.count("whole") == 5 and kinds.count("group") == 2  # 2 + 3 photos
    names = read_label_names(ccp_root)
    image, labels = load_ccp_sample(ccp_root, val[0], names)
    for s in samples:
        assert s.image.dtype == np.uint8 and s.image.shape[:2] == s.labels.shape
        assert all(p.shape == s.labels.shape for p in s.people)
        if s.source_ids == (val[0],) and s.framing in ("hips", "shoulders"):
            # a crop of rows from the top: the same pixels and labels as the photo's first rows, shoes cut off
            h = s.labels.shape[0]
            rows = [y for y in range(image.shape[0] - h + 1) if np.array_equal(labels[y : y + h], s.labels)]
            assert rows and np.array_equal(image[rows[0] : rows[0] + h], s.image)
            assert not np.isin(s.labels, [CLASS_INDEX["Left-shoe"], CLASS_INDEX["Right-shoe"]]).any()
        if s.framing == "shoulders":
            assert not np.isin(s.labels, [CLASS_INDEX["Pants"], CLASS_INDEX["Left-leg"], CLASS_INDEX["Right-leg"]]).any()
        if s.framing == "group":
            assert len(s.people) == len(s.source_ids) >= 2
        if s.framing == "small":
            assert s.labels.shape == (720, 1280) and s.people[0].sum() < 0.2 * 720 * 1280


def test_oracle_scores_one_and_background_finds_nobody(samples):
    rep = evaluate_framings(_oracle(samples), samples)
    assert set(rep) == set(FRAMINGS)
    for r in rep.values():
        assert r["coarse_miou"] == pytest.approx(1.0) and r["found_rate"] == 1.0
    rep0 = evaluate_framings(lambda im: np.zeros(im.shape[:2], np.uint8), samples)
    for r in rep0.values():
        assert r["found_rate"] == 0.0 and r["coarse_miou"] < 0.2


def test_half_a_group_found(samples):
    groups = [s for s in samples if s.framing == "group"]

    def left_half_only(image):
        s = next(g for g in groups if g.image is image)
        out = np.where(s.labels == IGNORE_INDEX, 0, s.labels).astype(np.uint8)
        out[:, : out.shape[1] // 2] = 0
        return out

    rep = evaluate_framings(left_half_only, groups)["group"]
    assert 0 < rep["found_rate"] < 1 and rep["people"] == 5


def test_mirror_limb_agreement(samples):
    whole = [s for s in samples if s.framing == "whole"][:2]
    table = {id(s.image): s.labels for s in whole}

    # an equivariant predictor: on a mirror image, the mirrored, side-swapped truth
    def equivariant(image):
        if id(image) in table:
            return np.where(table[id(image)] == 255, 0, table[id(image)]).astype(np.uint8)
        for s in whole:
            if np.array_equal(image, s.image[:, ::-1]):
                return hflip_labels(np.where(s.labels == 255, 0, s.labels).astype(np.uint8))
        raise AssertionError

    m = mirror_limb_agreement(equivariant, [s.image for s in whole])
    assert m["limb_agreement"] == pytest.approx(1.0) and m["side_agreement"] == pytest.approx(1.0) and m["limb_pixels"] > 0

    # a predictor that ignores the mirror (same labels on both): sides disagree after the swap
    def invariant(image):
        for s in whole:
            if np.array_equal(image, s.image) or np.array_equal(image, s.image[:, ::-1]):
                return np.where(s.labels == 255, 0, s.labels).astype(np.uint8)
        raise AssertionError

    m2 = mirror_limb_agreement(invariant, [s.image for s in whole])
    assert m2["limb_agreement"] < 1.0


@pytest.mark.slow
def test_cli_on_the_bundled_model(ccp_root, capsys):
    assert main(["--checkpoint", str(REPO / "tryon_sdk" / "weights" / "default"), "--limit", "3", "--json", "--threads", "1"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert set(rep["framings"]) == set(FRAMINGS)
    assert rep["framings"]["whole"]["coarse_miou"] > 0.4 and rep["framings"]["whole"]["found_rate"] == 1.0
    assert 0 < rep["mirror"]["limb_agreement"] <= 1
