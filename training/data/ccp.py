"""Clothing Co-Parsing (Yang, Luo, Lin, CVPR 2014) in its original layout, mapped to ATR.

Layout: ``photos/NNNN.jpg``, ``annotations/pixel-level/NNNN.mat`` (variable
``groundtruth``, uint8 HxW, 0..58) and ``label_list.mat`` (``label_list``, 1x59
cell of names). Only the 1004 pixel-level images are used (ids 0001-1004 in
the full release, 0001-0804 in ``../shared``). Garments map by
:data:`training.mapping.CCP_TO_ATR`.

CCP has one ``skin`` label and shoes without sides; :func:`resolve_geometry`
derives ATR's Face, Left/Right-arm, Left/Right-leg and Left/Right-shoe from
geometry, and gives 255 (ignore) where it cannot decide. With the person's
rows ``y_top..y_bot`` (``H`` tall, ``W`` wide) the rules are:

1. *Neck line* ``y_neck``: 2nd percentile row of Upper-clothes/Dress pixels
   (fallback ``y_top + 0.18 H``). *Hip line* ``y_hip``: 3rd percentile row of
   Pants/Skirt (fallback: 97th percentile of Upper-clothes without a dress,
   else ``y_top + 0.5 H``). *Body centre* ``cx``: median column of person
   pixels between the two lines.
2. *Face*: of the skin components reaching above ``y_neck``, the one with the
   most pixels there, whose pixels are within 0.3 W of ``cx``; its pixels
   down to ``y_neck + 0.04 H`` are Face (so the neck counts as Face). The rest
   of it (chest, shoulders, arms of a strapless top) is split off and handled
   by rule 3.
3. Remaining skin components (< 20 px -> 255):
   * starting below ``y_hip - 0.03 H`` -> *leg*, unless most of its pixels
     lie beside (not under) the Pants/Skirt/Dress in their rows: a hand -> *arm*;
   * otherwise -> *arm*; arm pixels more than ``0.12 H`` below ``y_hip`` (an
     arm merged with a leg) are 255; an arm component centred within
     ``0.1 W`` of ``cx`` (chest, neck, midriff, crossed arms) is 255.
4. *Sides*: CCP people mostly face the camera, so image-left is the person's
   right. An arm takes the side holding >= 90 % of its pixels relative to
   ``cx`` (else 255). Legs and tights/stockings are split per pixel at the
   leg centre (median column of Pants/Skirt, else ``cx``) with a dead band of
   0.03 W -> 255. Shoes: with two or more comparable components the line is
   the midpoint of the two largest, else the leg centre; a component with
   < 90 % on one side -> 255, except a lone blob at least 1.3x wider than
   tall (both feet touching), which is split at its own centre with the same
   dead band (a single foot seen side-on that wide is split wrongly).
5. *Facing*: a face found by rule 2 means a front view (image-left = the
   person's right). With no face, the head (person pixels above the neck
   line) decides: if it is mostly Hair (>= 60 % of its pixels, >= 0.3 % of
   the person) with no skin in it, the person is seen from behind and every
   side is mirrored (the person's left limbs on the image's left). Otherwise
   the evidence is weak and every sided class (arms, legs, shoes) is 255.
   Among the 804 CCP photos every face-less one is a front view with the
   face hidden or unlabelled, so the rule gives no back view there; it is
   for data that has them.

Known failure cases: side and back-three-quarter views (sides flip without a
cue we can see), arms crossed in front of the body or hands on the hips
(partly 255, sometimes the wrong side), a hand touching the face (joins the
face component above the neck line), sitting or strongly walking poses
(legs cross the centre line), and long hair over the shoulders moving the neck
line (it is taken from the garment, not the hair, to limit this).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from tryon_sdk.errors import DataError
from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX

from ..mapping import CCP_TO_ATR, LEG_COVER, SHOE, SKIN, build_lut

__all__ = [
    "GEOMETRY_VERSION",
    "CCP_SUPPORTED_CLASSES",
    "find_ccp_root",
    "read_label_names",
    "ccp_ids",
    "load_ccp_raw",
    "resolve_geometry",
    "facing_from_head",
    "ccp_to_atr",
    "load_ccp_sample",
    "CCPDataset",
]

_C = CLASS_INDEX
FACE, L_ARM, R_ARM, L_LEG, R_LEG, L_SHOE, R_SHOE = (
    _C["Face"], _C["Left-arm"], _C["Right-arm"], _C["Left-leg"], _C["Right-leg"], _C["Left-shoe"], _C["Right-shoe"]
)
UPPER, DRESS, PANTS, SKIRT, HAIR = _C["Upper-clothes"], _C["Dress"], _C["Pants"], _C["Skirt"], _C["Hair"]

#: Bumped whenever :func:`resolve_geometry` changes, so caches are rebuilt.
#: 1: first release; 2: a lone wide shoe blob (feet touching) is split;
#: 3: back views (hair-only head) get mirrored sides instead of 255.
GEOMETRY_VERSION = 3

#: ATR classes CCP annotations can teach (all 18; sided ones through geometry).
CCP_SUPPORTED_CLASSES: tuple[int, ...] = tuple(range(18))

_SUBDIR = "clothing-co-parsing"


def find_ccp_root(root: str | os.PathLike | None = None) -> Path:
    """Locate the CCP folder: ``root``, ``$TRYON_SHARED_DATA/clothing-co-parsing`` or ``<repo>/../shared/data/clothing-co-parsing``.

    Raises :class:`DataError` listing the places tried.
    """
    tried: list[Path] = []
    if root is not None:
        tried.append(Path(root))
    env = os.environ.get("TRYON_SHARED_DATA")
    if env:
        tried += [Path(env) / _SUBDIR, Path(env) / "data" / _SUBDIR, Path(env)]
    tried.append(Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / _SUBDIR)
    for p in tried:
        if (p / "label_list.mat").is_file() and (p / "photos").is_dir():
            return p.resolve()
    raise DataError("Clothing Co-Parsing not found; tried: " + ", ".join(str(p) for p in tried))


def read_label_names(root: Path) -> list[str]:
    """The 59 CCP label names from ``label_list.mat`` (index 0 = ``null``)."""
    from scipy.io import loadmat

    try:
        cells = loadmat(str(root / "label_list.mat"))["label_list"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{root / 'label_list.mat'}: cannot read variable 'label_list': {exc}") from exc
    return [str(c[0]) if len(c) else "" for c in cells.reshape(-1)]


def ccp_ids(root: Path) -> list[str]:
    """Ids (``"0001"``...) that have both a photo and a pixel-level annotation, sorted."""
    ann = root / "annotations" / "pixel-level"
    if not ann.is_dir():
        raise DataError(f"{root} has no annotations/pixel-level folder (expected the original CCP layout)")
    ids = sorted(p.stem for p in ann.glob("*.mat") if (root / "photos" / f"{p.stem}.jpg").is_file())
    if not ids:
        raise DataError(f"{ann} holds no NNNN.mat with a matching photos/NNNN.jpg")
    return ids


def load_ccp_raw(root: Path, image_id: str) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 HxWx3 RGB, groundtruth uint8 HxW with CCP ids 0..58)``."""
    from scipy.io import loadmat

    img = cv2.imread(str(root / "photos" / f"{image_id}.jpg"), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"cannot decode {root / 'photos' / f'{image_id}.jpg'}")
    try:
        gt = loadmat(str(root / "annotations" / "pixel-level" / f"{image_id}.mat"))["groundtruth"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{image_id}.mat: cannot read variable 'groundtruth': {exc}") from exc
    gt = np.asarray(gt, dtype=np.uint8)
    if gt.shape != img.shape[:2]:
        raise DataError(f"{image_id}: mask {gt.shape} and photo {img.shape[:2]} differ in size")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB), gt


