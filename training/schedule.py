"""Optimiser, learning-rate schedule and time limits of a training run."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import torch

from tryon_sdk.errors import ConfigError

__all__ = ["SCHEDULES", "OPTIMIZERS", "lr_factor", "make_optimizer", "parse_deadline"]

SCHEDULES = ("poly", "cosine", "constant")
OPTIMIZERS = ("adamw", "sgd")


def lr_factor(step: int, progress: float, sched: dict[str, Any]) -> float:
    """Multiplier of the base LR at ``step`` with ``progress`` in [0, 1] of the run."""
    p = min(max(progress, 0.0), 1.0)
    name = sched.get("name", "poly")
    if name == "poly":
        decay = (1 - p) ** float(sched.get("power", 0.9))
    elif name == "cosine":
        decay = 0.5 * (1 + math.cos(math.pi * p))
    elif name == "constant":
        decay = 1.0
    else:
        raise ConfigError(f"unknown schedule {name!r}; valid: {', '.join(SCHEDULES)}")
    warm = int(sched.get("warmup_steps", 0))
    if step < warm:  # ramp towards the decayed value, so a time-based run has no jump at the end of warm-up
        start = float(sched.get("warmup_start", 0.05))
        return (start + (1 - start) * step / warm) * decay
    return decay


def parse_deadline(value: str | None) -> float | None:
    """Epoch seconds of an ISO datetime or ``HH:MM`` (UTC, today)."""
    if not value:
        return None
    try:
        if len(value) <= 5 and ":" in value:
            hh, mm = (int(x) for x in value.split(":"))
            now = dt.datetime.now(dt.timezone.utc)
            return now.replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp()
        t = dt.datetime.fromisoformat(value)
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.timezone.utc)
        return t.timestamp()
    except ValueError as exc:
        raise ConfigError(f"deadline {value!r} must be HH:MM (UTC) or an ISO datetime") from exc


def make_optimizer(params, o: dict) -> torch.optim.Optimizer:
    """The recipe's ``optim`` section as a torch optimiser (AdamW or SGD)."""
    name = o.get("name", "adamw")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=o["lr"], weight_decay=o.get("weight_decay", 1e-4), betas=tuple(o.get("betas", (0.9, 0.999))))
    if name == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0.9), weight_decay=o.get("weight_decay", 1e-4), nesterov=o.get("nesterov", False))
    raise ConfigError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
