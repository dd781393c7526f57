"""Typed validation of option values: each helper returns the value or raises :class:`ConfigError`
naming the option and what is valid (as kornia's ``KORNIA_CHECK`` helpers do)."""

from __future__ import annotations

import math
from typing import Any, Iterable, TypeVar

from .errors import ConfigError

__all__ = ["one_of", "in_range", "at_least", "is_bool"]

T = TypeVar("T")


def one_of(name: str, value: T, valid: Iterable[Any]) -> T:
    """``value`` if it is one of ``valid``, else ``ConfigError: unknown <name> <value>; valid: a, b``."""
    valid = tuple(valid)
    if value not in valid:
        raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(str(v) for v in valid)}")
    return value


def in_range(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a float if ``lo <= value <= hi`` (``<`` where open), else a :class:`ConfigError`."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a number, got {type(value).__name__}") from exc
    ok = not math.isnan(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        left, right = "(" if lo_open else "[", ")" if hi_open else "]"
        raise ConfigError(f"{name} must be in {left}{lo}, {hi}{right}, got {value!r}")
    return v


def at_least(name: str, value: Any, lo: int) -> int:
    """``value`` if it is an ``int`` (not a bool) ``>= lo``, else a :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


def is_bool(name: str, value: Any) -> bool:
    """``value`` if it is a ``bool``, else a :class:`ConfigError`."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be True or False, got {value!r}")
    return value
