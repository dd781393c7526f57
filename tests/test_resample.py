"""Labels and scores from the model's grid (``tryon_sdk.resample``) against resizing every class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tryon_sdk.labels import argmax_labels
from tryon_sdk.resample import GridScores, upsampled_labels
from tryon_sdk.video.temporal.smoothing import SmoothingOptions, TemporalSmoother

from videos import synthetic_frame


def _full_argmax(scores: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    return argmax_labels(F.interpolate(scores[None], size=size, mode="bilinear", align_corners=False)[0])


def _blobs(c: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Smooth random scores: large regions with boundaries between them, as a network gives."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, c, max(2, h // 6), max(2, w // 6), generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0]


@pytest.mark.parametrize(
    "grid, size",
    [((162, 288), (432, 768)), ((37, 53), (120, 200)), ((20, 20), (13, 17)), ((5, 5), (5, 9)), ((1, 4), (3, 8))],
)
def test_labels_equal_the_argmax_of_the_resized_scores(grid, size):
    scores = _blobs(18, *grid, seed=sum(grid))
    got = upsampled_labels(scores, size)
    assert got.dtype == np.uint8 and got.shape == size
    np.testing.assert_array_equal(got, _full_argmax(scores, size))
    assert len(np.unique(got)) > 1 or grid[0] * grid[1] < 30  # the case has boundaries to get right


def test_labels_of_white_noise_scores():
    """Every cell a boundary: the band is the whole image."""
    scores = torch.randn(6, 9, 11, generator=torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(upsampled_labels(scores, (31, 40)), _full_argmax(scores, (31, 40)))


def test_grid_scores_full_and_at():
    scores = _blobs(7, 24, 30, seed=5)
    g = GridScores(scores, (61, 77))
    full = g.full()
    assert full.shape == (7, 61, 77) and g.scale == pytest.approx(24 / 61)
    rng = np.random.default_rng(0)
    ys, xs, cs = rng.integers(0, 61, 500), rng.integers(0, 77, 500), rng.integers(0, 7, 500)
    np.testing.assert_allclose(g.at(cs, ys, xs), full.numpy()[cs, ys, xs], atol=1e-5)
    np.testing.assert_array_equal(g.labels(), argmax_labels(full))
    same = GridScores(full, (61, 77))
    assert same.full() is full and same.scale == 1.0


def test_parser_grids_give_the_parse(calibrated_parser):
    frame = synthetic_frame(4, 200, 120)
    grid = calibrated_parser.predict_grids([frame])[0]
    assert grid.size == frame.shape[:2] and grid.scores.shape[-2:] != frame.shape[:2]
    np.testing.assert_allclose(grid.full().numpy(), calibrated_parser.predict([frame])[0].numpy(), atol=1e-6)
    np.testing.assert_array_equal(grid.labels(), argmax_labels(grid.full()))
    windows = [[(10, 5, 90, 100), (60, 20, 190, 110)]]
    crops = calibrated_parser.predictor.region_grids([frame], windows)[0]
    assert [g.size for g in crops] == [(95, 80), (90, 130)]
    for g, full in zip(crops, calibrated_parser.predict_regions([frame], windows)[0]):
        np.testing.assert_array_equal(g.full().numpy(), full.numpy())
    # parse takes the cheaper logits' argmax when no probabilities are asked for (and the limb stage, which
    # weighs its votes with them, is off)
    logits = calibrated_parser.predict_grids([frame], probabilities=False)[0]
    np.testing.assert_array_equal(logits.labels(), calibrated_parser.parse(frame, roi=False, sides="network").labels)


def test_smoother_on_a_grid_spans_the_same_frame_pixels():
    smoother = TemporalSmoother(SmoothingOptions(work_stride=4))
    assert smoother.on_grid(1.0) is smoother
    assert smoother.on_grid(0.5).options.work_stride == 2 and smoother.on_grid(0.5) is smoother.on_grid(0.5)
    assert smoother.on_grid(0.05).options.work_stride == 1
    assert smoother.on_grid(0.5).options.ratio == smoother.options.ratio


@pytest.mark.parametrize("n", [1, 2, 7, 128, 203, 432, 768])
@pytest.mark.parametrize("s", [1, 2, 3, 4, 5])
def test_centre_samples_are_mirror_symmetric(n, s):
    from tryon_sdk.resample import centre_samples

    idx = centre_samples(n, s)
    assert len(idx) in (-(-n // s), -(-n // s) + 1) and idx.min() >= 0 and idx.max() < n
    assert np.all(np.diff(idx) > 0)  # distinct, in order
    np.testing.assert_array_equal(idx, n - 1 - idx[::-1])


@pytest.mark.parametrize("window", [(0, 0, 60, 90), (37, 11, 101, 83), (5, 40, 128, 96)])
def test_window_on_the_frame_grid_samples_the_windows_map_at_the_cells_centres(window):
    from tryon_sdk.resample import window_on_grid

    # scores affine in the source grid's coordinates: bilinear resizing reproduces them exactly, so each cell
    # must hold the affine function at its centre mapped into the window's grid (clamped at its edges)
    h, w = 36, 24
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    scores = torch.stack([rows, cols, 0.5 + 0.25 * rows - 0.75 * cols]).float()
    x0, y0, x1, y1 = window
    frame, grid = (96, 128), (72, 96)  # the grid at 3/4 of the frame
    (gx0, gy0, gx1, gy1), out = window_on_grid(scores, window, frame, grid)
    s = grid[0] / frame[0]
    cy, cx = (np.arange(grid[0]) + 0.5) / s, (np.arange(grid[1]) + 0.5) / s  # cell centres, frame pixels
    inside_y, inside_x = np.flatnonzero((cy >= y0) & (cy < y1)), np.flatnonzero((cx >= x0) & (cx < x1))
    assert (gy0, gy1, gx0, gx1) == (inside_y[0], inside_y[-1] + 1, inside_x[0], inside_x[-1] + 1)
    sy = np.clip((cy[gy0:gy1] - y0) * h / (y1 - y0) - 0.5, 0, h - 1)
    sx = np.clip((cx[gx0:gx1] - x0) * w / (x1 - x0) - 0.5, 0, w - 1)
    ry, rx = torch.from_numpy(sy)[:, None].expand(-1, len(sx)), torch.from_numpy(sx)[None].expand(len(sy), -1)
    ref = torch.stack([ry, rx, 0.5 + 0.25 * ry - 0.75 * rx]).float()
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)


def test_window_on_a_grid_of_the_frames_pixels_is_the_plain_resize():
    from tryon_sdk.resample import window_on_grid

    scores = torch.rand(4, 30, 20, generator=torch.Generator().manual_seed(2))
    cells, out = window_on_grid(scores, (13, 7, 63, 82), (100, 90), (100, 90))
    assert cells == (13, 7, 63, 82)
    ref = F.interpolate(scores[None], size=(75, 50), mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


def test_window_on_grid_of_a_mirrored_window_is_mirrored():
    from tryon_sdk.resample import window_on_grid

    scores = torch.rand(3, 40, 28, generator=torch.Generator().manual_seed(3))
    frame, grid = (120, 200), (90, 150)
    x0, y0, x1, y1 = 23, 10, 97, 110
    (a0, b0, a1, b1), out = window_on_grid(scores, (x0, y0, x1, y1), frame, grid)
    (m0, n0, m1, n1), mirrored = window_on_grid(scores.flip(-1), (200 - x1, y0, 200 - x0, y1), frame, grid)
    assert (m0, m1, n0, n1) == (150 - a1, 150 - a0, b0, b1)
    torch.testing.assert_close(mirrored, out.flip(-1), atol=1e-5, rtol=0)


def test_a_window_narrower_than_a_grid_cell_has_no_cells():
    from tryon_sdk.resample import window_on_grid

    (gx0, gy0, gx1, gy1), out = window_on_grid(torch.rand(3, 8, 8), (11, 10, 13, 30), (100, 100), (25, 25))  # centres at 10, 14
    assert gx1 == gx0 and out.shape == (3, gy1 - gy0, 0)
