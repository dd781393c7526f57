"""Video metrics on hand-built cases whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tryon_sdk.errors import ConfigError, InputError
from tryon_sdk.labels import hflip_labels
from tryon_sdk.video.evaluation.metrics import VideoMetrics
from tryon_sdk.video.evaluation.measures import (
    agreement,
    compute_video_metrics,
    flicker,
    flip_equivariance,
    mixed_limb_share,
    transient_swaps,
)

L_ARM, R_ARM = 14, 15


def test_flicker_by_hand():
    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    b[0, 0] = 4
    b[3, 3] = 11  # 2 of 16 pixels change
    c = b.copy()  # nothing changes
    d = np.full((4, 4), 2, np.uint8)  # 16 of 16 change
    assert flicker([a, b]) == pytest.approx(2 / 16)
    assert flicker([a, b, c]) == pytest.approx((2 / 16 + 0) / 2)
    assert flicker([a, b, c, d]) == pytest.approx((2 / 16 + 0 + 1) / 3)
    assert math.isnan(flicker([a]))


def test_agreement_and_flicker_ratio_by_hand():
    raw = [np.zeros((4, 4), np.uint8), np.ones((4, 4), np.uint8)]  # raw flicker 1
    out = [np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8)]
    out[1][:2] = 1  # 8 of 16 agree in frame 1, and 8 change
    assert agreement(out, raw) == pytest.approx((1 + 0.5) / 2)
    res = compute_video_metrics(out, raw=raw)
    assert res.raw_flicker == pytest.approx(1.0)
    assert res.flicker == pytest.approx(0.5)
    assert res.flicker_ratio == pytest.approx(0.5)


def _order_map(order: int, width: int = 8) -> np.ndarray:
    """4 x width map: a left arm column and a right arm column; order +1 = left arm on the image's right."""
    m = np.zeros((4, width), np.uint8)
    right_x, left_x = (1, width - 2) if order > 0 else (width - 2, 1)
    m[:, left_x] = L_ARM
    m[:, right_x] = R_ARM
    return m


def _swaps(orders: list[int], **kw) -> int:
    maps = [_order_map(o) if o else np.zeros((4, 8), np.uint8) for o in orders]
    return transient_swaps(maps, min_side_pixels=1, **kw)


def test_transient_swaps_by_hand():
    assert _swaps([1, 1, 1, 1]) == 0
    assert _swaps([1, -1, 1, 1]) == 1  # one-frame swap
    assert _swaps([1, -1, -1, 1, 1, -1, 1]) == 2  # two- and one-frame swaps
    assert _swaps([1, -1, 0, 1]) == 1  # a frame without the pair is skipped
    assert _swaps([1] * 3 + [-1] * 8) == 0  # a real turn
    assert _swaps([1] * 3 + [-1] * 8 + [1] * 3) == 0  # turning round and back, slowly
    # flipping back after exactly window frames counts, one later does not
    assert _swaps([1] + [-1] * 5 + [1]) == 1
    assert _swaps([1] + [-1] * 6 + [1]) == 0
    assert _swaps([1] + [-1] * 2 + [1], swap_window=1) == 0


def test_transient_swaps_per_pair_and_speck_robustness():
    maps = [_order_map(o, width=10) for o in (1, -1, 1)]
    # a stray right-arm speck on the far right does not move the limb
    speck = _order_map(1, width=10)
    speck[0:3, 9] = R_ARM
    res = compute_video_metrics([*maps, speck], min_side_pixels=1)
    assert res.transient_swaps == {"Left-shoe/Right-shoe": 0, "Left-leg/Right-leg": 0, "Left-arm/Right-arm": 1}
    assert res.total_transient_swaps == 1


