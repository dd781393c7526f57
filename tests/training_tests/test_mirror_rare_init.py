"""Mirror-consistency loss, rare-class sampling weights, checkpoint initialisation, new recipe sections."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tryon_sdk.errors import ConfigError
from tryon_sdk.labels import CLASS_INDEX, NUM_CLASSES, swap_lr_channels
from training.losses import mirror_consistency_loss
from training.rare import rare_mask, rare_sample_weights
from training.recipe import apply_overrides, load_recipe, validate_recipe

from .conftest import REPO


class _Net(nn.Module):
    """A 1x3 convolution over 18 channels; symmetric when its kernel is left-right symmetric and channels map to their swap."""

    def __init__(self, symmetric: bool) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        w = torch.randn(NUM_CLASSES, 3, 1, 3, generator=g)
        if symmetric:
            w[..., 2] = w[..., 0]  # mirror-symmetric kernel
            w = 0.5 * (w + swap_lr_channels(w, dim=0))  # left and right classes score the same
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.w, padding=(0, 1))


def test_mirror_loss_is_zero_for_a_symmetric_network_and_positive_otherwise():
    x = torch.rand(2, 3, 16, 12, generator=torch.Generator().manual_seed(1))
    sym = _Net(True)
    assert float(mirror_consistency_loss(sym(x), sym(x.flip(-1))).detach()) < 1e-6
    asym = _Net(False)
    loss = mirror_consistency_loss(asym(x), asym(x.flip(-1)))
    assert float(loss) > 1e-3
    loss.backward()
    assert asym.w.grad is not None and asym.w.grad.abs().sum() > 0


def test_mirror_loss_swaps_sides():
    # scores that say "left arm" on the left half: the mirror image's mirrored, swapped scores agree exactly
    la, ra = CLASS_INDEX["Left-arm"], CLASS_INDEX["Right-arm"]
    z = torch.zeros(1, NUM_CLASSES, 4, 6)
    z[0, la, :, :3] = 5
    z[0, ra, :, 3:] = 5
    mirror_scores = swap_lr_channels(z.flip(-1), dim=1)  # what a consistent network says on the mirror image
    assert float(mirror_consistency_loss(z, mirror_scores)) < 1e-6
    assert float(mirror_consistency_loss(z, z.flip(-1))) > 1.0  # sides not swapped: inconsistent


def test_rare_sampling_boosts_photos_with_rare_classes():
    masks = np.zeros((4, 10, 10), np.uint8)
    masks[1, :5] = CLASS_INDEX["Skirt"]
    masks[2, 0, :3] = CLASS_INDEX["Scarf"]  # 3 pixels: under min_pixels
    w = rare_sample_weights(np.full(4, 0.25), masks, ["Skirt", "Scarf"], 3.0, min_pixels=10)
    assert np.allclose(w, [0.25, 0.75, 0.25, 0.25])
    assert rare_mask(masks, ["Skirt"], 1).tolist() == [False, True, False, False]
    with pytest.raises(ConfigError, match="unknown class"):
        rare_mask(masks, ["Kilt"])


def test_new_recipe_validates_and_old_recipe_has_no_new_sections():
    new = load_recipe("ccp_lite0_framings")
    validate_recipe(new)
    assert new["model"]["init"] == "checkpoint:tryon_sdk/weights/default"
    old = load_recipe("ccp_lite0_cpu")
    assert all(old[k] is None for k in ("views", "degrade", "mirror", "sampling"))
    for bad in (["views.p_group=2"], ["degrade.allowed=[\"blur\"]"], ["mirror.weight=-1"], ["sampling.boost=0"],
                ["views.nope=1"], ["model.init=\"imagenet21k\""]):
        with pytest.raises(ConfigError):
            validate_recipe(apply_overrides(new, bad))


def test_checkpoint_init_loads_every_weight():
    from tryon_sdk.models.builders import build_model
    from tryon_sdk.models.checkpoint import load_checkpoint
    from training.train import _model_config, initialise

    recipe = load_recipe("ccp_lite0_framings")
    cfg = _model_config(recipe)
    model = build_model(cfg)
    note = initialise(model, cfg, recipe["model"]["init"])
    assert "checkpoint" in note
    state, _ = load_checkpoint(REPO / "tryon_sdk" / "weights" / "default")
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k].to(v.dtype)), k
    other = _model_config(apply_overrides(recipe, ["model.backbone=\"mobilenet_v3_large\""]))
    with pytest.raises(ConfigError, match="the checkpoint is"):
        initialise(build_model(other), other, recipe["model"]["init"])


@pytest.mark.slow
def test_tiny_run_with_every_new_ingredient(tmp_path):
    """Views, degradations, the mirror loss and rare sampling run through the loop and log the mirror term."""
    import json

    from training.data.cache import build_cache
    from training.train import train

    from synthetic import synthetic_people

    from .conftest import tiny_recipe

    images, masks = synthetic_people(12, 96, 64, seed=4)
    masks[:3][masks[:3] == 6] = CLASS_INDEX["Skirt"]  # three photos with a rare class
    npz = build_cache([f"{i:04d}" for i in range(12)], lambda k: (images[int(k)], masks[int(k)]), (96, 64), tmp_path / "t.npz",
                      meta={"name": "synthetic"}, progress=False, pad_color=(0, 0, 0))
    recipe = tiny_recipe(npz, steps=4, eval_every=0, checkpoint_every=0,
                         views={"p_framing": 0.5, "p_group": 0.5}, degrade={"p": 1.0},
                         mirror={"weight": 0.5, "samples": 2}, sampling={"rare_classes": ["Skirt"], "boost": 3.0, "min_pixels": 5})
    recipe["data"]["split"]["val_count"] = 2
    result = train(recipe, tmp_path / "run", progress=False)
    assert result["step"] == 4
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert train_rows and all(r["mirror"] >= 0 and np.isfinite(r["loss"]) for r in train_rows)
