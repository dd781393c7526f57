"""Confusion-matrix metrics by hand and against torchmetrics on random data; the evaluate CLI's report too."""

from __future__ import annotations


import pytest
import torch

from training.metrics import confusion_matrix, scores


def test_hand_computed_case():
    pred = torch.tensor([0, 1, 1, 2, 0])
    target = torch.tensor([0, 1, 2, 255, 0])
    cm = confusion_matrix(pred, target, 4)
    assert cm.tolist() == [[2, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    s = scores(cm)
    assert s["pixel_accuracy"] == pytest.approx(3 / 4)
    assert s["per_class_iou"]["0"] == 1.0 and s["per_class_iou"]["1"] == 0.5 and s["per_class_iou"]["2"] == 0.0
    assert s["per_class_iou"]["3"] is None  # never in the ground truth
    assert s["mean_iou"] == pytest.approx(0.5)
    assert s["present"] == [0, 1, 2]


def test_matches_torchmetrics_on_random_data():
    tm = pytest.importorskip("torchmetrics")
    g = torch.Generator().manual_seed(3)
    c = 18
    target = torch.randint(0, c - 2, (4, 33, 27), generator=g)  # classes 16, 17 absent from truth
    target[torch.rand(target.shape, generator=g) < 0.1] = 255
    pred = torch.randint(0, c, (4, 33, 27), generator=g)
    s = scores(confusion_matrix(pred, target, c))
    jac = tm.classification.MulticlassJaccardIndex(num_classes=c, ignore_index=255, average="none")(pred, target)
    acc = tm.classification.MulticlassAccuracy(num_classes=c, ignore_index=255, average="micro")(pred, target)
    present = s["present"]
    assert present == list(range(c - 2))
    for i in present:
        assert s["per_class_iou"][str(i)] == pytest.approx(float(jac[i]), abs=1e-6)
    assert s["mean_iou"] == pytest.approx(float(jac[present].mean()), abs=1e-6)
    assert s["pixel_accuracy"] == pytest.approx(float(acc), abs=1e-6)
