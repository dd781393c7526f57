"""CCP -> ATR: every row of the mapping table, the geometry rules, and real CCP images (skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest

from tryon_sdk.errors import DataError
from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX
from training.data.ccp import CCPDataset, ccp_ids, ccp_to_atr, load_ccp_raw, read_label_names
from training.mapping import CCP_TO_ATR, IGNORE, LEG_COVER, SHOE, SKIN, build_lut

# label_list.mat of the original release, in order
CCP_NAMES = [
    "null", "accessories", "bag", "belt", "blazer", "blouse", "bodysuit", "boots", "bra", "bracelet", "cape", "cardigan",
    "clogs", "coat", "dress", "earrings", "flats", "glasses", "gloves", "hair", "hat", "heels", "hoodie", "intimate",
    "jacket", "jeans", "jumper", "leggings", "loafers", "necklace", "panties", "pants", "pumps", "purse", "ring", "romper",
    "sandals", "scarf", "shirt", "shoes", "shorts", "skin", "skirt", "sneakers", "socks", "stockings", "suit",
    "sunglasses", "sweater", "sweatshirt", "swimwear", "t-shirt", "tie", "tights", "top", "vest", "wallet", "watch", "wedges",
]
ID = {n: i for i, n in enumerate(CCP_NAMES)}
A = CLASS_INDEX


def ccp_person(legs: str = "skin", shoes: str = "shoes", face: bool = True, lower: str = "shorts") -> np.ndarray:
    """A 200x120 frontal person in CCP ids: hair, skin face, top, skin arms, shorts, legs, two shoes."""
    g = np.zeros((200, 120), np.uint8)
    g[10:26, 48:72] = ID["hair"]
    g[22:45, 50:70] = ID["skin"] if face else ID["hair"]
    g[45:110, 35:85] = ID["top"]
    g[48:105, 22:33] = ID["skin"]  # image-left arm = person's right
    g[48:105, 87:98] = ID["skin"]
    g[110:135, 38:82] = ID[lower]
    g[135:185, 42:57] = ID[legs]
    g[135:185, 63:78] = ID[legs]
    g[185:195, 40:58] = ID[shoes]
    g[185:195, 62:80] = ID[shoes]
    return g


def test_table_covers_every_ccp_label_once():
    assert sorted(CCP_TO_ATR) == sorted(CCP_NAMES)
    lut = build_lut(CCP_NAMES, CCP_TO_ATR)
    assert lut.shape == (59,) and lut[ID["skin"]] == SKIN and lut[ID["null"]] == A["Background"]
    with pytest.raises(DataError, match="no ATR mapping"):
        build_lut(CCP_NAMES + ["kilt"], CCP_TO_ATR)


@pytest.mark.parametrize("name", CCP_NAMES)
def test_mapping_row(name):
    target = CCP_TO_ATR[name]
    if target == SHOE:
        out = ccp_to_atr(ccp_person(shoes=name), CCP_NAMES)
        assert np.all(out[185:195, 40:58] == A["Right-shoe"]) and np.all(out[185:195, 62:80] == A["Left-shoe"])
    elif target == LEG_COVER:
        out = ccp_to_atr(ccp_person(legs=name), CCP_NAMES)
        assert np.all(out[135:185, 42:57] == A["Right-leg"]) and np.all(out[135:185, 63:78] == A["Left-leg"])
    elif target == SKIN:
        out = ccp_to_atr(ccp_person(), CCP_NAMES)
        assert np.all(out[22:45, 50:70] == A["Face"])
        assert np.all(out[48:105, 22:33] == A["Right-arm"]) and np.all(out[48:105, 87:98] == A["Left-arm"])
        assert np.all(out[135:185, 42:57] == A["Right-leg"]) and np.all(out[135:185, 63:78] == A["Left-leg"])
    else:
        g = ccp_person()
        g[70:80, 55:65] = ID[name]  # a patch on the top
        out = ccp_to_atr(g, CCP_NAMES)
        assert np.all(out[70:80, 55:65] == target), f"{name} -> {np.unique(out[70:80, 55:65])}, expected {target}"
        assert target == IGNORE or 0 <= target < 18


def test_back_view_gets_the_persons_own_sides():
    """A hair-only head is a person seen from behind: their left limbs are on the image's left."""
    out = ccp_to_atr(ccp_person(face=False), CCP_NAMES)
    assert not np.any(out == A["Face"])
    assert np.all(out[48:105, 22:33] == A["Left-arm"]) and np.all(out[48:105, 87:98] == A["Right-arm"])
    assert np.all(out[135:185, 42:57] == A["Left-leg"]) and np.all(out[135:185, 63:78] == A["Right-leg"])
    assert np.all(out[185:195, 40:58] == A["Left-shoe"]) and np.all(out[185:195, 62:80] == A["Right-shoe"])


