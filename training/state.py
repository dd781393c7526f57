"""Resumable training state: ``state.safetensors`` + ``state.json``; nothing is unpickled.

Tensors (model, optimizer moments, RNG states) go to safetensors; everything
else (step, scheduler position, optimizer hyper-parameters, sampler position,
best metric) to JSON. Both are written to temporary names and renamed, the
JSON last, so a folder with ``state.json`` is always complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tryon_sdk.errors import CheckpointError
from tryon_sdk.outputs import atomic_path

__all__ = ["save_state", "load_state", "optimizer_to_flat", "optimizer_from_flat"]

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"


def optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``opt.state_dict()`` into tensors (``optim.<param>.<key>``) and a JSON-able rest."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, t in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = t
    for pid, st in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(st)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_state(directory: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write ``tensors`` and ``meta`` (JSON-able) into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    with atomic_path(d / STATE_TENSORS) as tmp:
        save_file(flat, tmp)
    with atomic_path(d / STATE_JSON) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return d


def load_state(directory: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, meta)`` from :func:`save_state`; :class:`CheckpointError` when missing or broken."""
    d = Path(directory)
    if not (d / STATE_JSON).is_file() or not (d / STATE_TENSORS).is_file():
        raise CheckpointError(f"no training state in {d} (expected {STATE_JSON} and {STATE_TENSORS})")
    try:
        return load_file(d / STATE_TENSORS), json.loads((d / STATE_JSON).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read training state in {d}: {exc}") from exc
