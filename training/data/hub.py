"""Helpers shared by the Hugging Face loaders: opening Hub or local datasets and decoding rows."""

from __future__ import annotations

import glob
import io
import os
from typing import Any, Iterable, Sequence

import numpy as np

from tryon_sdk.errors import DataError

__all__ = ["open_dataset", "to_rgb", "to_label", "check_columns", "image_and_label"]


def open_dataset(
    hub_id: str,
    *,
    split: str = "train",
    streaming: bool = False,
    data_files: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    seed: int | None = None,
    buffer_size: int = 256,
    columns: Iterable[str] = (),
    name: str | None = None,
):
    """``datasets.load_dataset(hub_id, split=..., streaming=...)``, or local parquet when ``data_files`` is given.

    Local parquet must hold the Hub schema (``datasets.Image`` columns). With
    ``streaming`` and ``seed`` the stream is shuffled with a bounded buffer, so
    memory stays flat whatever the dataset size. ``columns`` are required
    (:func:`check_columns`; ``name`` says whose in the error).
    """
    import datasets

    try:
        if data_files is not None:
            files = [str(data_files)] if isinstance(data_files, (str, os.PathLike)) else [str(f) for f in data_files]
            missing = [f for f in files if not glob.glob(f)]
            if missing:
                raise DataError(f"parquet files not found: {', '.join(missing)}")
            ds = datasets.load_dataset("parquet", data_files={split: files}, split=split, streaming=streaming)
        else:
            ds = datasets.load_dataset(hub_id, split=split, streaming=streaming)
    except DataError:
        raise
    except Exception as exc:  # datasets raises many types (network, schema, missing split)
        raise DataError(f"cannot load {hub_id if data_files is None else data_files} (split {split!r}): {exc}") from exc
    if seed is not None:
        ds = ds.shuffle(seed=seed, buffer_size=buffer_size) if streaming else ds.shuffle(seed=seed)
    check_columns(ds, tuple(columns), name or hub_id)
    return ds


def check_columns(ds, required: Iterable[str], name: str) -> None:
    """Raise :class:`DataError` unless ``ds`` has the ``required`` columns."""
    cols = ds.column_names
    if cols is None:  # some streaming datasets only know their columns after the first row
        cols = list(ds.features) if ds.features is not None else None
    if cols is None:
        return
    missing = [c for c in required if c not in cols]
    if missing:
        raise DataError(f"{name}: missing column(s) {', '.join(missing)}; found {', '.join(cols)}; expected {', '.join(required)}")


def _as_pil(value: Any):
    from PIL import Image

    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict) and (value.get("bytes") or value.get("path")):
        return Image.open(io.BytesIO(value["bytes"])) if value.get("bytes") else Image.open(value["path"])
    if isinstance(value, np.ndarray):
        return Image.fromarray(value)
    raise DataError(f"expected an image (PIL, bytes dict or array), got {type(value).__name__}")


def to_rgb(value: Any) -> np.ndarray:
    """uint8 ``H x W x 3`` RGB from a ``datasets.Image`` value."""
    return np.asarray(_as_pil(value).convert("RGB"), dtype=np.uint8)


def to_label(value: Any) -> np.ndarray:
    """uint8 ``H x W`` class ids from a label image (mode L/P/I; an RGB label must be grey)."""
    img = _as_pil(value)
    arr = np.asarray(img)
    if arr.ndim == 3:
        if not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
            raise DataError("label image is colour (RGB with differing channels); expected class ids in a single channel")
        arr = arr[..., 0]
    if arr.max(initial=0) > 255 or arr.min(initial=0) < 0:
        raise DataError(f"label values {arr.min()}..{arr.max()} do not fit uint8")
    return arr.astype(np.uint8)


def image_and_label(row: dict, label_column: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 HxWx3, label uint8 HxW)`` of a Hub row; :class:`DataError` when their sizes differ."""
    image = to_rgb(row["image"])
    label = to_label(row[label_column])
    if label.shape != image.shape[:2]:
        raise DataError(f"{name} row: {label_column} {label.shape} and image {image.shape[:2]} differ in size")
    return image, label
