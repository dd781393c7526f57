"""Camera degradations keep shape and dtype, change pixels, and leave the letterbox bars alone."""

from __future__ import annotations

import pytest
import torch

from tryon_sdk.errors import ConfigError
from training.degrade import OPS, DegradeConfig, apply_op, degrade_batch

from synthetic import synthetic_people


def _images(n: int = 3) -> torch.Tensor:
    images, _ = synthetic_people(n, 96, 64)
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255


@pytest.mark.parametrize("op", OPS)
def test_each_degradation_keeps_shape_and_changes_pixels(op):
    x = _images(1)[0]
    y = apply_op(x, op, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert 0 <= float(y.min()) and float(y.max()) <= 1
    assert (y - x).abs().mean() > 1e-3


def test_palette_quantises_and_dithers():
    x = _images(1)[0]
    y = apply_op(x, "palette", torch.Generator().manual_seed(0))
    colours = torch.unique((y * 255).round().reshape(3, -1), dim=1).shape[1]
    assert colours <= 64


def test_degrade_batch_restores_kept_pixels_and_is_seeded():
    x = _images(3)
    keep = torch.zeros(3, 96, 64, dtype=torch.bool)
    keep[:, :10] = True
    cfg = DegradeConfig(p=1.0, ops=(2, 2))
    a = degrade_batch(x, cfg, torch.Generator().manual_seed(1), keep=keep)
    b = degrade_batch(x, cfg, torch.Generator().manual_seed(1), keep=keep)
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a[:, :, :10], x[:, :, :10])
    assert (a[:, :, 10:] - x[:, :, 10:]).abs().mean() > 1e-3
    assert torch.equal(degrade_batch(x, DegradeConfig(p=0.0), torch.Generator().manual_seed(1)), x)


def test_degrade_config_errors():
    with pytest.raises(ConfigError, match="unknown operations"):
        DegradeConfig(allowed=("blur",))
    with pytest.raises(ConfigError):
        DegradeConfig(p=2.0)
