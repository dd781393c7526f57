"""Sources as sample streams, and their weighted, seeded mix.

A recipe's ``data.train`` is a list of source specs; each becomes a
:class:`SourceStream` that yields raw rows (cheap to skip) and decodes them
to ``(image uint8 HxWx3, mask uint8 HxW in ATR ids / 255)``:

========================  ====================================================
``{"source": "atr"}``      ``mattmdjaga/human_parsing_dataset`` (``streaming``,
                           ``data_files`` for local parquet)
``{"source": "imat"}``     ``sayeed99/fashion_segmentation`` (same options)
``{"source": "imat_csv"}`` Kaggle CSV: ``csv`` + ``image_dir``
``{"source": "ccp"}``      Clothing Co-Parsing folder (``root``)
``{"source": "imagefolder"}`` ``root/images`` + ``root/masks`` (ATR PNGs)
========================  ====================================================

Every source is split into train/val by a seeded choice of ``val_count``
items (row indices for Hub data, ids for folders). Streaming Hub data is never
held in memory: its val rows are drawn from the first ``val_window`` rows
(default 2000), so collecting them does not read the whole stream, and the
training stream is shuffled with a bounded buffer.

:class:`MixedStream` draws the source of global sample ``k`` from
``default_rng([seed, k])`` with probabilities ``weight / sum(weights)``; rank
``r`` of ``W`` takes the samples with ``k % W == r``. Its state (``k`` and the
rows consumed per source) makes resuming exact: iterators are rebuilt and the
consumed rows skipped undecoded. A source that runs out restarts (next epoch,
reshuffled with ``seed + epoch``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from tryon_sdk.errors import ConfigError, DataError

from .cache import fit_pair

__all__ = ["STREAM_SOURCES", "SourceStream", "build_source", "MixedStream"]

STREAM_SOURCES = ("atr", "imat", "imat_csv", "ccp", "imagefolder")


@dataclass
class SourceStream:
    """One source: ``rows(epoch)`` -> iterator of raw train rows; ``decode(row)`` -> (image, mask); ``val`` decoded val samples."""

    name: str
    weight: float
    rows: Callable[[int], Iterator[Any]]
    decode: Callable[[Any], tuple[np.ndarray, np.ndarray]]
    val: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    split: dict[str, Any] = field(default_factory=dict)


def _seeded_subset(n: int, count: int, seed: int) -> list[int]:
    if count <= 0:
        return []
    if count >= n:
        raise DataError(f"val_count={count} must be smaller than the {n} items available")
    return sorted(int(i) for i in np.random.default_rng(seed).permutation(n)[:count])


def _hub_source(spec: dict, name: str, seed: int) -> SourceStream:
    from .atr import atr_sample, load_atr
    from .imaterialist import imat_dense_sample, load_imat_dense

    load, decode = {"atr": (load_atr, atr_sample), "imat": (load_imat_dense, imat_dense_sample)}[spec["source"]]
    streaming = bool(spec.get("streaming", False))
    data_files = spec.get("data_files")
    val_count = int(spec.get("val_count", 0))
    if streaming:
        base = load(streaming=True, data_files=data_files)
        window = int(spec.get("val_window", 2000))
        head = list(itertools.islice(iter(base), window))
        val_rows = _seeded_subset(len(head), val_count, seed) if val_count else []
        val = [decode(head[i]) for i in val_rows]
        del head
        excluded = set(val_rows)

        def rows(epoch: int) -> Iterator[Any]:
            ds = load(streaming=True, data_files=data_files)
            ds = ds.map(lambda r, i: {"__row": i}, with_indices=True)
            ds = ds.filter(lambda r: r["__row"] not in excluded)
            return iter(ds.shuffle(seed=seed + epoch, buffer_size=int(spec.get("buffer_size", 256))))

        split = {"mode": "streaming", "val_window": window, "val_rows": val_rows}
    else:
        ds = load(streaming=False, data_files=data_files)
        n = len(ds)
        val_rows = _seeded_subset(n, val_count, seed) if val_count else []
        val = [decode(ds[i]) for i in val_rows]
        train_rows = np.setdiff1d(np.arange(n), np.asarray(val_rows, dtype=np.int64))

        def rows(epoch: int) -> Iterator[Any]:
            order = np.random.default_rng(seed + epoch).permutation(train_rows)
            return (ds[int(i)] for i in order)

        split = {"mode": "map", "num_rows": n, "val_rows": val_rows}
    return SourceStream(name, float(spec.get("weight", 1.0)), rows, decode, val, {"seed": seed, **split})


def _id_source(name: str, spec: dict, ids: Sequence[str], load_id: Callable[[str], tuple[np.ndarray, np.ndarray]], seed: int) -> SourceStream:
    from .cache import make_split

    val_count = int(spec.get("val_count", 0))
    split = make_split(ids, val_count, seed) if val_count else {"seed": seed, "val_count": 0, "val_ids": [], "train_ids": sorted(ids)}
    train_ids = split["train_ids"]

    def rows(epoch: int) -> Iterator[str]:
        return iter([train_ids[i] for i in np.random.default_rng(seed + epoch).permutation(len(train_ids))])

    val = [load_id(i) for i in split["val_ids"]]
    return SourceStream(name, float(spec.get("weight", 1.0)), rows, load_id, val, split)


def build_source(spec: dict, seed: int = 0) -> SourceStream:
    """A :class:`SourceStream` for one recipe source spec (see the module table)."""
    kind = spec.get("source")
    seed = int(spec.get("seed", seed))
    if kind in ("atr", "imat"):
        return _hub_source(spec, spec.get("name", kind), seed)
    if kind == "ccp":
        from .ccp import ccp_ids, find_ccp_root, load_ccp_sample, read_label_names

        root = find_ccp_root(spec.get("root"))
        names = read_label_names(root)
        return _id_source("clothing-co-parsing", spec, ccp_ids(root), lambda i: load_ccp_sample(root, i, names), seed)
    if kind == "imagefolder":
        from .local import imagefolder_ids, load_imagefolder_sample

        if not spec.get("root"):
            raise ConfigError("an imagefolder source needs 'root'")
        root = Path(spec["root"])
        return _id_source(spec.get("name", root.name), spec, imagefolder_ids(root), lambda i: load_imagefolder_sample(root, i), seed)
    if kind == "imat_csv":
        from .imaterialist import iter_imat_csv, read_imat_csv

        if not spec.get("csv") or not spec.get("image_dir"):
            raise ConfigError("an imat_csv source needs 'csv' and 'image_dir'")
        ids = sorted(read_imat_csv(spec["csv"]))
        return _id_source("imaterialist-csv", spec, ids, lambda i: next(iter_imat_csv(spec["csv"], spec["image_dir"], [i])), seed)
    raise ConfigError(f"unknown data source {kind!r}; valid: {', '.join(STREAM_SOURCES)}, npz")


class MixedStream:
    """Endless weighted mix of :class:`SourceStream` s, each sample fitted to ``size`` like the caches
    (:func:`training.data.cache.fit_pair`, padded with ``pad_color``, the model's mean colour); see the module docstring."""

    def __init__(
        self,
        sources: Sequence[SourceStream],
        size: tuple[int, int],
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        *,
        pad_color: tuple[int, int, int],
    ) -> None:
        if not sources:
            raise ConfigError("no data sources to mix")
        w = np.array([s.weight for s in sources], dtype=np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ConfigError(f"source weights must be >= 0 with a positive sum, got {w.tolist()}")
        self.sources = list(sources)
        self.p = w / w.sum()
        self.size = tuple(size)
        self.pad_color = tuple(pad_color)
        self.seed, self.rank, self.world = seed, rank, world
        self.k = 0
        self.consumed = [0] * len(sources)  # rows taken in the current epoch of each source
        self.epochs = [0] * len(sources)
        self._its: list[Iterator[Any] | None] = [None] * len(sources)

    def _choice(self, k: int) -> int:
        return int(np.random.default_rng([self.seed, k]).choice(len(self.p), p=self.p))

    def _next_row(self, j: int) -> Any:
        for _ in range(2):
            if self._its[j] is None:
                it = self.sources[j].rows(self.epochs[j])
                self._its[j] = itertools.islice(it, self.consumed[j], None)
            try:
                row = next(self._its[j])
                self.consumed[j] += 1
                return row
            except StopIteration:
                if self.consumed[j] == 0:
                    raise DataError(f"source {self.sources[j].name!r} has no training rows") from None
                self.epochs[j] += 1
                self.consumed[j] = 0
                self._its[j] = None
        raise DataError(f"source {self.sources[j].name!r} has no training rows")

    def next_sample(self) -> tuple[np.ndarray, np.ndarray]:
        """Next ``(image uint8 h x w x 3, mask uint8 h x w)`` of this rank."""
        while True:
            k = self.k
            self.k += 1
            j = self._choice(k)
            row = self._next_row(j)  # every rank advances every source alike ...
            if k % self.world == self.rank:  # ... but decodes only its share
                return fit_pair(*self.sources[j].decode(row), self.size, pad_color=self.pad_color)

    def next_batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """uint8 ``B x h x w x 3`` images and ``B x h x w`` masks."""
        pairs = [self.next_sample() for _ in range(batch_size)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def state_dict(self) -> dict[str, Any]:
        return {"k": self.k, "consumed": list(self.consumed), "epochs": list(self.epochs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.k = int(state["k"])
        self.consumed = [int(c) for c in state["consumed"]]
        self.epochs = [int(e) for e in state["epochs"]]
        self._its = [None] * len(self.sources)

    def val_arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        """All sources' val samples fitted to ``size`` (None when there are none)."""
        pairs = [fit_pair(i, m, self.size, pad_color=self.pad_color) for s in self.sources for i, m in s.val]
        if not pairs:
            return None
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
