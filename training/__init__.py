"""Training, evaluation and data tooling for tryon_sdk parsing models.

Not imported by the runtime SDK. Modules:

* :mod:`training.mapping` - source label sets -> the 18 ATR classes.
* :mod:`training.data` - ATR / iMaterialist / Clothing Co-Parsing loaders, mixing, caches.
* :mod:`training.augment` - joint image/mask augmentation (kornia on GPU, torch on CPU).
* :mod:`training.losses` - cross-entropy + Dice that respects ignore and absent classes.
* :mod:`training.metrics` - confusion-matrix pixel accuracy and IoU.
* :mod:`training.train` / :mod:`training.evaluate` - the command-line entry points.
"""

import tryon_sdk  # noqa: E402,F401  (sets the passive OpenMP wait policy before torch loads; see tryon_sdk.threads)