def _pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q))


@dataclass(frozen=True)
class _Frame:
    y_top: int
    height: int
    width: int
    y_neck: float
    y_hip: float
    cx: float
    leg_cx: float


def _frame(coarse: np.ndarray, person: np.ndarray) -> _Frame | None:
    ys, xs = np.nonzero(person)
    if ys.size == 0:
        return None
    y_top, y_bot = int(ys.min()), int(ys.max())
    height = y_bot - y_top + 1
    width = int(xs.max() - xs.min() + 1)
    min_px = max(50, int(0.002 * ys.size))
    upper_y = np.nonzero((coarse == UPPER) | (coarse == DRESS))[0]
    y_neck = _pct(upper_y, 2) if upper_y.size >= min_px else y_top + 0.18 * height
    lower_y, lower_x = np.nonzero((coarse == PANTS) | (coarse == SKIRT))
    if lower_y.size >= min_px:
        y_hip = _pct(lower_y, 3)
    else:
        top_y = np.nonzero(coarse == UPPER)[0]
        has_dress = np.count_nonzero(coarse == DRESS) >= min_px
        y_hip = _pct(top_y, 97) if top_y.size >= min_px and not has_dress else y_top + 0.5 * height
    y_hip = max(y_hip, y_neck + 0.1 * height)
    band = (ys >= y_neck) & (ys <= y_hip)
    cx = float(np.median(xs[band])) if band.any() else float(np.median(xs))
    leg_cx = float(np.median(lower_x)) if lower_y.size >= min_px else cx
    return _Frame(y_top, height, width, float(y_neck), float(y_hip), cx, leg_cx)


