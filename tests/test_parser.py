"""Parser behaviour per backbone: a base class with thin per-model subclasses."""

from __future__ import annotations

import numpy as np

import pytest
import torch
from torch import nn

from tryon_sdk import ModelConfig, Parser, ParseResult
from tryon_sdk.labels import NUM_CLASSES, hflip_labels, swap_lr


def make_symmetric(model: nn.Module) -> nn.Module:
    """Average every conv kernel with its mirror so the network is left/right symmetric."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(0.5 * (m.weight + m.weight.flip(-1)))
    return model


class ParserContract:
    """What every backbone must do; subclasses set ``backbone``/``architecture``."""

    backbone = "mobilenet_v3_large"
    architecture = "deeplabv3"
    input_size = (64, 48)

    @pytest.fixture(scope="class")
    @classmethod
    def backbone_parser(cls) -> Parser:
        torch.manual_seed(0)
        return Parser.from_config(
            device="cpu", backbone=cls.backbone, architecture=cls.architecture, input_size=cls.input_size, people=False
        )

    def test_builds_with_18_classes(self, backbone_parser):
        assert backbone_parser.config.num_classes == NUM_CLASSES
        x = torch.zeros(1, 3, *self.input_size)
        assert backbone_parser.engine(x).shape == (1, NUM_CLASSES, *self.input_size)

    @pytest.mark.parametrize("size", [(67, 45), (101, 203), (33, 33), (64, 48), (7, 300)])
    def test_labels_at_input_size(self, backbone_parser, size):
        img = (np.random.default_rng(0).random((*size, 3)) * 255).astype(np.uint8)
        res = backbone_parser.parse(img, return_probabilities=True, sides="network")
        assert isinstance(res, ParseResult)
        assert res.labels.shape == size and res.labels.dtype == np.uint8
        assert res.labels.max() < NUM_CLASSES
        assert res.probabilities.shape == (NUM_CLASSES, *size) and res.probabilities.dtype == np.float32
        np.testing.assert_allclose(res.probabilities.sum(0), 1.0, atol=1e-4)
        np.testing.assert_array_equal(res.probabilities.argmax(0), res.labels)
        own = backbone_parser.parse(img, return_probabilities=True).labels  # the person's own sides: the same labels, limbs perhaps swapped
        assert ((own == res.labels) | (own == swap_lr(res.labels))).all()

    def test_batch_equals_single(self, backbone_parser, person_image):
        imgs = [person_image, person_image[:, ::-1].copy(), person_image[10:90]]
        batch = backbone_parser.parse_batch(imgs, batch_size=2, return_probabilities=True)
        for img, res in zip(imgs, batch):
            single = backbone_parser.parse(img, return_probabilities=True)
            np.testing.assert_allclose(res.probabilities, single.probabilities, atol=1e-4)

    def test_save_load_round_trip(self, backbone_parser, person_image, tmp_path):
        before = backbone_parser.config
        backbone_parser.save_pretrained(tmp_path / "ck")
        assert backbone_parser.config is before  # saving leaves the parser as it was
        loaded = Parser.from_pretrained(tmp_path / "ck", device="cpu", backbone=self.backbone)
        assert loaded.config.sha256 is not None
        assert loaded.config.replace(sha256=None) == before.replace(sha256=None)
        a = backbone_parser.parse(person_image, return_probabilities=True)
        b = loaded.parse(person_image, return_probabilities=True)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.probabilities, b.probabilities)


class TestMobileNetV3DeepLab(ParserContract):
    backbone = "mobilenet_v3_large"


class TestMobileNetV3LRASPP(ParserContract):
    backbone = "mobilenet_v3_large"
    architecture = "lraspp"


class TestResNet50(ParserContract):
    backbone = "resnet50"


class TestEfficientNetLite0LRASPP(ParserContract):
    backbone = "efficientnet_lite0"
    architecture = "lraspp"


class TestEfficientNetLite0DeepLab(ParserContract):
    backbone = "efficientnet_lite0"


class TestResNet101(ParserContract):
    backbone = "resnet101"


@pytest.mark.parametrize("symmetric", [True, False], ids=["symmetric-model", "random-model"])
def test_flip_tta_is_equivariant(symmetric, person_image):
    torch.manual_seed(3)
    parser = Parser.from_config(device="cpu", input_size=(64, 48), flip_tta=True)
    if symmetric:
        make_symmetric(parser.model)
    img = person_image[:, :86]  # even padding on both sides keeps the mirrored letterbox aligned
    direct = parser.parse(img, return_probabilities=True)
    mirrored = parser.parse(np.ascontiguousarray(img[:, ::-1]), return_probabilities=True)
    np.testing.assert_array_equal(mirrored.labels, hflip_labels(direct.labels))
    from tryon_sdk.labels import swap_lr_channels

    np.testing.assert_allclose(mirrored.probabilities, swap_lr_channels(direct.probabilities[:, :, ::-1], dim=0), atol=1e-5)


def test_without_tta_a_random_model_is_not_equivariant(person_image):
    """The equivariance above is TTA's doing: the same check fails without it."""
    torch.manual_seed(3)
    parser = Parser.from_config(device="cpu", input_size=(64, 48))
    img = person_image[:, :86]
    direct = parser.parse(img, return_probabilities=True)
    mirrored = parser.parse(np.ascontiguousarray(img[:, ::-1]), return_probabilities=True)
    from tryon_sdk.labels import swap_lr_channels

    diff = np.abs(mirrored.probabilities - swap_lr_channels(direct.probabilities[:, :, ::-1], dim=0)).max()
    assert diff > 1e-3


