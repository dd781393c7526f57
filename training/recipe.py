"""Recipes: JSON training configurations, looked up by name, path or inline JSON, with ``key.sub=value`` overrides."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Sequence

from tryon_sdk.errors import ConfigError

__all__ = ["RECIPES_DIR", "available_recipes", "load_recipe", "apply_overrides", "validate_recipe"]

RECIPES_DIR = Path(__file__).parent / "recipes"

DEFAULTS: dict[str, Any] = {
    "name": "custom",
    "model": {"architecture": "lraspp", "backbone": "mobilenet_v3_large", "input_size": [288, 192], "aux_loss": False, "init": "imagenet"},
    "data": {"train": [], "val": None, "cache_size": [384, 256], "cache_dir": None, "split": {"val_count": 120, "seed": 0}},
    "optim": {"name": "adamw", "lr": 0.002, "weight_decay": 0.0001, "betas": [0.9, 0.999], "momentum": 0.9, "nesterov": False},
    "schedule": {"name": "poly", "power": 0.9, "warmup_steps": 100, "warmup_start": 0.05, "by": "steps"},
    "loss": {"dice_weight": 1.0, "class_weights": "none", "aux_weight": 0.4},
    "augment": {},
    "scenes": None,
    "views": None,
    "degrade": None,
    "mirror": None,
    "sampling": None,
    "batch_size": 8,
    "accum_steps": 1,
    "steps": 1000,
    "eval_every": 200,
    "eval_every_epoch": False,
    "epoch_samples": None,
    "eval_flip_tta": False,
    "checkpoint_every": 100,
    "checkpoint_minutes": None,
    "log_every": 10,
    "seed": 0,
    "num_threads": None,
    "cpu_bf16": False,
    "channels_last": None,
    "max_minutes": None,
    "deadline": None,
    "export_dtype": "float16",
    "num_workers": 0,
    "device": None,
    "stop_at_step": None,
}


def available_recipes() -> list[str]:
    """Names of the bundled recipes (``training/recipes/*.json``)."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.json"))


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_recipe(name_or_json: str | dict) -> dict[str, Any]:
    """A recipe dict from a bundled name, a ``.json`` path, inline JSON text or a dict, merged over the defaults."""
    if isinstance(name_or_json, dict):
        data = name_or_json
    else:
        text = name_or_json.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"inline recipe is not valid JSON: {exc}") from exc
        else:
            path = Path(text)
            if not path.suffix == ".json":
                path = RECIPES_DIR / f"{text}.json"
            if not path.is_file():
                raise ConfigError(f"unknown recipe {text!r}; valid: {', '.join(available_recipes())}, a .json path or inline JSON")
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise ConfigError(f"recipe {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("a recipe must be a JSON object")
    unknown = sorted(set(data) - set(DEFAULTS) - {"description"})
    if unknown:
        raise ConfigError(f"unknown recipe keys: {', '.join(unknown)}; valid: {', '.join(sorted(DEFAULTS))}")
    return _merge(DEFAULTS, data)


def apply_overrides(recipe: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings; values are parsed as JSON when they can be (``lr=3e-3``, ``model.input_size=[256,160]``)."""
    out = copy.deepcopy(recipe)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"override {key!r}: {p!r} is not a section; sections: {', '.join(k for k, v in out.items() if isinstance(v, dict))}")
            node = node[p]
        if parts[-1] not in node and node is out:
            raise ConfigError(f"override {key!r}: unknown key; valid: {', '.join(sorted(out))}")
        node[parts[-1]] = value
    return out


def validate_recipe(recipe: dict[str, Any]) -> None:
    """Check names and ranges before any data is touched; :class:`ConfigError` lists the valid options."""
    from tryon_sdk.config import ModelConfig

    from .data.mixing import STREAM_SOURCES
    from .data.sources import ARRAY_SOURCES

    def one_of(what: str, value: Any, valid: Sequence[Any]) -> None:
        if value not in valid:
            raise ConfigError(f"{what} {value!r} is not valid; valid: {', '.join(map(str, valid))}")

    one_of("optim.name", recipe["optim"].get("name"), ("adamw", "sgd"))
    one_of("schedule.name", recipe["schedule"].get("name"), ("poly", "cosine", "constant"))
    one_of("schedule.by", recipe["schedule"].get("by", "steps"), ("steps", "time"))
    one_of("export_dtype", recipe.get("export_dtype", "float16"), ("float16", "bfloat16", "float32"))
    cw = recipe["loss"].get("class_weights", "none")
    if not isinstance(cw, list):
        one_of("loss.class_weights", cw, ("none", "balanced", None))
    m = recipe["model"]
    init = m.get("init", "imagenet")
    if not (isinstance(init, str) and init.startswith("checkpoint:") and len(init) > len("checkpoint:")):
        one_of("model.init", init, ("imagenet", "none", "checkpoint:PATH"))
    if recipe.get("scenes") is not None:
        import dataclasses

        from .scenes import SceneConfig

        if not isinstance(recipe["scenes"], dict):
            raise ConfigError("scenes must be null or an object of SceneConfig fields (training/scenes.py)")
        fields = [f.name for f in dataclasses.fields(SceneConfig)]
        unknown = sorted(set(recipe["scenes"]) - set(fields))
        if unknown:
            raise ConfigError(f"unknown scenes keys: {', '.join(unknown)}; valid: {', '.join(fields)}")
        SceneConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in recipe["scenes"].items()})
    for section, cls_path in (("views", "views.ViewConfig"), ("degrade", "degrade.DegradeConfig")):
        if recipe.get(section) is not None:
            _check_dataclass(section, recipe[section], cls_path)
    mirror = recipe.get("mirror")
    if mirror is not None:
        if not isinstance(mirror, dict) or set(mirror) - {"weight", "samples"}:
            raise ConfigError('mirror must be null or {"weight": float >= 0, "samples": int >= 1 (images per step that also run mirrored)}')
        if float(mirror.get("weight", 0.0)) < 0 or int(mirror.get("samples", 1)) < 1:
            raise ConfigError(f"mirror.weight must be >= 0 and mirror.samples >= 1, got {mirror}")
    sampling = recipe.get("sampling")
    if sampling is not None:
        from .rare import class_ids

        if not isinstance(sampling, dict) or set(sampling) - {"rare_classes", "boost", "min_pixels"}:
            raise ConfigError('sampling must be null or {"rare_classes": [names], "boost": float > 0, "min_pixels": int}')
        class_ids(sampling.get("rare_classes", []))
        if float(sampling.get("boost", 1.0)) <= 0:
            raise ConfigError(f"sampling.boost must be > 0, got {sampling.get('boost')}")
    ModelConfig(architecture=m.get("architecture", "lraspp"), backbone=m.get("backbone", "mobilenet_v3_large"),
                input_size=tuple(m.get("input_size", (288, 192))), aux_loss=bool(m.get("aux_loss", False)))
    if not recipe["data"].get("train"):
        raise ConfigError('recipe data.train is empty; give a list of sources like {"source": "ccp"}')
    for src in recipe["data"]["train"]:
        one_of("data source", src.get("source"), tuple(dict.fromkeys(ARRAY_SOURCES + STREAM_SOURCES)))
    for key in ("batch_size", "accum_steps", "steps"):
        if int(recipe[key]) < 1:
            raise ConfigError(f"{key} must be >= 1, got {recipe[key]}")


def _check_dataclass(section: str, value: Any, cls_path: str) -> None:
    """Build the section's config dataclass (``module.Class`` under ``training``) so unknown keys and bad ranges fail early."""
    import dataclasses
    import importlib

    mod, name = cls_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(f"training.{mod}"), name)
    if not isinstance(value, dict):
        raise ConfigError(f"{section} must be null or an object of {name} fields (training/{mod}.py)")
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {section} keys: {', '.join(unknown)}; valid: {', '.join(fields)}")
    section_config(cls, value)


def section_config(cls: type, value: dict) -> Any:
    """A config dataclass from a recipe section (JSON lists become tuples)."""
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
