"""int8 ONNX models: calibrated on real photos, carried config, accuracy close to fp32."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from tryon_sdk import Parser
from tryon_sdk.errors import ConfigError, InputError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):

    folder = tmp_path_factory.mktemp("onnx")
    return Parser.from_pretrained(device="cpu"), Parser.from_pretrained(device="cpu").export_onnx(folder / "model.onnx")


def _photos(n: int, seed: int = 0) -> list[np.ndarray]:
    from tryon_sdk.video.io.sample import sample_frames

    return [frame for frame, _ in sample_frames(num_frames=n, size=(240, 160), seed=seed)]


@pytest.mark.slow
def test_int8_model_runs_in_the_parser_and_agrees_with_fp32(exported, tmp_path):
    from tryon_sdk.engines.quantize import quantize_onnx

    torch_parser, fp32 = exported
    out = quantize_onnx(fp32, tmp_path / "model-int8.onnx", _photos(6))
    assert os.stat(out).st_mode & 0o777 == 0o644
    assert out.stat().st_size < 0.5 * fp32.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["model-int8.onnx"]  # nothing half-written left behind
    int8 = Parser.from_pretrained(out, device="cpu")
    assert int8.config.recipe["precision"] == "int8"
    assert int8.config.class_names == torch_parser.config.class_names
    test = _photos(3, seed=5)
    agree = np.mean([np.mean(int8.parse(im).labels == torch_parser.parse(im).labels) for im in test])
    assert agree > 0.9, agree


def test_calibration_needs_images_and_a_known_method(exported, tmp_path):
    from tryon_sdk.engines.quantize import quantize_onnx

    _, fp32 = exported
    with pytest.raises(InputError, match="calibration image"):
        quantize_onnx(fp32, tmp_path / "x.onnx", [])
    with pytest.raises(ConfigError, match="valid: minmax, entropy, percentile"):
        quantize_onnx(fp32, tmp_path / "x.onnx", _photos(1), method="kl")
    assert not (tmp_path / "x.onnx").exists()