def test_landscape_uses_transposed_input_size():
    from tryon_sdk.preprocess import plan_letterbox

    portrait = plan_letterbox((832, 550), (512, 384))
    landscape = plan_letterbox((432, 768), (512, 384))
    assert portrait.scaled[0] <= 512 and portrait.scaled[1] <= 384
    assert landscape.scaled == (288, 512)
    assert landscape.padded[0] % 32 == 0 and landscape.padded[1] % 32 == 0


def test_one_transform_pads_with_the_mean_colour_and_mirrors_exactly_when_symmetric():
    from tryon_sdk.preprocess import Preprocess

    cfg = ModelConfig(input_size=(96, 64))
    pre = Preprocess.from_config(cfg)
    assert pre.pad_color == (124, 116, 104)  # ImageNet mean, 0 after normalisation
    rng = np.random.default_rng(3)
    image = torch.from_numpy(rng.integers(0, 256, (3, 50, 71), dtype=np.uint8))  # landscape, odd width
    batch, (box,) = pre([image])
    assert batch.shape[-2:] == box.padded and box.padded[0] % 32 == 0 and box.padded[1] % 32 == 0
    top, left = box.offset
    assert torch.all(batch[:, :, :top] == 0) and torch.all(batch[:, :, :, :left] == 0)  # the pad is the mean colour
    plain = pre.plan((50, 71), scale=0.5)
    sym = pre.plan((50, 71), scale=0.5, symmetric=True)
    assert (plain.padded[1] - plain.scaled[1]) % 2 == 1  # this size pads unevenly unless symmetric
    assert sym.padded[1] - sym.scaled[1] - sym.offset[1] == sym.offset[1]
    ahead, _ = pre([image], scale=0.5, symmetric=True)
    mirrored, _ = pre([image.flip(-1)], scale=0.5, symmetric=True)
    assert (mirrored - ahead.flip(-1)).abs().max() < 1e-4  # same pixels, mirrored (up to resize rounding)
    plain_ahead, _ = pre([image], scale=0.5)
    plain_mirrored, _ = pre([image.flip(-1)], scale=0.5)
    assert (plain_mirrored - plain_ahead.flip(-1)).abs().max() > 0.1  # uneven padding shifts the mirror a pixel
    crop = Preprocess.crop(ahead[0], sym)
    assert crop.shape[-2:] == sym.scaled and Preprocess.restore(ahead[0], sym).shape[-2:] == (50, 71)


def test_config_errors_list_valid_options():
    from tryon_sdk import ConfigError

    with pytest.raises(ConfigError, match="valid: resnet101, resnet50, mobilenet_v3_large"):
        ModelConfig(backbone="vgg16")
    with pytest.raises(ConfigError, match="valid: mobilenet_v3_large"):
        ModelConfig(architecture="lraspp", backbone="resnet50")
    with pytest.raises(ConfigError, match="valid: fp32, fp16, bf16"):
        Parser.from_config(device="cpu", precision="int4", input_size=(64, 48))
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        Parser.from_config(device="cpu", precision="fp16", input_size=(64, 48))
    with pytest.raises(ConfigError, match="valid: auto, cpu"):
        Parser.from_config(device="tpu", input_size=(64, 48))
    with pytest.raises(ConfigError, match="batch_size"):
        Parser.from_config(device="cpu", input_size=(64, 48)).parse_batch([], batch_size=0)


def test_bf16_on_cpu_runs_and_mostly_agrees(person_image):
    torch.manual_seed(0)
    fp32 = Parser.from_config(device="cpu", input_size=(64, 48))
    bf16 = Parser(type(fp32.engine)(fp32.engine.model, fp32.config, device="cpu", precision="bf16"))
    a = fp32.parse(person_image, return_probabilities=True).probabilities
    b = bf16.parse(person_image, return_probabilities=True).probabilities
    assert np.abs(a - b).max() < 0.05