def _side_of(xs: np.ndarray, line: float, left_id: int, right_id: int, frac: float = 0.9) -> int:
    """Person-side class of a blob from its columns (image-left = ``right_id``: pass them swapped for a back view)."""
    on_image_left = np.count_nonzero(xs < line) / xs.size
    if on_image_left >= frac:
        return right_id
    if on_image_left <= 1 - frac:
        return left_id
    return IGNORE_INDEX


def facing_from_head(coarse: np.ndarray, person: np.ndarray, y_neck: float, face_found: bool) -> str | None:
    """``"front"``, ``"back"`` or ``None`` (weak evidence) from the head above ``y_neck`` (rule 5)."""
    if face_found:
        return "front"
    head = person[: max(int(y_neck), 0)]
    if not head.any():
        return None
    head_px = int(np.count_nonzero(head))
    hair_px = int(np.count_nonzero(coarse[: head.shape[0]] == HAIR))
    skin_px = int(np.count_nonzero(coarse[: head.shape[0]] == SKIN))
    if skin_px == 0 and hair_px >= 0.6 * head_px and hair_px >= 0.003 * np.count_nonzero(person):
        return "back"
    return None


def resolve_geometry(coarse: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Resolve SKIN / LEG_COVER / SHOE tokens of a coarse map into ATR ids or 255.

    ``coarse``: int16 HxW of ATR ids, 255 and tokens; ``person``: bool HxW
    (every annotated non-``null`` pixel). Returns uint8 HxW.
    """
    out = np.where(coarse >= 0, coarse, IGNORE_INDEX).astype(np.uint8)
    skin = coarse == SKIN
    cover = coarse == LEG_COVER
    shoe = coarse == SHOE
    fr = _frame(coarse, person)
    if fr is None or not (skin.any() or cover.any() or shoe.any()):
        return out
    H, W = fr.height, fr.width

    # Face: the skin blob with most pixels above the neck line, near the centre.
    face_found = False
    if skin.any():
        n, lab = cv2.connectedComponents(skin.astype(np.uint8), connectivity=8)
        above = lab[: max(int(fr.y_neck), 0)]
        if n > 1 and above.size:
            counts = np.bincount(above.reshape(-1), minlength=n)
            counts[0] = 0
            for cand in np.argsort(counts)[::-1]:
                if counts[cand] < 20:
                    break
                ays, axs = np.nonzero(above == cand)
                if abs(float(np.mean(axs)) - fr.cx) <= 0.3 * W:
                    face = lab == cand
                    face[int(fr.y_neck + 0.04 * H) + 1 :] = False
                    out[face] = FACE
                    skin &= ~face
                    face_found = True
                    break

    facing = facing_from_head(coarse, person, fr.y_neck, face_found)
    sided = facing is not None
    # image-left is the person's right from the front, the person's left from behind
    l_arm, r_arm, l_leg, r_leg, l_shoe, r_shoe = (
        (L_ARM, R_ARM, L_LEG, R_LEG, L_SHOE, R_SHOE) if facing != "back" else (R_ARM, L_ARM, R_LEG, L_LEG, R_SHOE, L_SHOE)
    )
    garment = (coarse == PANTS) | (coarse == SKIRT) | (coarse == DRESS)
    has_garment = garment.any(1)
    g_first = np.argmax(garment, axis=1)
    g_last = garment.shape[1] - 1 - np.argmax(garment[:, ::-1], axis=1)
    if skin.any():
        n, lab, stats, _ = cv2.connectedComponentsWithStats(skin.astype(np.uint8), connectivity=8)
        for i in range(1, n):
            comp = lab == i
            if stats[i, cv2.CC_STAT_AREA] < 20:
                out[comp] = IGNORE_INDEX
                continue
            ys, xs = np.nonzero(comp)
            top = int(ys.min())
            kind = "leg" if top >= fr.y_hip - 0.03 * H else "arm"
            if kind == "leg" and has_garment[ys].mean() > 0.5:
                beside = (xs < g_first[ys]) | (xs > g_last[ys])
                if beside.mean() > 0.5:
                    kind = "arm"  # a hand beside the trousers/skirt/dress, not under it
            if kind == "leg":
                cover |= comp
                continue
            if abs(float(xs.mean()) - fr.cx) < 0.1 * W:
                out[comp] = IGNORE_INDEX  # chest, midriff, crossed arms
                continue
            side = _side_of(xs, fr.cx, l_arm, r_arm) if sided else IGNORE_INDEX
            out[comp] = side
            out[comp & (np.arange(out.shape[0])[:, None] > fr.y_hip + 0.12 * H)] = IGNORE_INDEX

    if cover.any():
        xs_grid = np.arange(out.shape[1])[None, :]
        band = 0.03 * W
        out[cover] = IGNORE_INDEX
        if sided:
            out[cover & (xs_grid < fr.leg_cx - band)] = r_leg
            out[cover & (xs_grid > fr.leg_cx + band)] = l_leg

    if shoe.any():
        n, lab, stats, cents = cv2.connectedComponentsWithStats(shoe.astype(np.uint8), connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA]
        order = np.argsort(areas)[::-1] + 1
        line = fr.leg_cx
        if n > 2 and areas[order[1] - 1] >= 0.25 * areas[order[0] - 1]:
            line = float(cents[order[0], 0] + cents[order[1], 0]) / 2
        single = n == 2 or areas[order[1] - 1] < 0.25 * areas[order[0] - 1]
        for i in range(1, n):
            comp = lab == i
            if not sided or stats[i, cv2.CC_STAT_AREA] < 20:
                out[comp] = IGNORE_INDEX
                continue
            xs = np.nonzero(comp)[1]
            side = _side_of(xs, line, l_shoe, r_shoe)
            w_i, h_i = stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]
            if side == IGNORE_INDEX and single and i == order[0] and w_i >= 1.3 * h_i:
                # both feet in one wide blob: split at its own centre with a dead band
                mid, band = float(xs.mean()), 0.03 * W
                xs_grid = np.arange(out.shape[1])[None, :]
                out[comp] = IGNORE_INDEX
                out[comp & (xs_grid < mid - band)] = r_shoe
                out[comp & (xs_grid > mid + band)] = l_shoe
            else:
                out[comp] = side
    return out


_LUT_CACHE: dict[tuple[str, ...], np.ndarray] = {}


def ccp_to_atr(gt: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Map a CCP ``groundtruth`` (uint8 HxW, 0..58) to ATR ids / 255 (uint8 HxW)."""
    key = tuple(names)
    if key not in _LUT_CACHE:
        _LUT_CACHE[key] = build_lut(names, CCP_TO_ATR)
    lut = _LUT_CACHE[key]
    if gt.max(initial=0) >= lut.size:
        raise DataError(f"CCP mask value {int(gt.max())} is outside the {lut.size} labels of label_list.mat")
    coarse = lut[gt]
    return resolve_geometry(coarse, gt != 0)


def load_ccp_sample(root: Path, image_id: str, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 HxWx3 RGB, mask uint8 HxW ATR ids / 255)`` for one CCP id."""
    img, gt = load_ccp_raw(root, image_id)
    return img, ccp_to_atr(gt, names)


class CCPDataset:
    """Map-style CCP dataset in ATR labels at full resolution.

    ``ids`` restricts to a subset (e.g. a split); items are
    ``(image uint8 HxWx3, mask uint8 HxW)``.
    """

    def __init__(self, root: str | os.PathLike | None = None, ids: Sequence[str] | None = None) -> None:
        self.root = find_ccp_root(root)
        self.names = read_label_names(self.root)
        all_ids = ccp_ids(self.root)
        if ids is not None:
            missing = sorted(set(ids) - set(all_ids))
            if missing:
                raise DataError(f"CCP ids not found in {self.root}: {', '.join(missing[:5])}")
        self.ids = list(ids) if ids is not None else all_ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return load_ccp_sample(self.root, self.ids[i], self.names)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self[i]