def test_front_and_back_layouts_are_mirror_images_in_sides():
    front, back = ccp_to_atr(ccp_person(), CCP_NAMES), ccp_to_atr(ccp_person(face=False), CCP_NAMES)
    from tryon_sdk.labels import swap_lr

    sided = np.isin(front, [A[c] for c in ("Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe", "Right-shoe")])
    assert sided.sum() > 1000
    assert np.array_equal(back[sided], swap_lr(front)[sided])


def test_weak_head_evidence_leaves_sides_undecided():
    g = ccp_person(face=False)
    g[10:45, 48:72] = ID["hat"]  # a hood/hat hides both face and hair: no cue to the facing
    out = ccp_to_atr(g, CCP_NAMES)
    for cls in ("Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe", "Right-shoe"):
        assert not np.any(out == A[cls]), cls
    assert np.all(out[48:105, 22:33] == IGNORE_INDEX) and np.all(out[185:195, 40:58] == IGNORE_INDEX)


def test_hand_beside_skirt_is_an_arm_and_central_skin_is_ignored():
    g = ccp_person(lower="skirt")
    g[112:128, 24:32] = ID["skin"]  # a separate hand beside the skirt, below the hip line
    g[60:70, 56:64] = ID["skin"]  # a patch of chest skin inside the top
    out = ccp_to_atr(g, CCP_NAMES)
    assert np.all(out[112:128, 24:32] == A["Right-arm"])
    assert np.all(out[60:70, 56:64] == IGNORE_INDEX)


def test_legs_touching_are_split_with_a_dead_band():
    g = ccp_person()
    g[135:185, 42:78] = ID["skin"]  # one merged leg blob across the centre
    out = ccp_to_atr(g, CCP_NAMES)
    assert np.all(out[135:185, 42:55] == A["Right-leg"]) and np.all(out[135:185, 66:78] == A["Left-leg"])
    assert np.all(out[135:185, 59:62] == IGNORE_INDEX)


def test_out_of_range_value_is_a_data_error():
    g = ccp_person()
    g[0, 0] = 59
    with pytest.raises(DataError, match="outside"):
        ccp_to_atr(g, CCP_NAMES)


REAL_IDS = ("0001", "0002", "0003", "0050", "0100")


def test_real_label_list_matches(ccp_root):
    assert read_label_names(ccp_root) == CCP_NAMES
    assert len(ccp_ids(ccp_root)) >= 100


@pytest.mark.parametrize("image_id", REAL_IDS)
def test_real_ccp_images_map_plausibly(ccp_root, image_id):
    if not (ccp_root / "photos" / f"{image_id}.jpg").is_file():
        pytest.skip(f"CCP image {image_id} not in {ccp_root}")
    img, gt = load_ccp_raw(ccp_root, image_id)
    out = ccp_to_atr(gt, CCP_NAMES)
    assert img.shape[:2] == out.shape and out.dtype == np.uint8
    assert set(np.unique(out).tolist()) <= set(range(18)) | {IGNORE_INDEX}
    assert np.array_equal(out == A["Background"], gt == 0)  # null <-> Background exactly
    skin = gt == ID["skin"]
    resolved = out[skin] != IGNORE_INDEX
    assert resolved.mean() > 0.8, f"only {resolved.mean():.0%} of the skin got a class"
    ys, xs = np.nonzero(out == A["Face"])
    assert ys.size > 500 and ys.mean() < np.nonzero((out == A["Upper-clothes"]) | (out == A["Dress"]))[0].mean()
    for left, right in (("Left-leg", "Right-leg"), ("Left-shoe", "Right-shoe"), ("Left-arm", "Right-arm")):
        lx, rx = np.nonzero(out == A[left])[1], np.nonzero(out == A[right])[1]
        if lx.size > 100 and rx.size > 100:  # facing the camera: the person's left is on the image's right
            assert lx.mean() > rx.mean(), (left, lx.mean(), rx.mean())


def test_ccp_dataset_subset(ccp_root):
    ds = CCPDataset(ccp_root, ids=["0001", "0002"])
    img, mask = ds[1]
    assert len(ds) == 2 and img.shape[:2] == mask.shape
    with pytest.raises(DataError, match="not found"):
        CCPDataset(ccp_root, ids=["9999"])


def test_touching_feet_are_split_but_a_lone_narrow_shoe_is_not():
    g = ccp_person()
    g[185:195, 40:80] = ID["shoes"]  # both feet in one wide blob
    out = ccp_to_atr(g, CCP_NAMES)
    assert np.all(out[185:195, 40:56] == A["Right-shoe"]) and np.all(out[185:195, 64:80] == A["Left-shoe"])
    g = ccp_person()
    g[185:195, 40:80] = 0
    g[180:198, 52:66] = ID["shoes"]  # one narrow shoe across the centre: undecidable
    out = ccp_to_atr(g, CCP_NAMES)
    assert np.all(out[180:198, 52:66] == IGNORE_INDEX)