def test_mixed_limbs_by_hand():
    m = np.zeros((6, 10), np.uint8)
    m[0:4, 0:2] = L_ARM  # region 1: 8 pixels, 2 of them right (25 %) -> mixed
    m[0:2, 0] = R_ARM
    m[0:4, 5:8] = R_ARM  # region 2: 12 pixels, 1 left (8.3 %) -> not mixed
    m[3, 7] = L_ARM
    assert mixed_limb_share([m], min_region_area=1) == pytest.approx(1 / 2)
    res = compute_video_metrics([m, m], min_region_area=1)
    assert (res.limb_regions, res.mixed_regions) == (4, 2)
    # regions under min_region_area are not counted
    assert compute_video_metrics([m], min_region_area=10).limb_regions == 1
    assert math.isnan(mixed_limb_share([np.zeros((4, 4), np.uint8)]))


def test_touching_limbs_side_by_side_are_told_from_a_limb_labelled_both_ways():
    m = np.zeros((12, 20), np.uint8)
    m[2:10, 2:5], m[2:10, 5:8] = 13, 12  # two legs touching: right-labelled on the image's left, left beside it
    m[2:6, 12:15], m[6:10, 12:15] = L_ARM, R_ARM  # one arm, top half left, bottom half right: no line parts them
    res = compute_video_metrics([m], min_region_area=1)
    assert (res.limb_regions, res.mixed_regions, res.side_by_side_regions) == (2, 2, 1)
    assert res.mixed_limb_share == 1.0 and res.mixed_within_limb_share == pytest.approx(1 / 2)
    # a leg with a stray other-side column is still side by side at a lower bar only
    m[2:5, 3] = 12  # 3 of 48 pixels
    assert compute_video_metrics([m], min_region_area=1).side_by_side_regions == 0
    assert compute_video_metrics([m], min_region_area=1, side_by_side_agreement=0.85).side_by_side_regions == 1
    with pytest.raises(ConfigError, match="side_by_side_agreement"):
        VideoMetrics(side_by_side_agreement=0.4)


def test_flip_equivariance_by_hand():
    parse = np.zeros((4, 6), np.uint8)
    parse[:, 0] = R_ARM
    parse[:, 4] = L_ARM
    parse[0, 2] = 11  # face: not a limb, ignored
    perfect = hflip_labels(parse)
    assert flip_equivariance(perfect, parse) == 1.0
    # a mirrored parse that forgot to swap sides: agrees on no limb pixel
    assert flip_equivariance(parse[:, ::-1].copy(), parse) == 0.0
    half = perfect.copy()
    half[:2, 5] = 0  # 2 of 8 limb pixels lost
    assert flip_equivariance(half, parse) == pytest.approx(6 / 8)
    assert math.isnan(flip_equivariance(np.zeros((4, 6), np.uint8), np.zeros((4, 6), np.uint8)))
    res = compute_video_metrics([parse, parse], mirrored=[perfect, half])
    assert res.flip_equivariance == pytest.approx((8 + 6) / 16)


def test_accumulator_matches_list_api_and_accepts_torch():
    rng = np.random.default_rng(0)
    labels = [rng.choice([0, 4, 12, 13, 14, 15], size=(12, 16)).astype(np.uint8) for _ in range(9)]
    raw = [rng.choice([0, 4, 14, 15], size=(12, 16)).astype(np.uint8) for _ in range(9)]
    acc = VideoMetrics(min_region_area=2)
    for lab, r in zip(labels, raw):
        acc.update(torch.from_numpy(lab), raw=r)
    whole = compute_video_metrics(labels, raw=raw, min_region_area=2)
    assert acc.result() == whole
    assert acc.result().as_dict()["frames"] == 9
    acc.reset()
    assert acc.result().frames == 0


def test_metric_errors():
    with pytest.raises(InputError, match="H x W"):
        flicker([np.zeros((2, 4, 4), np.uint8)])
    with pytest.raises(InputError, match="H x W"):
        flicker([np.zeros((4, 4), np.float32)])
    with pytest.raises(InputError, match="changed size"):
        flicker([np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint8)])
    with pytest.raises(InputError, match="frames"):
        agreement([np.zeros((4, 4), np.uint8)], [])
    with pytest.raises(ConfigError, match="valid"):
        VideoMetrics(swap_window=0)
    with pytest.raises(ConfigError, match="valid"):
        VideoMetrics(mixed_threshold=0.7)
    with pytest.raises(ConfigError, match="valid"):
        VideoMetrics(min_region_area=0)
