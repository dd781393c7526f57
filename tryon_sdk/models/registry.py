"""Model names -> checkpoints, so named and user models load the same way.

A name resolves to a folder bundled in the package, or to a URL that is
downloaded once into the cache (``$TRYON_SDK_CACHE`` or
``~/.cache/tryon_sdk``) and checked against its SHA-256 before use.
Anything that is not a registered name is treated as a path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, ConfigError
from ..outputs import atomic_path

__all__ = ["ModelSource", "register_model", "available_models", "resolve_checkpoint", "DEFAULT_MODEL", "cache_dir"]

DEFAULT_MODEL = "default"
_BUNDLED = Path(__file__).parents[1] / "weights"  # tryon_sdk/weights


@dataclass(frozen=True)
class ModelSource:
    """Where a named model lives: a local ``path`` or a ``url`` with its ``sha256``."""

    name: str
    path: Path | None = None
    url: str | None = None
    sha256: str | None = None
    description: str = ""


_REGISTRY: dict[str, ModelSource] = {
    DEFAULT_MODEL: ModelSource(
        DEFAULT_MODEL,
        path=_BUNDLED / "default",
        description="MobileNetV3-Large trained on Clothing Co-Parsing, bundled with the package",
    ),
}


def register_model(source: ModelSource, *, overwrite: bool = False) -> None:
    """Add a named model. Exactly one of ``path`` and ``url`` must be set; a URL needs ``sha256``."""
    if (source.path is None) == (source.url is None):
        raise ConfigError(f"model {source.name!r}: give exactly one of path and url")
    if source.url is not None and not source.sha256:
        raise ConfigError(f"model {source.name!r}: a url needs its sha256 so the download can be checked")
    if source.name in _REGISTRY and not overwrite:
        raise ConfigError(f"model {source.name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[source.name] = source


def available_models() -> dict[str, ModelSource]:
    return dict(_REGISTRY)


def cache_dir() -> Path:
    return Path(os.environ.get("TRYON_SDK_CACHE", Path.home() / ".cache" / "tryon_sdk"))


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(source: ModelSource) -> Path:
    assert source.url and source.sha256
    target = cache_dir() / source.name / f"{source.sha256[:16]}.safetensors"
    if target.is_file() and _sha256_file(target) == source.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:  # a failed or wrong download is removed, never used
        try:
            with urllib.request.urlopen(source.url, timeout=60) as r, open(tmp, "wb") as f:
                shutil.copyfileobj(r, f)
        except OSError as exc:
            raise CheckpointError(f"cannot download model {source.name!r} from {source.url}: {exc}") from exc
        found = _sha256_file(tmp)
        if found != source.sha256:
            raise CheckpointError(
                f"download of {source.name!r} has sha256 {found[:12]}…, expected {source.sha256[:12]}…; not used"
            )
    return target


def resolve_checkpoint(name_or_path: str | os.PathLike | None = None) -> Path:
    """A local path for a registered name, an existing path, or ``None`` (the default model)."""
    name = DEFAULT_MODEL if name_or_path is None else name_or_path
    if isinstance(name, str) and name in _REGISTRY:
        source = _REGISTRY[name]
        if source.path is not None:
            if not Path(source.path).exists():
                raise CheckpointError(f"model {name!r} is registered at {source.path}, which does not exist")
            return Path(source.path)
        return _download(source)
    path = Path(name)
    if path.exists():
        return path
    raise CheckpointError(
        f"no checkpoint at {str(path)!r} and no registered model of that name; "
        f"registered: {', '.join(sorted(_REGISTRY))}"
    )
