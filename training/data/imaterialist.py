"""iMaterialist-Fashion / Fashionpedia, mapped to ATR.

Two forms are read:

* **Dense, from the Hub**: ``sayeed99/fashion_segmentation``, columns ``image``
  and ``label`` (Image). ``label`` 0 = everything else, ``k + 1`` = Fashionpedia
  category ``k`` (:data:`training.mapping.FASHIONPEDIA_CATEGORIES`, 46 names,
  ``shirt, blouse`` = 1 ... ``tassel`` = 46); values above 46 raise
  :class:`DataError`.
* **Kaggle CSV** (iMaterialist-Fashion 2019/2020): rows ``ImageId,
  EncodedPixels, Height, Width, ClassId`` (extra columns such as
  ``AttributesIds`` are ignored; a ``ClassId`` like ``"6_28_77"`` keeps its
  first field). ``EncodedPixels`` holds ``start length`` pairs, 1-indexed,
  running down columns (column-major), see :func:`rle_decode`.

Mapping (:data:`training.mapping.FASHIONPEDIA_TO_ATR`): garments to
Upper-clothes/Pants/Skirt/Dress, glasses to Sunglasses, hat and headband to
Hat, belt, bag/wallet, scarf. Garment *parts* (sleeve, pocket, collar, ...)
take the class of the garment (or belt) they touch, else 255. Shoes get a side
only when there are exactly two shoe blobs (instances in the CSV form) of
comparable size and the image shows a front-only cue (a ``neckline`` or a
``lapel``): then the image-left shoe is the person's Right-shoe; otherwise 255.
Every pixel iMaterialist leaves unlabelled (skin, hair, face, and a background
that may hide unlabelled items) is 255, never Background.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from tryon_sdk.errors import DataError
from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX

from ..mapping import FASHIONPEDIA_CATEGORIES, FASHIONPEDIA_TO_ATR, IMAT_DENSE_TO_ATR, PART, SHOE
from .hub import image_and_label, open_dataset

__all__ = [
    "IMAT_HUB_ID",
    "rle_decode",
    "rle_encode",
    "resolve_parts",
    "assign_shoe_sides",
    "dense_to_atr",
    "load_imat_dense",
    "imat_dense_sample",
    "read_imat_csv",
    "imat_csv_mask",
    "iter_imat_csv",
]

IMAT_HUB_ID = "sayeed99/fashion_segmentation"
_C = CLASS_INDEX
_GARMENTS = (_C["Upper-clothes"], _C["Skirt"], _C["Pants"], _C["Dress"], _C["Belt"])
_FRONT_CUES = tuple(FASHIONPEDIA_CATEGORIES.index(n) for n in ("neckline", "lapel"))
_NUM_CATS = len(FASHIONPEDIA_CATEGORIES)


def rle_decode(encoded: str, height: int, width: int) -> np.ndarray:
    """Kaggle RLE -> bool ``height x width``. Pairs ``start length``, starts 1-indexed, pixels numbered down columns."""
    flat = np.zeros(height * width, dtype=bool)
    nums = encoded.split()
    if len(nums) % 2:
        raise DataError(f"RLE has an odd number of values ({len(nums)}); expected start/length pairs")
    try:
        pairs = np.asarray(nums, dtype=np.int64).reshape(-1, 2)
    except ValueError as exc:
        raise DataError(f"RLE holds non-integers: {exc}") from exc
    for start, length in pairs:
        if start < 1 or length < 0 or start - 1 + length > flat.size:
            raise DataError(f"RLE run ({start}, {length}) is outside a {height}x{width} image")
        flat[start - 1 : start - 1 + length] = True
    return flat.reshape((height, width), order="F")


def rle_encode(mask: np.ndarray) -> str:
    """Inverse of :func:`rle_decode` for a bool ``H x W`` mask."""
    flat = np.concatenate([[0], mask.reshape(-1, order="F").astype(np.int8), [0]])
    edges = np.nonzero(np.diff(flat))[0]
    starts, ends = edges[0::2], edges[1::2]
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends))


def resolve_parts(labels: np.ndarray, part: np.ndarray, radius: int = 5) -> np.ndarray:
    """Give each connected blob of ``part`` (bool HxW) the garment/belt class most common within ``radius`` px around it.

    ``labels``: uint8 HxW (ATR ids / 255) without the parts; blobs touching no
    garment stay 255. Two passes, so a part touching only a resolved part
    (a cuff on a sleeve) is resolved too. Returns a new uint8 HxW.
    """
    out = labels.copy()
    if not part.any():
        return out
    pending = part.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    garment_ids = np.array(_GARMENTS)
    for _ in range(2):
        n, lab, stats, _ = cv2.connectedComponentsWithStats(pending.astype(np.uint8), connectivity=8)
        changed = False
        for i in range(1, n):
            x, y, w, h = stats[i, :4]
            y0, y1 = max(y - radius, 0), min(y + h + radius, out.shape[0])
            x0, x1 = max(x - radius, 0), min(x + w + radius, out.shape[1])
            blob = (lab[y0:y1, x0:x1] == i).astype(np.uint8)
            ring = cv2.dilate(blob, kernel).astype(bool) & ~blob.astype(bool)
            around = out[y0:y1, x0:x1][ring]
            around = around[np.isin(around, garment_ids)]
            if around.size:
                out[y0:y1, x0:x1][blob.astype(bool)] = np.bincount(around).argmax()
                pending[y0:y1, x0:x1][blob.astype(bool)] = False
                changed = True
        if not changed:
            break
    out[pending] = IGNORE_INDEX
    return out


def assign_shoe_sides(out: np.ndarray, shoes: Sequence[np.ndarray], frontal: bool) -> None:
    """Write Left-/Right-shoe for exactly two comparable shoe masks of a frontal image, else 255 (in place)."""
    shoes = [s for s in shoes if s.any()]
    for s in shoes:
        out[s] = IGNORE_INDEX
    if not frontal or len(shoes) != 2:
        return
    a, b = (int(s.sum()) for s in shoes)
    if min(a, b) < 0.25 * max(a, b):
        return
    cx = [float(np.nonzero(s)[1].mean()) for s in shoes]
    if abs(cx[0] - cx[1]) < 1:
        return
    left_img, right_img = (0, 1) if cx[0] < cx[1] else (1, 0)
    out[shoes[left_img]] = _C["Right-shoe"]  # image-left = person's right when facing the camera
    out[shoes[right_img]] = _C["Left-shoe"]


def dense_to_atr(label: np.ndarray) -> np.ndarray:
    """Dense Hub label (uint8 HxW, 0..46) -> ATR ids / 255 (uint8 HxW)."""
    if label.max(initial=0) > _NUM_CATS:
        raise DataError(f"iMaterialist label value {int(label.max())} is outside 0..{_NUM_CATS}")
    lut = np.asarray(IMAT_DENSE_TO_ATR, dtype=np.int16)
    coarse = lut[label]
    out = np.where(coarse >= 0, coarse, IGNORE_INDEX).astype(np.uint8)
    out = resolve_parts(out, coarse == PART)
    shoe = coarse == SHOE
    if shoe.any():
        n, lab = cv2.connectedComponents(shoe.astype(np.uint8), connectivity=8)
        blobs = [lab == i for i in range(1, n) if np.count_nonzero(lab == i) >= 20]
        frontal = bool(np.isin(label, np.array(_FRONT_CUES) + 1).any())
        out[shoe] = IGNORE_INDEX
        assign_shoe_sides(out, blobs, frontal)
    return out


def load_imat_dense(*, streaming: bool = False, data_files: str | os.PathLike | Sequence[str] | None = None, seed: int | None = None):
    """``sayeed99/fashion_segmentation`` ``train`` (or local parquet with its schema) as a ``datasets`` dataset."""
    return open_dataset(
        IMAT_HUB_ID, streaming=streaming, data_files=data_files, seed=seed, columns=("image", "label"), name="iMaterialist (dense)"
    )


def imat_dense_sample(row: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 HxWx3, mask uint8 HxW ATR ids / 255)`` from one dense row."""
    image, label = image_and_label(row, "label", "iMaterialist")
    return image, dense_to_atr(label)


