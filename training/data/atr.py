"""ATR (Liang et al.) from the Hub: ``mattmdjaga/human_parsing_dataset``.

One ``train`` split of 17,706 rows, columns ``image`` (Image) and ``mask``
(Image, values 0-17 in :data:`tryon_sdk.labels.ATR_CLASSES` order), so no
remapping is needed. There is no validation split: :func:`atr_split` makes a
deterministic seeded one by row index, recorded in ``ModelConfig.data_split``.
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np

from tryon_sdk.errors import DataError
from tryon_sdk.labels import NUM_CLASSES

from .hub import image_and_label, open_dataset

__all__ = ["ATR_HUB_ID", "ATR_ROWS", "load_atr", "atr_sample", "iter_atr", "atr_split"]

ATR_HUB_ID = "mattmdjaga/human_parsing_dataset"
ATR_ROWS = 17706


def load_atr(*, streaming: bool = False, data_files: str | os.PathLike | Sequence[str] | None = None, seed: int | None = None):
    """The ATR ``train`` split as a ``datasets`` (Iterable)Dataset; local parquet with the same schema when ``data_files``."""
    return open_dataset(ATR_HUB_ID, streaming=streaming, data_files=data_files, seed=seed, columns=("image", "mask"), name="ATR")


def atr_sample(row: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 HxWx3, mask uint8 HxW in ATR ids)`` from one row; :class:`DataError` for other values or sizes."""
    image, mask = image_and_label(row, "mask", "ATR")
    if mask.max(initial=0) >= NUM_CLASSES:
        raise DataError(f"ATR mask value {int(mask.max())} is outside 0..{NUM_CLASSES - 1}")
    return image, mask


def iter_atr(ds, indices: Sequence[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Decoded samples of ``ds`` (all rows, or ``indices`` of a map-style dataset)."""
    if indices is not None:
        for i in indices:
            yield atr_sample(ds[int(i)])
    else:
        for row in ds:
            yield atr_sample(row)


def atr_split(num_rows: int = ATR_ROWS, val_count: int = 500, seed: int = 0) -> dict:
    """Seeded row-index split ``{"seed", "val_count", "val_rows", "num_rows"}`` (val rows sorted)."""
    if not 0 < val_count < num_rows:
        raise DataError(f"val_count={val_count} must be between 1 and {num_rows - 1}")
    perm = np.random.default_rng(seed).permutation(num_rows)
    return {"seed": seed, "val_count": val_count, "num_rows": num_rows, "val_rows": sorted(int(i) for i in perm[:val_count])}
