"""``ModelConfig``: everything that must travel with a model's weights.

Like torchvision's ``Weights.meta``, the record carries the categories, the
preprocessing (input size, mean, std) and the metrics, so a checkpoint is
self-describing and the parser never guesses how to feed it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import CheckpointError, ConfigError
from .labels import ATR_CLASSES, FLIP_PAIRS

__all__ = ["ModelConfig", "ARCHITECTURES", "BACKBONES", "FORMAT_VERSION", "default_normalization"]

FORMAT_VERSION = 1
ARCHITECTURES: tuple[str, ...] = ("deeplabv3", "lraspp")
_LITE = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
BACKBONES: dict[str, tuple[str, ...]] = {
    "deeplabv3": ("resnet101", "resnet50", "mobilenet_v3_large", *_LITE),
    "lraspp": ("mobilenet_v3_large", *_LITE),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: EfficientNet-Lite's TensorFlow weights expect [-1, 1] inputs.
LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)


def default_normalization(backbone: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """``(mean, std)`` a backbone's ImageNet weights were trained with (RGB in [0, 1])."""
    return (LITE_MEAN, LITE_STD) if backbone in _LITE else (IMAGENET_MEAN, IMAGENET_STD)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture, preprocessing and provenance of a parsing model.

    ``input_size`` is ``(height, width)`` of the network input for a portrait
    image; landscape images use it transposed (see :mod:`tryon_sdk.preprocess`).
    ``recipe``, ``data_split`` and ``metrics`` are free-form JSON records
    written by ``training/``; ``sha256`` is the weights checksum, filled in by
    :func:`tryon_sdk.models.checkpoint.save_checkpoint`.
    """

    backbone: str = "mobilenet_v3_large"
    architecture: str = "deeplabv3"
    num_classes: int = len(ATR_CLASSES)
    class_names: tuple[str, ...] = ATR_CLASSES
    input_size: tuple[int, int] = (512, 384)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    flip_pairs: tuple[tuple[int, int], ...] = FLIP_PAIRS
    aux_loss: bool = False
    size_multiple: int = 32
    recipe: dict[str, Any] = field(default_factory=dict)
    data_split: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture {self.architecture!r}; valid: {', '.join(ARCHITECTURES)}")
        valid = BACKBONES[self.architecture]
        if self.backbone not in valid:
            raise ConfigError(
                f"backbone {self.backbone!r} is not available for {self.architecture}; valid: {', '.join(valid)}"
            )
        if self.num_classes != len(self.class_names):
            raise ConfigError(f"num_classes={self.num_classes} but {len(self.class_names)} class names were given")
        if len(self.input_size) != 2 or min(self.input_size) < 32:
            raise ConfigError(f"input_size must be (height, width) with both >= 32, got {self.input_size}")
        for left, right in self.flip_pairs:
            if not (0 <= left < self.num_classes and 0 <= right < self.num_classes):
                raise ConfigError(f"flip pair ({left}, {right}) is outside 0..{self.num_classes - 1}")
        if self.aux_loss and (self.architecture != "deeplabv3" or self.backbone in _LITE):
            raise ConfigError("aux_loss is only available for deeplabv3 on resnet101, resnet50 or mobilenet_v3_large")

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (lists for tuples), as written to ``config.json``."""
        d = dataclasses.asdict(self)
        d["class_names"] = list(self.class_names)
        d["input_size"] = list(self.input_size)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        d["flip_pairs"] = [list(p) for p in self.flip_pairs]
        return d

    def to_json(self) -> str:
        """``config.json``'s text: :meth:`to_dict` as indented JSON with sorted keys."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        if not isinstance(data, dict):
            raise CheckpointError(f"model config must be a JSON object, got {type(data).__name__}")
        version = data.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise CheckpointError(
                f"checkpoint format_version {version} is newer than this tryon_sdk understands ({FORMAT_VERSION}); upgrade tryon_sdk"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CheckpointError(f"unknown keys in model config: {', '.join(unknown)}")
        kw = dict(data)
        for key in ("class_names", "mean", "std", "input_size"):
            if key in kw:
                kw[key] = tuple(kw[key])
        if "flip_pairs" in kw:
            kw["flip_pairs"] = tuple(tuple(p) for p in kw["flip_pairs"])
        try:
            return cls(**kw)
        except (TypeError, ConfigError) as exc:
            raise CheckpointError(f"invalid model config: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"model config is not valid JSON: {exc}") from exc
        return cls.from_dict(data)