_CSV_COLUMNS = ("ImageId", "EncodedPixels", "Height", "Width", "ClassId")
# draw order: later entries win where instance masks overlap
_PRIORITY = {c: i for i, c in enumerate((_C["Dress"], _C["Upper-clothes"], _C["Pants"], _C["Skirt"], _C["Scarf"], _C["Belt"], _C["Bag"], _C["Hat"], _C["Sunglasses"]))}


def read_imat_csv(path: str | os.PathLike) -> dict[str, list[dict]]:
    """Instances per ``ImageId``: ``[{"rle", "height", "width", "class_id"}]`` in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"iMaterialist CSV not found: {path}")
    out: dict[str, list[dict]] = defaultdict(list)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(_CSV_COLUMNS)}")
        for row in reader:
            try:
                cid = int(str(row["ClassId"]).split("_")[0])
                h, w = int(row["Height"]), int(row["Width"])
            except ValueError as exc:
                raise DataError(f"{path}: bad row for {row.get('ImageId')}: {exc}") from exc
            if not 0 <= cid < _NUM_CATS:
                raise DataError(f"{path}: ClassId {cid} is outside 0..{_NUM_CATS - 1}")
            out[row["ImageId"]].append({"rle": row["EncodedPixels"], "height": h, "width": w, "class_id": cid})
    return dict(out)


def imat_csv_mask(instances: Sequence[dict]) -> np.ndarray:
    """Rasterise one image's instances to ATR ids / 255 (uint8 HxW)."""
    if not instances:
        raise DataError("no instances given")
    h, w = instances[0]["height"], instances[0]["width"]
    out = np.full((h, w), IGNORE_INDEX, np.uint8)
    parts = np.zeros((h, w), bool)
    shoes: list[np.ndarray] = []
    frontal = False
    drawn = []
    for inst in instances:
        if (inst["height"], inst["width"]) != (h, w):
            raise DataError(f"instances of one image disagree on size: {(h, w)} vs {(inst['height'], inst['width'])}")
        cid = inst["class_id"]
        frontal |= cid in _FRONT_CUES
        target = FASHIONPEDIA_TO_ATR[FASHIONPEDIA_CATEGORIES[cid]]
        if target == IGNORE_INDEX:
            continue
        m = rle_decode(inst["rle"], h, w)
        if target == PART:
            parts |= m
        elif target == SHOE:
            shoes.append(m)
        else:
            drawn.append((_PRIORITY.get(target, 0), target, m))
    for _, target, m in sorted(drawn, key=lambda t: t[0]):
        out[m] = target
    out = resolve_parts(out, parts & (out == IGNORE_INDEX))
    assign_shoe_sides(out, shoes, frontal)
    return out


def iter_imat_csv(csv_path: str | os.PathLike, image_dir: str | os.PathLike, image_ids: Sequence[str] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(image uint8 HxWx3, mask uint8 HxW)`` for each image of the CSV (``image_dir/<ImageId>[.jpg]``)."""
    table = read_imat_csv(csv_path)
    image_dir = Path(image_dir)
    for image_id in image_ids if image_ids is not None else sorted(table):
        if image_id not in table:
            raise DataError(f"{image_id} is not in {csv_path}")
        cands = [image_dir / image_id, image_dir / f"{image_id}.jpg", image_dir / f"{image_id}.png"]
        path = next((p for p in cands if p.is_file()), None)
        if path is None:
            raise DataError(f"image {image_id} not found in {image_dir} (tried .jpg, .png and the bare name)")
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f"cannot decode {path}")
        mask = imat_csv_mask(table[image_id])
        if mask.shape != img.shape[:2]:
            raise DataError(f"{image_id}: CSV size {mask.shape} differs from the image {img.shape[:2]}")
        yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB), mask
