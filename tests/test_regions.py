"""Region class sets, soft alphas, boxes, agnostic masks, edge refinement and overlays."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon_sdk import ConfigError
from tryon_sdk.labels import ATR_CLASSES
from tryon_sdk.result import ParseResult
from tryon_sdk.refine import refine_alpha
from tryon_sdk.regions import REGIONS, agnostic_image, agnostic_mask, region_alpha, region_box, region_classes
from tryon_sdk.visualize import colorize, overlay

# Written out by class name, independently of the code's id sets.
EXPECTED_REGIONS = {
    "upper_body": {"Upper-clothes"},
    "lower_body": {"Skirt", "Pants"},
    "dress": {"Dress"},
    "outfit": {"Upper-clothes", "Skirt", "Pants", "Dress"},
    "shoes": {"Left-shoe", "Right-shoe"},
    "accessories": {"Hat", "Sunglasses", "Belt", "Bag", "Scarf"},
    "hair": {"Hair"},
    "face": {"Face"},
    "arms": {"Left-arm", "Right-arm"},
    "legs": {"Left-leg", "Right-leg"},
    "skin": {"Face", "Left-arm", "Right-arm", "Left-leg", "Right-leg"},
    "person": set(ATR_CLASSES[1:]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_REGIONS))
def test_region_class_sets(name):
    assert set(REGIONS) == set(EXPECTED_REGIONS)
    labels = np.arange(18, dtype=np.uint8).reshape(1, 18).repeat(2, 0)
    alpha = region_alpha(name, labels=labels, refine=False)
    inside = {ATR_CLASSES[c] for c in range(18) if alpha[0, c] == 1.0}
    assert inside == EXPECTED_REGIONS[name]
    assert set(np.unique(alpha)) <= {0.0, 1.0}


def test_soft_alpha_from_probabilities_and_box():
    probs = np.zeros((18, 10, 12), np.float32)
    probs[0] = 1.0
    probs[0, 2:6, 3:9], probs[4, 2:6, 3:9] = 0.3, 0.7
    probs[5, 7, 1], probs[0, 7, 1] = 0.4, 0.6
    alpha = region_alpha("upper_body", probabilities=probs, refine=False)
    assert alpha.dtype == np.float32 and alpha.max() == pytest.approx(0.7)
    assert region_box(alpha) == (3, 2, 9, 6)
    assert region_box(region_alpha("lower_body", probabilities=probs, refine=False)) is None


def test_feather_softens_edges_and_keeps_range():
    labels = np.zeros((40, 40), np.uint8)
    labels[10:30, 10:30] = 4
    hard = region_alpha("upper_body", labels=labels, refine=False)
    soft = region_alpha("upper_body", labels=labels, refine=False, feather=6)
    assert ((soft > 0.05) & (soft < 0.95)).sum() > ((hard > 0.05) & (hard < 0.95)).sum() + 40
    assert soft.min() >= 0.0 and soft.max() <= 1.0 and soft[20, 20] > 0.95 and soft[0, 0] < 0.01
    with pytest.raises(ConfigError, match="feather"):
        region_alpha("upper_body", labels=labels, feather=-1)
    with pytest.raises(ConfigError, match="valid: upper_body"):
        region_alpha("torso", labels=labels)


def _person_labels() -> np.ndarray:
    lab = np.zeros((200, 120), np.uint8)
    lab[5:15, 45:75] = 2  # hair
    lab[15:40, 48:72] = 11  # face
    lab[40:110, 35:85] = 4  # upper clothes
    lab[40:100, 20:35] = 15  # right arm (image left)
    lab[40:100, 85:100] = 14  # left arm (image right)
    lab[110:180, 38:82] = 6  # pants
    lab[180:195, 38:58] = 10
    lab[180:195, 62:82] = 9
    lab[60:90, 100:115] = 16  # bag
    return lab


@pytest.mark.parametrize("category, garment", [("upper_body", 4), ("lower_body", 6), ("dresses", 4)])
def test_agnostic_masks_cover_garment_never_face(category, garment):
    lab = _person_labels()
    mask = agnostic_mask(lab, category, dilation=8)
    assert mask.dtype == bool
    assert mask[lab == garment].all()
    for kept in (11, 2, 9, 10, 16):
        assert not mask[lab == kept].any(), ATR_CLASSES[kept]
    # dilation reaches into the background around the garment
    assert mask[lab == 0].sum() > 0
    assert agnostic_mask(lab, category, dilation=0)[lab == 0].sum() == 0
    grey = agnostic_image(np.full((*lab.shape, 3), 30, np.uint8), mask)
    assert (grey[mask] == 128).all() and (grey[~mask] == 30).all()


def test_agnostic_upper_includes_arms_not_pants():
    lab = _person_labels()
    upper = agnostic_mask(lab, "upper_body", dilation=0)
    assert upper[lab == 14].all() and upper[lab == 15].all() and not upper[lab == 6].any()
    with pytest.raises(ConfigError, match="valid: upper_body, lower_body, dresses"):
        agnostic_mask(lab, "shoes")


def _edge_error(alpha: np.ndarray, truth: np.ndarray) -> float:
    return float(np.abs(alpha - truth).mean())


def test_guided_refinement_moves_edges_to_true_boundary():
    """A garment disc on textured background: coarse stride-8 alpha, upsampled bilinearly, vs refined."""
    rng = np.random.default_rng(0)
    h, w = 240, 320
    yy, xx = np.mgrid[:h, :w]
    truth = (((yy - 117.3) / 80.0) ** 2 + ((xx - 161.7) / 110.0) ** 2 <= 1.0).astype(np.float32)
    image = np.where(truth[..., None] > 0, np.array([200, 40, 50]), np.array([70, 120, 180])).astype(np.float32)
    image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    coarse = cv2.resize(truth, (w // 8, h // 8), interpolation=cv2.INTER_AREA)
    bilinear = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    refined = refine_alpha(bilinear, image, radius=12)  # 1.5 strides of the coarse grid
    guided = refine_alpha(bilinear, image, radius=12, method="guided")
    band = cv2.dilate(truth, np.ones((17, 17))) - cv2.erode(truth, np.ones((17, 17))) > 0  # the edge zone
    err_bilinear = _edge_error(bilinear[band], truth[band])
    err_refined = _edge_error(refined[band], truth[band])
    assert err_refined < 0.3 * err_bilinear, (err_refined, err_bilinear)
    assert _edge_error(guided[band], truth[band]) < 0.8 * err_bilinear
    # the 0.5 contour of the refined alpha sits closer to the true boundary
    assert ((refined > 0.5) != (truth > 0.5)).sum() < ((bilinear > 0.5) != (truth > 0.5)).sum()


def test_result_region_uses_refinement_by_default(person_image):
    """Probabilities upsampled from a stride-4 grid, as the parser makes them: refined by default."""
    h, w = person_image.shape[:2]
    truth = np.zeros((h, w), np.float32)
    truth[30:70, 25:62] = 1
    coarse = cv2.resize(truth, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    soft = np.clip(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)
    probs = np.zeros((18, h, w), np.float32)
    probs[4], probs[0] = soft, 1 - soft
    res = ParseResult(probs.argmax(0).astype(np.uint8), probs, person_image, stride_px=4.0)
    raw = res.region("upper_body", refine=False)
    refined = res.region("upper_body")
    np.testing.assert_allclose(raw, np.where(soft >= 1 / 512, soft, 0), atol=1e-6)  # what 8 bits would not show: 0
    assert np.abs(refined - truth).sum() < 0.3 * np.abs(raw - truth).sum()
    assert res.box("upper_body") == region_box(soft)


def test_colorize_and_overlay():
    lab = _person_labels()
    img = np.full((*lab.shape, 3), 100, np.uint8)
    col = colorize(lab)
    assert col.shape == (*lab.shape, 3) and (col[lab == 0] == 0).all()
    ov = overlay(img, lab, alpha=0.5)
    assert (ov[lab == 0] == 100).all()
    assert not (ov[lab == 4] == 100).all(axis=-1).any()
    res = ParseResult(lab, None, img)
    np.testing.assert_array_equal(res.overlay(0.5), ov)
    with pytest.raises(ConfigError, match="keeps no image"):
        ParseResult(lab).overlay()


def test_colour_refinement_keeps_alpha_where_colours_do_not_differ():
    image = np.full((60, 60, 3), 120, np.uint8)  # garment the colour of the wall: no edge to snap to
    alpha = np.zeros((60, 60), np.float32)
    alpha[:, :30] = 1.0
    alpha[:, 27:33] = np.linspace(1, 0, 6)
    np.testing.assert_allclose(refine_alpha(alpha, image, radius=6), alpha, atol=1e-3)
    stacked = refine_alpha(np.stack([alpha, 1 - alpha]), image, radius=6)
    assert stacked.shape == (2, 60, 60)
    with pytest.raises(ConfigError, match="valid: colour, guided"):
        refine_alpha(alpha, image, method="bilateral")


def test_refinement_leaves_a_hard_alpha_as_it_is(person_image):
    """Labels only (no probabilities): the alpha is 0/1, nothing is unsure, refinement moves nothing."""
    lab = _person_labels()
    h, w = lab.shape
    res = ParseResult(lab, None, cv2.resize(person_image, (w, h)), stride_px=4.0)
    np.testing.assert_array_equal(res.region("upper_body"), np.isin(lab, sorted(region_classes("upper_body"))))
    feathered = res.region("upper_body", feather=3.0)
    assert ((feathered > 0.02) & (feathered < 0.98)).any()  # feathering still softens the edge
