"""ONNX Runtime as the parser's runtime for safetensors checkpoints: chosen by default when the checkpoint
ships its graph, same results, exported once otherwise, int8."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tryon_sdk import Parser
from tryon_sdk.errors import CheckpointError, ConfigError
from tryon_sdk.models.registry import resolve_checkpoint

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRYON_SDK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _frames(n=2):
    from tryon_sdk.video.io.sample import sample_frames

    return [f for f, _ in sample_frames(num_frames=n, size=(216, 384), seed=2)]


@pytest.fixture
def without_graph(tmp_path):
    """A copy of the bundled checkpoint without its model.onnx."""
    folder = tmp_path / "no-graph"
    shutil.copytree(resolve_checkpoint(None), folder, ignore=shutil.ignore_patterns("*.onnx"))
    return folder


def test_the_bundled_model_runs_on_onnxruntime_by_default_with_torchs_results(cache):
    auto = Parser.from_pretrained(device="cpu")
    torch_parser = Parser.from_pretrained(device="cpu", runtime="torch")
    assert (auto.engine.name, torch_parser.engine.name) == ("onnxruntime", "torch")
    assert auto.model is not None and auto.config.sha256 == torch_parser.config.sha256
    for frame in _frames():
        a = torch_parser.parse(frame, return_probabilities=True, roi=False)
        b = auto.parse(frame, return_probabilities=True, roi=False)
        assert np.array_equal(a.labels, b.labels)
        assert np.abs(a.probabilities - b.probabilities).max() < 1e-4
    assert not (cache / "onnx").exists()  # the bundled graph is used as it is


@pytest.mark.parametrize("kwargs", [{"precision": "bf16"}, {"channels_last": True}, {"compile": True}])
def test_auto_keeps_torch_for_torch_only_options(kwargs):
    assert Parser.from_pretrained(device="cpu", **kwargs).engine.name == "torch"


def test_auto_keeps_torch_without_a_matching_graph(cache, without_graph):
    assert Parser.from_pretrained(without_graph, device="cpu").engine.name == "torch"
    other = without_graph.parent / "other"
    shutil.copytree(without_graph, other)
    Parser.from_pretrained(without_graph, device="cpu", runtime="onnxruntime")  # exports into the cache
    (exported,) = (cache / "onnx").glob("*.onnx")
    shutil.copy(exported, other / "model.onnx")
    assert Parser.from_pretrained(other, device="cpu").engine.name == "onnxruntime"
    config = (other / "config.json").read_text()
    sha = Parser.from_pretrained(other, device="cpu").config.sha256
    (other / "config.json").write_text(config.replace(sha, "0" * 64))  # the graph is now of other weights
    assert Parser.from_pretrained(other, device="cpu", verify=False).engine.name == "torch"


def test_onnxruntime_matches_torch_and_is_exported_once(cache, monkeypatch, without_graph):
    torch_parser = Parser.from_pretrained(without_graph, device="cpu", runtime="torch")
    ort_parser = Parser.from_pretrained(without_graph, device="cpu", runtime="onnxruntime")
    assert ort_parser.engine.name == "onnxruntime"
    for frame in _frames():
        a = torch_parser.parse(frame, return_probabilities=True, roi=False)
        b = ort_parser.parse(frame, return_probabilities=True, roi=False)
        assert np.array_equal(a.labels, b.labels)
        assert np.abs(a.probabilities - b.probabilities).max() < 1e-4
    exported = list((cache / "onnx").glob("*.onnx"))
    assert [p.stem for p in exported] == [torch_parser.config.sha256]
    import tryon_sdk.engines.export

    monkeypatch.setattr(tryon_sdk.engines.export, "export_onnx", lambda *a, **k: pytest.fail("the cached export must be reused"))
    Parser.from_pretrained(without_graph, device="cpu", runtime="onnxruntime")


def test_an_onnxruntime_parser_still_saves_its_weights(cache, tmp_path):
    parser = Parser.from_pretrained(device="cpu", runtime="onnxruntime")
    parser.save_pretrained(tmp_path / "copy")
    again = Parser.from_pretrained(tmp_path / "copy", device="cpu")
    frame = _frames(1)[0]
    assert np.array_equal(again.parse(frame, roi=False).labels, parser.parse(frame, roi=False).labels)


@pytest.mark.slow
def test_int8_runs_the_checkpoints_quantised_model(cache, tmp_path):
    from tryon_sdk.engines.quantize import quantize_onnx

    folder = tmp_path / "model"
    shutil.copytree(resolve_checkpoint(None), folder)
    with pytest.raises(CheckpointError, match="no model-int8.onnx"):
        Parser.from_pretrained(folder, device="cpu", runtime="onnxruntime", precision="int8")
    fp32 = Parser.from_pretrained(folder, device="cpu", runtime="onnxruntime")
    quantize_onnx(fp32.engine.path, folder / "model-int8.onnx", _frames(4))
    int8 = Parser.from_pretrained(folder, device="cpu", runtime="onnxruntime", precision="int8")
    assert int8.config.recipe["precision"] == "int8"
    frame = _frames(1)[0]
    assert np.mean(int8.parse(frame, roi=False).labels == fp32.parse(frame, roi=False).labels) > 0.9


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"runtime": "tensorrt"}, "valid: auto, torch, onnxruntime"),
        ({"precision": "int8"}, "runtime='onnxruntime'"),
        ({"runtime": "onnxruntime", "precision": "bf16"}, "torch options"),
    ],
)
def test_bad_runtime_settings_say_what_is_valid(cache, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Parser.from_pretrained(device="cpu", **kwargs)


def test_cli_parse_on_onnxruntime(cache, tmp_path):
    import cv2

    from tryon_sdk.cli import main

    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), cv2.cvtColor(_frames(1)[0], cv2.COLOR_RGB2BGR))
    assert main(["parse", str(image), "-o", str(tmp_path / "out"), "--runtime", "onnxruntime", "--device", "cpu"]) == 0
    assert (tmp_path / "out" / "labels.png").is_file()


def test_auto_falls_back_to_torch_without_onnxruntime(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert Parser.from_pretrained(device="cpu").engine.name == "torch"
