"""Scene composition: zoom-out, landscape canvases, person-free backgrounds, empty frames."""

from __future__ import annotations

import pytest
import torch

from tryon_sdk.errors import ConfigError
from tryon_sdk.labels import IGNORE_INDEX
from training.augment import to_float_batch
from training.scenes import SceneConfig, background_strips, compose_scenes, make_backgrounds

from synthetic import synthetic_people


@pytest.fixture(scope="module")
def people():
    images, masks = synthetic_people(8, h=192, w=128, seed=3)
    return torch.from_numpy(images), torch.from_numpy(masks)


def _compose(people, cfg, landscape=False, seed=0, strips=True):
    images, masks = people
    g = torch.Generator().manual_seed(seed)
    s = background_strips(images, masks, min_width=0.1) if strips else None
    return compose_scenes(to_float_batch(images), masks, (96, 64), cfg, g, landscape=landscape, photos=images, strips=s)


@pytest.mark.parametrize("landscape, shape", [(False, (96, 64)), (True, (64, 96))])
def test_canvas_orientation_and_value_ranges(people, landscape, shape):
    x, y = _compose(people, SceneConfig(p_letterbox=0.0), landscape=landscape)
    assert x.shape == (8, 3, *shape) and y.shape == (8, *shape)
    assert x.min() >= 0 and x.max() <= 1
    assert set(torch.unique(y).tolist()) <= set(range(18)) | {IGNORE_INDEX}


def test_empty_scenes_are_all_background(people):
    x, y = _compose(people, SceneConfig(p_paste=0.0, p_empty=1.0))
    assert torch.all(y == 0)
    assert x.std() > 0.02  # a real background, not a flat canvas


def test_pasted_person_height_follows_the_range(people):
    def mean_height(lo, hi):
        _, y = _compose(people, SceneConfig(p_paste=1.0, p_empty=0.0, person_height=(lo, hi), rotate_deg=0.0, p_letterbox=0.0))
        rows = ((y != 0) & (y != IGNORE_INDEX)).any(-1).float().sum(-1)
        return float(rows.mean()) / y.shape[1]

    small, large = mean_height(0.25, 0.3), mean_height(0.85, 0.9)
    assert 0.18 < small < 0.34 and 0.7 < large <= 1.0, (small, large)


def test_pasted_person_keeps_its_labels_and_everything_else_is_background(people):
    images, masks = people
    x, y = _compose(people, SceneConfig(p_paste=1.0, p_empty=0.0, person_height=(0.8, 0.8), rotate_deg=0.0, p_letterbox=0.0))
    for i in range(len(y)):
        src = masks[i][masks[i] != 0]
        kept = y[i][(y[i] != 0)]
        # the same classes survive the paste, and the person keeps roughly its share of the canvas
        assert set(torch.unique(kept).tolist()) <= set(torch.unique(src).tolist())
        assert {4, 6} <= set(torch.unique(kept).tolist())  # Upper-clothes and Pants of the synthetic person


def test_landscape_letterbox_pads_like_the_parser(people):
    x, y = _compose(people, SceneConfig(p_letterbox=1.0), landscape=True)
    pad_rows = (y == IGNORE_INDEX).all(-1)
    pad_cols = (y == IGNORE_INDEX).all(-2)
    assert bool(pad_rows.any() or pad_cols.any())
    # padding is the mean colour (0 after normalisation), as tryon_sdk.preprocess pads
    sel = pad_rows[0]
    if sel.any():
        assert torch.allclose(x[0, :, sel], torch.tensor(0.5))


def test_strips_never_contain_the_person(people):
    images, masks = people
    for i, x0, x1 in background_strips(images, masks, min_width=0.1):
        assert not bool((masks[i, :, x0:x1] != 0).any())
        assert x1 - x0 >= 0.1 * masks.shape[2]


def test_generated_rooms_are_deterministic_and_varied():
    a = make_backgrounds(4, (48, 80), torch.Generator().manual_seed(5), SceneConfig(p_strip_background=0.0))
    b = make_backgrounds(4, (48, 80), torch.Generator().manual_seed(5), SceneConfig(p_strip_background=0.0))
    assert torch.equal(a, b)
    assert float((a[0] - a[1]).abs().mean()) > 0.02


def test_recipe_scenes_are_checked_before_training(tiny_npz):
    from training.recipe import load_recipe, validate_recipe

    from .conftest import tiny_recipe

    with pytest.raises(ConfigError, match="unknown scenes keys: p_pillar; valid: p_scene"):
        validate_recipe(load_recipe(tiny_recipe(tiny_npz, scenes={"p_pillar": 0.5})))
    with pytest.raises(ConfigError, match="p_landscape"):
        validate_recipe(load_recipe(tiny_recipe(tiny_npz, scenes={"p_landscape": 2.0})))


def test_bad_scene_settings_name_the_field():
    with pytest.raises(ConfigError, match="p_paste"):
        SceneConfig(p_paste=0.95, p_empty=0.1)
    with pytest.raises(ConfigError, match="person_height"):
        SceneConfig(person_height=(0.5, 0.2))


def test_training_with_scenes_runs_and_exports(tiny_npz, tmp_path):
    from training.train import train

    from .conftest import tiny_recipe

    recipe = tiny_recipe(tiny_npz, steps=6, eval_every=0, scenes={"p_scene": 1.0, "p_landscape": 0.5})
    out = train(recipe, tmp_path / "run", progress=False)
    assert out["step"] == 6 and (tmp_path / "run" / "export" / "model.safetensors").is_file()
