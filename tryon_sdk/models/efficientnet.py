"""Segmentation networks on EfficientNet-Lite backbones (built with ``timm``).

EfficientNet-Lite drops squeeze-excite and uses ReLU6, so it quantises and
runs well on CPUs. The backbone is ``timm``'s ``tf_efficientnet_liteN`` in
``features_only`` mode (TensorFlow "same" padding, matching the ImageNet
weights of :mod:`training.pretrained`), dilated to ``output_stride``. Two
heads, as in torchvision's segmentation models:

* ``lraspp``: torchvision's LR-ASPP head on the stride-8 and the deepest
  (stride-16) features;
* ``deeplabv3``: torchvision's ASPP head on the deepest features.

Like torchvision's models, ``forward`` returns ``{"out": B x C x H x W}``
logits at the input's resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.segmentation.deeplabv3 import DeepLabHead
from torchvision.models.segmentation.lraspp import LRASPPHead

from ..errors import ConfigError

__all__ = ["EFFICIENTNET_LITE", "TIMM_NAMES", "EfficientNetLiteSegmentation"]

#: Backbone names of this family, as used in :class:`~tryon_sdk.config.ModelConfig`.
EFFICIENTNET_LITE: tuple[str, ...] = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
#: The ``timm`` architecture of each backbone.
TIMM_NAMES: dict[str, str] = {name: f"tf_{name}" for name in EFFICIENTNET_LITE}

_LOW, _HIGH = 2, 4  # timm feature indices: stride 8 and the deepest stage


class EfficientNetLiteSegmentation(nn.Module):
    """EfficientNet-Lite backbone + LR-ASPP or DeepLabV3 head.

    Args:
        backbone: one of :data:`EFFICIENTNET_LITE`.
        architecture: ``"lraspp"`` or ``"deeplabv3"``.
        num_classes: output channels.
        output_stride: 16 (LR-ASPP's design) or 8 (denser DeepLabV3).
    """

    def __init__(self, backbone: str, architecture: str, num_classes: int, *, output_stride: int = 16) -> None:
        super().__init__()
        import timm

        if backbone not in TIMM_NAMES:
            raise ConfigError(f"unknown EfficientNet-Lite backbone {backbone!r}; valid: {', '.join(EFFICIENTNET_LITE)}")
        if architecture not in ("lraspp", "deeplabv3"):
            raise ConfigError(f"unknown architecture {architecture!r}; valid: lraspp, deeplabv3")
        self.architecture = architecture
        self.backbone = timm.create_model(
            TIMM_NAMES[backbone], pretrained=False, features_only=True, out_indices=(_LOW, _HIGH), output_stride=output_stride
        )
        low_ch, high_ch = self.backbone.feature_info.channels()
        if architecture == "lraspp":
            self.classifier: nn.Module = LRASPPHead(low_ch, high_ch, num_classes, 128)
        else:
            self.classifier = DeepLabHead(high_ch, num_classes)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        low, high = self.backbone(x)
        if self.architecture == "lraspp":
            out = self.classifier({"low": low, "high": high})
        else:
            out = self.classifier(high)
        return {"out": F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)}
