"""Left/right limb consistency; it lives in :mod:`tryon_sdk.limbs` (used by images and streams alike)."""

from ..limbs.consistency import LimbConsistency, LimbOptions, LimbState

__all__ = ["LimbOptions", "LimbState", "LimbConsistency"]
