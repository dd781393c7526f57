"""Source label sets -> the 18 ATR classes, as one table per source.

Each table maps a source label to an ATR class id, to :data:`IGNORE` (255:
no supervision), or to a *token* that a loader resolves from context:

* :data:`SKIN` - CCP's single ``skin`` label: Face / arms / legs and their side
  are derived from geometry in :mod:`training.data.ccp`.
* :data:`LEG_COVER` - tights/stockings: a leg, side from geometry.
* :data:`SHOE` - a shoe without a side: Left-/Right-shoe only where the side can
  be decided, else 255.
* :data:`PART` - a Fashionpedia garment part (sleeve, pocket, ...): the class of
  the garment it is attached to, else 255 (see :mod:`training.data.imaterialist`).

Pixels a source does not label (iMaterialist has no skin, hair or face and its
background may hide unlabelled items) become 255, never Background.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from tryon_sdk.errors import DataError
from tryon_sdk.labels import CLASS_INDEX, IGNORE_INDEX

__all__ = [
    "IGNORE",
    "SKIN",
    "LEG_COVER",
    "SHOE",
    "PART",
    "TOKENS",
    "CCP_TO_ATR",
    "FASHIONPEDIA_CATEGORIES",
    "FASHIONPEDIA_TO_ATR",
    "IMAT_DENSE_TO_ATR",
    "build_lut",
]

IGNORE = IGNORE_INDEX
SKIN = -1
LEG_COVER = -2
SHOE = -3
PART = -4
TOKENS = {SKIN: "SKIN", LEG_COVER: "LEG_COVER", SHOE: "SHOE", PART: "PART"}

_C = CLASS_INDEX
BG, HAT, HAIR, SUNGLASSES = _C["Background"], _C["Hat"], _C["Hair"], _C["Sunglasses"]
UPPER, SKIRT, PANTS, DRESS, BELT = _C["Upper-clothes"], _C["Skirt"], _C["Pants"], _C["Dress"], _C["Belt"]
BAG, SCARF = _C["Bag"], _C["Scarf"]

#: Clothing Co-Parsing ``label_list.mat`` name -> ATR id or token (all 59 names).
#: Jewellery, gloves, socks, underwear and one-piece rompers/swimwear have no
#: ATR class that is right for them (ATR labels the body part beneath or would
#: split the garment), so they are ignored rather than guessed.
CCP_TO_ATR: dict[str, int] = {
    "null": BG,
    "accessories": IGNORE,
    "bag": BAG,
    "belt": BELT,
    "blazer": UPPER,
    "blouse": UPPER,
    "bodysuit": UPPER,
    "boots": SHOE,
    "bra": UPPER,
    "bracelet": IGNORE,
    "cape": UPPER,
    "cardigan": UPPER,
    "clogs": SHOE,
    "coat": UPPER,
    "dress": DRESS,
    "earrings": IGNORE,
    "flats": SHOE,
    "glasses": SUNGLASSES,
    "gloves": IGNORE,
    "hair": HAIR,
    "hat": HAT,
    "heels": SHOE,
    "hoodie": UPPER,
    "intimate": IGNORE,
    "jacket": UPPER,
    "jeans": PANTS,
    "jumper": UPPER,
    "leggings": PANTS,
    "loafers": SHOE,
    "necklace": IGNORE,
    "panties": IGNORE,
    "pants": PANTS,
    "pumps": SHOE,
    "purse": BAG,
    "ring": IGNORE,
    "romper": IGNORE,
    "sandals": SHOE,
    "scarf": SCARF,
    "shirt": UPPER,
    "shoes": SHOE,
    "shorts": PANTS,
    "skin": SKIN,
    "skirt": SKIRT,
    "sneakers": SHOE,
    "socks": IGNORE,
    "stockings": LEG_COVER,
    "suit": UPPER,
    "sunglasses": SUNGLASSES,
    "sweater": UPPER,
    "sweatshirt": UPPER,
    "swimwear": IGNORE,
    "t-shirt": UPPER,
    "tie": UPPER,
    "tights": LEG_COVER,
    "top": UPPER,
    "vest": UPPER,
    "wallet": BAG,
    "watch": IGNORE,
    "wedges": SHOE,
}

#: Fashionpedia / iMaterialist-2020 categories, ``ClassId`` 0..45 in this order.
FASHIONPEDIA_CATEGORIES: tuple[str, ...] = (
    "shirt, blouse", "top, t-shirt, sweatshirt", "sweater", "cardigan", "jacket", "vest", "pants",
    "shorts", "skirt", "coat", "dress", "jumpsuit", "cape", "glasses", "hat",
    "headband, head covering, hair accessory", "tie", "glove", "watch", "belt", "leg warmer",
    "tights, stockings", "sock", "shoe", "bag, wallet", "scarf", "umbrella", "hood", "collar",
    "lapel", "epaulette", "sleeve", "pocket", "neckline", "buckle", "zipper", "applique", "bead",
    "bow", "flower", "fringe", "ribbon", "rivet", "ruffle", "sequin", "tassel",
)

#: Fashionpedia category name -> ATR id or token. Jumpsuits span Upper-clothes
#: and Pants with no boundary in the mask, tights/socks/leg warmers and gloves
#: cover body parts whose side is unknown, so they are ignored.
FASHIONPEDIA_TO_ATR: dict[str, int] = {
    "shirt, blouse": UPPER,
    "top, t-shirt, sweatshirt": UPPER,
    "sweater": UPPER,
    "cardigan": UPPER,
    "jacket": UPPER,
    "vest": UPPER,
    "pants": PANTS,
    "shorts": PANTS,
    "skirt": SKIRT,
    "coat": UPPER,
    "dress": DRESS,
    "jumpsuit": IGNORE,
    "cape": UPPER,
    "glasses": SUNGLASSES,
    "hat": HAT,
    "headband, head covering, hair accessory": HAT,
    "tie": UPPER,
    "glove": IGNORE,
    "watch": IGNORE,
    "belt": BELT,
    "leg warmer": IGNORE,
    "tights, stockings": IGNORE,
    "sock": IGNORE,
    "shoe": SHOE,
    "bag, wallet": BAG,
    "scarf": SCARF,
    "umbrella": IGNORE,
    "hood": PART,
    "collar": PART,
    "lapel": PART,
    "epaulette": PART,
    "sleeve": PART,
    "pocket": PART,
    "neckline": PART,
    "buckle": PART,
    "zipper": PART,
    "applique": PART,
    "bead": PART,
    "bow": PART,
    "flower": PART,
    "fringe": PART,
    "ribbon": PART,
    "rivet": PART,
    "ruffle": PART,
    "sequin": PART,
    "tassel": PART,
}

#: Dense Hub form (``sayeed99/fashion_segmentation``): label 0 = unlabelled ->
#: 255, label ``k + 1`` = Fashionpedia category ``k``.
IMAT_DENSE_TO_ATR: tuple[int, ...] = (IGNORE,) + tuple(FASHIONPEDIA_TO_ATR[n] for n in FASHIONPEDIA_CATEGORIES)


def build_lut(names: Sequence[str], table: Mapping[str, int]) -> np.ndarray:
    """Lookup table (int16, ``len(names)``) from source label index to ATR id or token.

    Raises :class:`DataError` when a source name is not in ``table``.
    """
    lut = np.empty(len(names), dtype=np.int16)
    for i, name in enumerate(names):
        key = name.strip().lower()
        if key not in table:
            raise DataError(f"source label {name!r} (index {i}) has no ATR mapping; known: {', '.join(sorted(table))}")
        lut[i] = table[key]
    return lut
