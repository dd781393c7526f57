"""Try-on dataset layouts: the folders VITON-HD (and HR-VITON, StableVITON, ...) and DressCode read.

**VITON-HD** (``--layout viton-hd``), one file per photo, ``NAME`` = its path under its source with
``/`` as ``_`` and no suffix::

    image/NAME.jpg                         the photo (a JPEG without EXIF rotation is copied as is)
    image-parse-v3/NAME.png                the parse, palette PNG ('P'), pixel values = LIP ids below
    image-parse-agnostic-v3.2/NAME.png     the same, upper garment and neck set to 0, arms to 0 inside the mask
    agnostic-v3.2/NAME.jpg                 the photo, the upper-body agnostic mask painted grey (128, 128, 128)
    agnostic-mask/NAME_mask.png            that mask, 'L' PNG, 255 = masked

VITON-HD's loader reads the parse with ``np.array(Image.open(p))``, which gives the ids of a palette
PNG. Its masks come from OpenPose in VITON-HD's own preprocessing; here they are
:func:`tryon_sdk.agnostic.garment_agnostic_mask` (``upper_body``) of the parse. Cloth images, cloth
masks, poses and DensePose are not made: they need other models.

**ATR -> LIP** (VITON-HD uses the 20 LIP labels of CIHP-PGN, with 10 as the neck):

=================  ===  ================================================================
ATR                LIP  note
=================  ===  ================================================================
0 Background       0
1 Hat              1
2 Hair             2
3 Sunglasses       4
4 Upper-clothes    5    (LIP 7 Coat: never produced; ATR has no coat class)
5 Skirt            12
6 Pants            9
7 Dress            6
8 Belt             -    the class of the nearest garment pixel (LIP has no belt), else 0
9 Left-shoe        18
10 Right-shoe      19
11 Face            13   above the chin (:func:`tryon_sdk.agnostic.chin_row`, per person)
11 Face (neck)     10   below the chin: ATR has no neck, ATR parsers paint it as Face
12 Left-leg        16
13 Right-leg       17
14 Left-arm        14
15 Right-arm       15
16 Bag             0    LIP has no bag: background, as in CIHP-PGN parses
17 Scarf           11
=================  ===  ================================================================

LIP 3 Glove and 8 Socks are never produced (gloves are arms, socks legs or shoes in ATR).

**DressCode** (``--layout dresscode``): its 18-label maps are ATR's own classes in ATR's order
(face = "head"), so the parse is written as is. Per category (``upper_body``, ``lower_body``,
``dresses``)::

    <category>/images/NAME_0.jpg           the photo (hard links between the three categories where possible)
    <category>/label_maps/NAME_4.png       the parse, palette PNG, pixel values = ATR / DressCode ids
    <category>/masks/NAME_mask.png         the category's garment-agnostic mask, 'L' PNG, 255 = masked

Videos have no place in these layouts: they are recorded as failed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np
from PIL import Image

from ..agnostic import chin_row, garment_agnostic_mask, person_boxes
from ..errors import InputError
from ..labels import PALETTE
from ..outputs import PendingOutput
from .manifest import Record
from .sources import BatchInput

if TYPE_CHECKING:
    from ..parser import Parser
    from .options import Job

__all__ = ["LIP_LABELS", "ATR_TO_LIP", "LIP_PALETTE", "to_lip", "write_layout", "layout_name", "save_palette_png"]

#: The 20 LIP / CIHP labels; VITON-HD reads 10 as the neck.
LIP_LABELS: tuple[str, ...] = (
    "Background", "Hat", "Hair", "Glove", "Sunglasses", "Upper-clothes", "Dress", "Coat", "Socks", "Pants",
    "Neck", "Scarf", "Skirt", "Face", "Left-arm", "Right-arm", "Left-leg", "Right-leg", "Left-shoe", "Right-shoe",
)  # fmt: skip
#: ``ATR_TO_LIP[atr_id]``; Belt (8) is resolved by its neighbours and the neck by the chin, see the module docstring.
ATR_TO_LIP: np.ndarray = np.array([0, 1, 2, 4, 5, 12, 9, 6, 0, 18, 19, 13, 16, 17, 14, 15, 0, 11], np.uint8)
#: CIHP-PGN's colours, the palette of VITON-HD's parse PNGs (20 x 3 uint8).
LIP_PALETTE: np.ndarray = np.array(
    [(0, 0, 0), (128, 0, 0), (255, 0, 0), (0, 85, 0), (170, 0, 51), (255, 85, 0), (0, 0, 85), (0, 119, 221), (85, 85, 0),
     (0, 85, 85), (85, 51, 0), (52, 86, 128), (0, 128, 0), (0, 0, 255), (51, 170, 221), (0, 255, 255), (85, 255, 170),
     (170, 255, 85), (255, 255, 0), (255, 170, 0)], np.uint8)  # fmt: skip
LIP_NECK = 10
_BELT, _FACE = 8, 11
_GARMENT_LIP = (5, 6, 9, 12)  # upper-clothes, dress, pants, skirt
GREY = (128, 128, 128)


def to_lip(labels: np.ndarray, boxes: list[tuple[int, int, int, int]] | None = None) -> np.ndarray:
    """ATR ids (HxW uint8) -> LIP / VITON-HD ids (HxW uint8), neck and belt resolved (module docstring)."""
    out = ATR_TO_LIP[labels]
    for x0, y0, x1, y1 in boxes if boxes is not None else person_boxes(labels):
        crop = labels[y0:y1, x0:x1]
        chin = chin_row(crop == _FACE)
        if chin is not None:
            below = np.zeros(crop.shape, bool)
            below[chin + 1 :] = crop[chin + 1 :] == _FACE
            out[y0:y1, x0:x1][below] = LIP_NECK
    belt = labels == _BELT
    if belt.any():
        garment = np.isin(out, _GARMENT_LIP) & ~belt
        if garment.any():
            # each belt pixel takes the class of the nearest garment pixel
            _, nearest = cv2.distanceTransformWithLabels((~garment).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
            ys, xs = np.nonzero(garment)
            ids = np.zeros(int(nearest.max()) + 1, np.uint8)
            ids[nearest[ys, xs]] = out[ys, xs]
            out[belt] = ids[nearest[belt]]
    return out


def save_palette_png(path: Path, ids: np.ndarray, palette: np.ndarray) -> None:
    """``ids`` (HxW uint8) as a palette ('P') PNG: ``np.array(Image.open(path))`` gives the ids back."""
    ids = np.ascontiguousarray(ids, dtype=np.uint8)
    img = Image.frombytes("P", (ids.shape[1], ids.shape[0]), ids.tobytes())
    flat = np.zeros((256, 3), np.uint8)
    flat[: len(palette)] = palette
    img.putpalette(flat.reshape(-1).tolist())
    img.save(path, format="PNG")


def _save_mask(path: Path, mask: np.ndarray) -> None:
    Image.fromarray(mask.astype(np.uint8) * 255).save(path, format="PNG")  # uint8 HxW: an 'L' image


def _save_jpeg(path: Path, image: np.ndarray) -> None:
    Image.fromarray(image).save(path, format="JPEG", quality=95)


def _copy_or_encode(src: Path, image: np.ndarray) -> Callable[[Path], None]:
    """The photo as a JPEG: the file itself when it is one and needs no rotation, else encoded (quality 95)."""
    try:
        with Image.open(src) as im:
            as_is = im.format == "JPEG" and im.getexif().get(0x0112, 1) == 1 and im.size == (image.shape[1], image.shape[0])
    except OSError:
        as_is = False
    if as_is:
        return lambda dest: shutil.copyfile(src, dest)
    return lambda dest: _save_jpeg(dest, image)


def layout_name(item: BatchInput) -> str:
    """``a/b/0001.jpg`` -> ``a_b_0001``: the file name stem of an input in a try-on layout."""
    return Path(item.rel).with_suffix("").as_posix().replace("/", "_")


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def write_layout(parser: Parser, item: BatchInput, job: Job, record: Record) -> Record:
    """Parse one photo and write its files of ``job.options.layout``; returns ``record`` with its outputs."""
    from ..video.io.reader import read_image
    from ..video.stream import RunningMode, VideoSession

    if item.kind != "image":
        raise InputError(f"{item.path}: the {job.options.layout} layout takes images only (this is a video)")
    image = read_image(item.path)
    stream = job.options.pipeline.stream_options(RunningMode.IMAGE, smoothing=None)
    with VideoSession(parser, stream) as session:
        result = session.parse_many([image])[0]
    labels = result.labels
    boxes = [tuple(int(v) for v in p.box) for p in result.people] or None
    name = layout_name(item)
    files: list[tuple[str, Callable[[Path], None]]] = []
    photo = _copy_or_encode(item.path, image)
    if job.options.layout == "viton-hd":
        lip = to_lip(labels, boxes)
        mask = garment_agnostic_mask(labels, "upper_body", boxes=boxes)
        parse_agnostic = lip.copy()
        parse_agnostic[np.isin(lip, (5, 6, 7, LIP_NECK))] = 0
        parse_agnostic[mask & np.isin(lip, (14, 15))] = 0
        grey = image.copy()
        grey[mask] = GREY
        files += [
            (f"image/{name}.jpg", photo),
            (f"image-parse-v3/{name}.png", lambda p: save_palette_png(p, lip, LIP_PALETTE)),
            (f"image-parse-agnostic-v3.2/{name}.png", lambda p: save_palette_png(p, parse_agnostic, LIP_PALETTE)),
            (f"agnostic-v3.2/{name}.jpg", lambda p: _save_jpeg(p, grey)),
            (f"agnostic-mask/{name}_mask.png", lambda p: _save_mask(p, mask)),
        ]
    else:
        first_image: list[Path] = []

        def image_writer(dest: Path) -> None:
            if first_image:
                _link_or_copy(first_image[0], dest)
            else:
                photo(dest)
                first_image.append(dest)

        for cat in job.options.categories:
            mask = garment_agnostic_mask(labels, cat, boxes=boxes)
            files += [
                (f"{cat}/images/{name}_0.jpg", image_writer),
                (f"{cat}/label_maps/{name}_4.png", lambda p: save_palette_png(p, labels, PALETTE)),
                (f"{cat}/masks/{name}_mask.png", lambda p, m=mask: _save_mask(p, m)),
            ]
    _write_all(job.out, files)
    record.outputs = [rel for rel, _ in files]
    record.frames = 1
    return record


def _write_all(out: Path, files: list[tuple[str, Callable[[Path], None]]]) -> None:
    """Write every file under a temporary name, then rename them all into place (none on a failure)."""
    pending: list[PendingOutput] = []
    try:
        for rel, write in files:
            final = out / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            p = PendingOutput(final)
            pending.append(p)
            write(p.tmp)
        for p in pending:
            p.commit()
    except BaseException:
        for p in pending:
            p.discard()
        raise
