"""Pseudo-labels: a class the photo's tags forbid never appears; uncertain pixels are ignored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX, NUM_CLASSES
from training.data.pseudo import ALWAYS_ALLOWED, allowed_classes, pseudo_label, read_tags, teacher_probabilities, unlabeled_ids

from .conftest import REPO

NAMES = ["null", "bag", "belt", "boots", "hair", "skin", "skirt", "stockings", "sunglasses", "watch"]


def test_allowed_classes_follow_the_tags():
    ok = allowed_classes([0, 3, 6], NAMES)  # null, boots, skirt
    allowed = set(np.flatnonzero(ok).tolist())
    assert allowed == set(ALWAYS_ALLOWED) | {CLASS_INDEX["Skirt"], CLASS_INDEX["Left-shoe"], CLASS_INDEX["Right-shoe"]}
    assert not ok[CLASS_INDEX["Bag"]] and not ok[CLASS_INDEX["Pants"]] and not ok[CLASS_INDEX["Sunglasses"]]
    assert allowed_classes([9], NAMES).sum() == len(ALWAYS_ALLOWED)  # watch: ignored in ATR, allows nothing more
    from tryon_sdk.errors import DataError

    with pytest.raises(DataError):
        allowed_classes([42], NAMES)


def test_a_forbidden_class_never_appears_and_low_confidence_is_ignored():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(NUM_CLASSES, 40, 30, generator=g) * 3
    bag = CLASS_INDEX["Bag"]
    logits[bag, :20] += 20  # the teacher is sure there is a bag in the top half
    probs = logits.softmax(0)
    ok = allowed_classes([0, 6], NAMES)  # a skirt, no bag
    lab = pseudo_label(probs, ok, 0.5)
    assert lab.dtype == np.uint8 and lab.shape == (40, 30)
    present = set(np.unique(lab).tolist()) - {IGNORE_INDEX}
    assert present <= set(np.flatnonzero(ok).tolist()) and bag not in present
    assert (lab[:20] == IGNORE_INDEX).all()  # where the teacher said bag, nothing allowed is confident
    kept = lab != IGNORE_INDEX
    conf = probs.max(0).values.numpy()
    assert (conf[kept] >= 0.5).all()
    assert pseudo_label(probs, ok, 1.01).tolist() == np.full((40, 30), IGNORE_INDEX).tolist()


def test_teacher_on_real_unlabelled_photos_respects_tags(ccp_root):
    import cv2

    from tryon_sdk.models.builders import build_model
    from tryon_sdk.models.checkpoint import load_checkpoint, load_weights_into
    from tryon_sdk.preprocess import Preprocess
    from training.data.ccp import read_label_names

    names = read_label_names(ccp_root)
    ids = unlabeled_ids(ccp_root)
    assert len(ids) == 1094
    state, cfg = load_checkpoint(REPO / "tryon_sdk" / "weights" / "default")
    model = build_model(cfg)
    load_weights_into(model, state, cfg)
    model.eval()
    pre = Preprocess.from_config(cfg)
    for image_id in ids[:2]:
        tags = read_tags(ccp_root, image_id)
        assert tags and all(0 <= t < len(names) for t in tags)
        img = cv2.cvtColor(cv2.imread(str(ccp_root / "photos-unlabeled" / f"{image_id}.jpg")), cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, (128, 192), interpolation=cv2.INTER_AREA)
        probs = teacher_probabilities(model, pre, img, scales=(1.0,))
        assert probs.shape == (NUM_CLASSES, 192, 128)
        assert torch.allclose(probs.sum(0), torch.ones(192, 128), atol=1e-4)
        ok = allowed_classes(tags, names)
        lab = pseudo_label(probs, ok, 0.7)
        present = set(np.unique(lab).tolist()) - {IGNORE_INDEX}
        assert present <= set(np.flatnonzero(ok).tolist())
        assert (lab != IGNORE_INDEX).mean() > 0.3
