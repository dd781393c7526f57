"""The segmentation networks, built from a :class:`~tryon_sdk.config.ModelConfig`.

:func:`build_model` makes the DeepLabV3 / LR-ASPP network: torchvision's
builders for ResNet and MobileNetV3 backbones,
:mod:`tryon_sdk.models.efficientnet` (timm) for EfficientNet-Lite. Weights
are loaded elsewhere (:mod:`~tryon_sdk.models.checkpoint`,
:mod:`~training.pretrained`); building never downloads.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import segmentation as tvseg

from ..config import ModelConfig
from .efficientnet import EFFICIENTNET_LITE, EfficientNetLiteSegmentation

__all__ = ["build_model", "output_stride"]


def build_model(config: ModelConfig | None = None, *, bn_momentum: float | None = 0.1, **overrides) -> nn.Module:
    """Build a randomly initialised network for ``config`` (no download ever).

    ``overrides`` are :class:`ModelConfig` fields, e.g.
    ``build_model(backbone="resnet101", aux_loss=True)``.

    ``bn_momentum`` resets every BatchNorm's momentum: torchvision's
    MobileNetV3 uses 0.01, which from scratch leaves the eval-mode running
    statistics far behind the weights (the net then predicts background
    only). ``None`` keeps torchvision's values.

    The module returns ``{"out": logits B x C x H x W}`` (plus ``"aux"`` with
    ``aux_loss``) at the input's resolution, like torchvision's models.
    """
    config = (config or ModelConfig()).replace(**overrides) if overrides else (config or ModelConfig())
    common = dict(weights=None, weights_backbone=None, num_classes=config.num_classes)
    if config.backbone in EFFICIENTNET_LITE:
        model: nn.Module = EfficientNetLiteSegmentation(config.backbone, config.architecture, config.num_classes)
    elif config.architecture == "lraspp":
        model = tvseg.lraspp_mobilenet_v3_large(**common)
    else:
        builder = {
            "resnet101": tvseg.deeplabv3_resnet101,
            "resnet50": tvseg.deeplabv3_resnet50,
            "mobilenet_v3_large": tvseg.deeplabv3_mobilenet_v3_large,
        }[config.backbone]
        model = builder(aux_loss=config.aux_loss, **common)
    if bn_momentum is not None:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = bn_momentum
    return model


def output_stride(config: ModelConfig) -> int:
    """Input pixels per logit of the network's coarsest output (ResNet DeepLabV3: 8, MobileNetV3 and EfficientNet-Lite: 16)."""
    return 8 if config.backbone.startswith("resnet") else 16
