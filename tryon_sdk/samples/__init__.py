"""Two small real samples shipped with the package, for ``tryon-sdk demo`` and for trying the SDK.

* :data:`SAMPLE_PHOTO`: ``photo.jpg``, a 550x810 street-fashion photo (Clothing Co-Parsing photo 0004,
  Apache-2.0; credit in ``photo.CREDIT.md``).
* :data:`SAMPLE_CLIP`: ``squats.mp4``, 4 s (20 frames, 5 fps) of a woman doing squats, 360x640 H.264
  (an excerpt of tensorflow/tfjs-models' ``pose_squats.mp4``, Apache-2.0; credit in ``squats.CREDIT.md``).

Example:
    ```python
    from PIL import Image

    from tryon_sdk import Parser
    from tryon_sdk.samples import SAMPLE_PHOTO

    result = Parser.from_pretrained().parse(Image.open(SAMPLE_PHOTO))
    alpha = result.region("upper_body")                    # HxW float32 in [0, 1]
    ```
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLES_DIR", "SAMPLE_PHOTO", "SAMPLE_CLIP"]

#: The folder holding the samples, their credit files and the Apache-2.0 licence text.
SAMPLES_DIR: Path = Path(__file__).resolve().parent
#: A real photo (HxW 810x550, JPEG): Clothing Co-Parsing photo 0004, Apache-2.0.
SAMPLE_PHOTO: Path = SAMPLES_DIR / "photo.jpg"
#: A real 4 s clip (360x640, 5 fps, H.264): an excerpt of tfjs-models' pose_squats.mp4, Apache-2.0.
SAMPLE_CLIP: Path = SAMPLES_DIR / "squats.mp4"
