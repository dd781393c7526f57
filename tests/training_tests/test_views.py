"""Framing crops and group scenes: labels stay aligned with the pixels, the front person's labels win."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon_sdk.errors import ConfigError
from training.views import FRAMINGS, ViewConfig, body_lines, compose_groups, crop_into, frame_crops, framing_box

from synthetic import COLOURS, FACE, L_SHOE, PANTS, R_SHOE, UPPER, synthetic_people

FILL = (0.5, 0.5, 0.5)


def _batch(n: int = 4, h: int = 192, w: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    images, masks = synthetic_people(n, h, w, seed=seed)
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255, torch.from_numpy(masks).long()


def _colour_matches_label(x: torch.Tensor, y: torch.Tensor, min_share: float = 0.97) -> None:
    """Each labelled pixel's colour is its class's colour (noise +-12, bilinear edges aside)."""
    img = (x.permute(0, 2, 3, 1) * 255).numpy()
    lab = y.numpy()
    # pixels whose 3x3 neighbourhood has one label (bilinear resampling blends the colours at edges)
    pad = np.pad(lab, ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = lab.shape[1:]
    inner = np.ones_like(lab, bool)
    for dy in range(3):
        for dx in range(3):
            inner &= pad[:, dy : dy + h, dx : dx + w] == lab
    for c, col in COLOURS.items():
        sel = (lab == c) & inner
        if sel.sum() < 20:
            continue
        near = (np.abs(img[sel] - np.array(col)) <= 20).all(-1)
        assert near.mean() >= min_share, (c, near.mean())


@pytest.mark.parametrize("landscape", [False, True])
def test_framing_crops_keep_labels_aligned(landscape):
    x, y = _batch()
    g = torch.Generator().manual_seed(0)
    xo, yo = frame_crops(x, y, (96, 64), ViewConfig(), g, landscape=landscape, fill=FILL)
    assert xo.shape == ((4, 3, 64, 96) if landscape else (4, 3, 96, 64)) and yo.shape == xo.shape[:1] + xo.shape[2:]
    assert xo.dtype == torch.float32 and yo.dtype == torch.int64
    _colour_matches_label(xo, yo)
    assert ((yo != 0) & (yo != 255)).sum((1, 2)).min() > 200  # a person in every crop


def test_framings_cut_where_they_say():
    x, y = _batch(1, seed=3)
    top, bot, _, _, neck, hip = body_lines(y[0])
    assert top < neck < hip < bot
    g = torch.Generator().manual_seed(1)
    for kind in FRAMINGS:
        box = framing_box(y[0], kind, g)
        _, yo = crop_into(x, y, [box], (96, 64), FILL)
        present = set(yo.unique().tolist())
        if kind == "shoulders":
            assert FACE in present and UPPER in present and not present & {PANTS, L_SHOE, R_SHOE}
        if kind == "hips":
            assert UPPER in present and not present & {L_SHOE, R_SHOE}
        if kind == "knees":
            assert PANTS in present and not present & {L_SHOE, R_SHOE}
    with pytest.raises(ConfigError, match="unknown framing"):
        framing_box(y[0], "feet", g)


def test_crop_into_is_exact_for_the_whole_image():
    x, y = _batch(2, 96, 64)
    xo, yo = crop_into(x, y, [(0.0, 0.0, 64.0, 96.0)] * 2, (96, 64), FILL)
    assert torch.equal(yo, y) and torch.allclose(xo, x, atol=1e-5)


def test_crop_into_letterboxes_like_the_parser():
    x, y = _batch(1, 96, 64)
    xo, yo = crop_into(x, y, [(0.0, 0.0, 64.0, 96.0)], (64, 96), FILL)  # a portrait photo in a landscape canvas
    nw = round(64 * 64 / 96)
    left = (96 - nw) // 2
    assert (yo[0, :, :left] == 255).all() and (yo[0, :, left + nw :] == 255).all()
    assert torch.equal(xo[0, :, :, :left], torch.full((3, 64, left), 0.5))
    assert (yo[0, :, left : left + nw] != 255).all()


def test_groups_occlusion_labels_are_the_front_persons():
    # two people with the same silhouette: one in a red top labelled Upper-clothes, the other in a blue top
    # labelled Dress. Wherever they overlap, the visible (nearer) person's label must be the one written:
    # red pixels are Upper-clothes and blue pixels Dress, never the other way round.
    from tryon_sdk.labels import CLASS_INDEX

    dress = CLASS_INDEX["Dress"]
    x, y = _batch(2, seed=2)
    y[1] = torch.where(y[0] == UPPER, dress, y[0])
    x[1] = x[0].flip(0)
    cfg = ViewConfig(people=(2, 2), p_tiles=0.0, depth_shrink=(0.7, 0.7), person_height=(0.95, 0.95), spread=(0.05, 0.1))
    red = torch.tensor(COLOURS[UPPER], dtype=torch.float32)
    blue = red.flip(0)
    overlaps = 0
    for seed in range(4):
        xo, yo = compose_groups(x, y, (192, 128), cfg, torch.Generator().manual_seed(seed), landscape=True, fill=FILL)
        for i in range(2):
            img = xo[i].permute(1, 2, 0) * 255
            lab = yo[i]
            inner = torch.ones_like(lab, dtype=torch.bool)
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                inner &= torch.roll(lab, (dy, dx), (0, 1)) == lab
            is_red = ((img - red).abs().max(-1).values <= 30) & inner
            is_blue = ((img - blue).abs().max(-1).values <= 30) & inner
            if is_red.any():
                assert (lab[is_red] == UPPER).float().mean() > 0.97
            if is_blue.any():
                assert (lab[is_blue] == dress).float().mean() > 0.97
            # an overlap: a column where the tops of both people meet
            both = (lab == UPPER).any(0) & (lab == dress).any(0)
            overlaps += int(both.sum())
    assert overlaps > 0


def test_tiles_put_photos_side_by_side():
    x, y = _batch(4, 96, 64)
    cfg = ViewConfig(people=(3, 3), p_tiles=1.0)
    xo, yo = compose_groups(x, y, (96, 64), cfg, torch.Generator().manual_seed(0), landscape=True, fill=FILL)
    _colour_matches_label(xo, yo, 0.9)
    cols = ((yo[0] == FACE).any(0)).nonzero().flatten()
    # three faces: three separate column runs
    runs = 1 + int((cols.diff() > 1).sum())
    assert runs == 3


def test_view_config_errors():
    with pytest.raises(ConfigError):
        ViewConfig(p_framing=1.5)
    with pytest.raises(ConfigError):
        ViewConfig(people=(1, 3))
    with pytest.raises(ConfigError):
        ViewConfig(framing_weights=(1.0, 1.0))
