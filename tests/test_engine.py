"""TorchEngine runs its own module: the caller's network keeps its mode, device and memory format."""

from __future__ import annotations

import numpy as np
import torch

from tryon_sdk import Parser
from tryon_sdk.engines.torch_engine import TorchEngine
from tryon_sdk.models.builders import build_model


def _formats(model: torch.nn.Module) -> list[bool]:
    return [p.is_contiguous() for p in model.parameters() if p.dim() == 4]


def test_a_channels_last_engine_leaves_the_callers_module_as_it_was(tiny_parser, person_image):
    model = tiny_parser.engine.model
    before = _formats(model)
    reference = tiny_parser.parse(person_image, return_probabilities=True).probabilities

    fast = TorchEngine(model, tiny_parser.config, device="cpu", channels_last=True)

    assert fast.model is not model
    assert _formats(model) == before and all(before)  # the caller's weights are still contiguous (NCHW)
    assert any(not p.is_contiguous() for p in fast.model.parameters() if p.dim() == 4)
    got = Parser(fast).parse(person_image, return_probabilities=True).probabilities
    np.testing.assert_allclose(got, reference, atol=1e-5)


def test_a_module_in_training_mode_stays_in_training_mode(tiny_parser):
    model = build_model(tiny_parser.config)
    model.load_state_dict(tiny_parser.engine.model.state_dict())
    model.train()
    engine = TorchEngine(model, tiny_parser.config, device="cpu")
    assert model.training and not engine.model.training
    assert all(not m.training for m in engine.model.modules())


def test_a_module_that_runs_as_it_is_is_not_copied(tiny_parser):
    """Eval mode, on the device, default memory format: nothing to change, so no copy is made."""
    model = tiny_parser.engine.model
    assert TorchEngine(model, tiny_parser.config, device="cpu").model is model


def test_an_owned_module_is_changed_in_place(tiny_parser):
    model = build_model(tiny_parser.config).train()
    engine = TorchEngine(model, tiny_parser.config, device="cpu", owned=True)
    assert engine.model is model and not model.training
