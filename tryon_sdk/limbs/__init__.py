"""Left/right limb consistency: each limb on the person's own side (:mod:`~tryon_sdk.limbs.consistency`)."""

from .consistency import LimbConsistency, LimbOptions, LimbState

__all__ = ["LimbConsistency", "LimbOptions", "LimbState"]
