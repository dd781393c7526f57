"""Parsed photos kept for recolouring, least recently used first out, within a memory budget."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from .errors import NotFound

if TYPE_CHECKING:
    from ..result import ParseResult

__all__ = ["ResultCache", "result_bytes"]


def result_bytes(result: "ParseResult") -> int:
    """Memory held by a result's arrays."""
    return sum(a.nbytes for a in (result.labels, result.probabilities, result.image) if a is not None)


class ResultCache:
    """``id -> ParseResult`` within ``budget_bytes``; a result that alone exceeds it is kept without its
    probabilities (its recolours then have the labels' hard edges, feathered)."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self._items: OrderedDict[str, "ParseResult"] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, result: "ParseResult") -> str:
        if result.probabilities is not None and result_bytes(result) > self.budget:
            result = dataclasses.replace(result, probabilities=None)
        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = result
            while len(self._items) > 1 and sum(map(result_bytes, self._items.values())) > self.budget:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> "ParseResult":
        with self._lock:
            try:
                self._items.move_to_end(key)
                return self._items[key]
            except KeyError:
                raise NotFound(f"no parsed photo {key!r} here (the server keeps the last few): upload the photo again") from None

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
