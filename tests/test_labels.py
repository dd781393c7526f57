import numpy as np
import pytest
import torch

from tryon_sdk import ConfigError
from tryon_sdk.labels import (
    ATR_CLASSES,
    FLIP_PAIRS,
    FLIP_PERMUTATION,
    PALETTE,
    class_id,
    hflip_labels,
    swap_lr,
    swap_lr_channels,
)

EXPECTED = (
    "Background Hat Hair Sunglasses Upper-clothes Skirt Pants Dress Belt Left-shoe Right-shoe "
    "Face Left-leg Right-leg Left-arm Right-arm Bag Scarf"
).split()


def test_class_order_is_atr():
    assert list(ATR_CLASSES) == EXPECTED
    assert FLIP_PAIRS == ((9, 10), (12, 13), (14, 15))
    for left, right in FLIP_PAIRS:
        assert ATR_CLASSES[left].startswith("Left-") and ATR_CLASSES[right] == "Right-" + ATR_CLASSES[left][5:]


def test_palette_is_distinct():
    assert PALETTE.shape == (18, 3) and PALETTE.dtype == np.uint8
    assert len({tuple(c) for c in PALETTE}) == 18


def test_class_id_lookup_and_error():
    assert class_id("left_arm") == 14 and class_id("Upper-clothes") == 4
    with pytest.raises(ConfigError, match="valid: Background"):
        class_id("sleeve")


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_swap_lr_swaps_pairs_only(kind):
    ids = np.arange(18, dtype=np.uint8).reshape(3, 6)
    ids = np.concatenate([ids, np.full((1, 6), 255, np.uint8)])
    x = torch.from_numpy(ids) if kind == "torch" else ids
    out = swap_lr(x)
    out = out.numpy() if kind == "torch" else out
    expected = ids.copy()
    for left, right in FLIP_PAIRS:
        expected[ids == left], expected[ids == right] = right, left
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(ids, np.concatenate([np.arange(18).reshape(3, 6), np.full((1, 6), 255)]))  # input kept
    assert sorted(FLIP_PERMUTATION) == list(range(18))
    assert all(FLIP_PERMUTATION[FLIP_PERMUTATION[c]] == c for c in range(18))


def test_swap_channels_matches_swap_labels():
    scores = torch.randn(2, 18, 5, 7)
    labels = scores.argmax(1)
    np.testing.assert_array_equal(swap_lr_channels(scores, dim=1).argmax(1), swap_lr(labels))
    np.testing.assert_array_equal(swap_lr_channels(scores.numpy(), dim=1).argmax(1), swap_lr(labels).numpy())


def test_hflip_labels_moves_and_swaps():
    lab = np.zeros((2, 4), np.uint8)
    lab[:, 0] = 14  # left arm on the image's left
    out = hflip_labels(lab)
    assert (out[:, 3] == 15).all() and (out[:, :3] == 0).all()
    np.testing.assert_array_equal(hflip_labels(out), lab)
