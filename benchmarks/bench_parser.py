"""Bare model forward vs ``Parser.parse`` (MobileNetV3-Large, CPU).

Goal: parse overhead (letterbox, softmax, resize back, argmax, copies)
<= 10% over the forward pass, at 256x192 and 512x384.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon_sdk import Parser

SIZES = [(256, 192), (512, 384)]


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def setup(request):
    size = request.param
    torch.manual_seed(0)
    parser = Parser.from_config(device="cpu", input_size=size)
    image = (np.random.default_rng(0).random((*size, 3)) * 255).astype(np.uint8)
    batch = torch.randn(1, 3, *size)
    return size, parser, image, batch


def test_forward(benchmark, setup, record):
    size, parser, _, batch = setup
    model = parser.model

    def forward():
        with torch.inference_mode():
            return model(batch)["out"]

    benchmark.pedantic(forward, rounds=10, warmup_rounds=2)
    record(f"forward mobilenet_v3_large {size[0]}x{size[1]}", benchmark)


def test_parse(benchmark, setup, record, ratio):
    size, parser, image, _ = setup
    benchmark.pedantic(parser.parse, args=(image,), rounds=10, warmup_rounds=2)
    name = f"{size[0]}x{size[1]}"
    record(f"Parser.parse mobilenet_v3_large {name}", benchmark)
    ratio(f"parse / forward {name}", f"Parser.parse mobilenet_v3_large {name}", f"forward mobilenet_v3_large {name}", "<= 1.10")
