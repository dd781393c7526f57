"""CE + Dice on hand-computed cases: ignore pixels, absent classes, predicted-but-absent classes."""

from __future__ import annotations

import math

import pytest
import torch

from training.losses import CEDiceLoss, dice_loss


def test_ignore_pixels_carry_no_loss_and_hand_value():
    # pixel 0: logits (0, 0), target 0; pixel 1: ignored, logits would cost a lot if counted
    logits = torch.tensor([[[[0.0, 5.0]], [[0.0, -5.0]]]])  # B=1, C=2, H=1, W=2
    target = torch.tensor([[[0, 255]]])
    # CE = ln 2 on the one valid pixel; Dice: class 0 only (class 1 neither true nor argmax):
    # dice0 = (2*0.5 + 1) / (0.5 + 1 + 1) = 0.8
    expected = math.log(2) + (1 - 0.8)
    assert CEDiceLoss()(logits, target).item() == pytest.approx(expected, abs=1e-6)
    flipped_ignored = logits.clone()
    flipped_ignored[0, :, 0, 1] = torch.tensor([-9.0, 9.0])
    assert CEDiceLoss()(flipped_ignored, target).item() == pytest.approx(expected, abs=1e-6)


def test_absent_classes_do_not_enter_the_dice_average():
    c = 18
    logits = torch.zeros(1, c, 2, 2)
    logits[:, 0] = 10.0
    target = torch.zeros(1, 2, 2, dtype=torch.long)
    p0 = math.exp(10) / (math.exp(10) + (c - 1))
    expected = 1 - (2 * 4 * p0 + 1) / (4 * p0 + 4 + 1)  # only class 0 averaged
    assert dice_loss(logits, target).item() == pytest.approx(expected, abs=1e-6)
    assert dice_loss(logits, target).item() < 1e-3  # a mean over all 18 classes would be ~0.94 here


def test_predicted_but_absent_class_is_penalised():
    logits = torch.zeros(1, 3, 1, 4)
    logits[:, 1] = 4.0  # argmax says class 1 everywhere, truth is class 0
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    p = torch.softmax(torch.tensor([0.0, 4.0, 0.0]), 0)
    d0 = (2 * 4 * p[0] + 1) / (4 * p[0] + 4 + 1)
    d1 = (0 + 1) / (4 * p[1] + 0 + 1)
    expected = ((1 - d0) + (1 - d1)) / 2  # classes 0 (true) and 1 (predicted); class 2 left out
    assert dice_loss(logits, target).item() == pytest.approx(float(expected), abs=1e-6)


def test_all_ignored_gives_zero_with_gradient():
    logits = torch.randn(2, 5, 3, 3, requires_grad=True)
    target = torch.full((2, 3, 3), 255)
    loss = CEDiceLoss()(logits, target)
    assert loss.item() == 0.0
    loss.backward()
    assert logits.grad is not None and torch.all(logits.grad == 0)


def test_class_weights_change_ce_as_torch_does():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5, 5)
    target = torch.randint(0, 4, (2, 5, 5))
    target[0, 0] = 255
    w = torch.tensor([0.5, 2.0, 1.0, 3.0])
    ce = torch.nn.functional.cross_entropy(logits, target, weight=w, ignore_index=255)
    got = CEDiceLoss(w, dice_weight=0.0)(logits, target)
    assert got.item() == pytest.approx(ce.item(), rel=1e-6)
    assert CEDiceLoss(w, dice_weight=1.0)(logits, target).item() == pytest.approx(ce.item() + dice_loss(logits, target).item(), rel=1e-6)
