"""Validation metrics written by training describe what ``Parser`` does on the same images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon_sdk import Parser
from tryon_sdk.labels import IGNORE_INDEX
from training.evaluate import evaluate_arrays
from training.metrics import confusion_matrix, scores

from synthetic import synthetic_people


@pytest.mark.parametrize("flip_tta", [False, True])
@pytest.mark.parametrize("size", [(96, 64), (80, 120)])  # portrait and landscape, neither at the model's size
def test_training_metrics_equal_the_parsers(size, flip_tta):
    parser = Parser.from_pretrained(device="cpu", flip_tta=flip_tta)
    images, masks = synthetic_people(6, h=size[0], w=size[1], seed=7)
    report = evaluate_arrays(parser.model, parser.config, images, masks, batch_size=4, flip_tta=flip_tta)
    cm = torch.zeros(18, 18, dtype=torch.int64)
    for image, mask in zip(images, masks):
        labels = parser.parse(image, roi=False, sides="network").labels  # the network on the whole photo
        cm += confusion_matrix(torch.from_numpy(labels).long(), torch.from_numpy(mask).long(), 18, IGNORE_INDEX)
    assert np.array_equal(np.array(report["confusion"]), cm.numpy())
    assert report["mean_iou"] == pytest.approx(scores(cm, parser.config.class_names)["mean_iou"])
