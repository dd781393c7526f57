"""Deterministic inputs on which the TFLite originals of the bundled people models were run
(``tests/data/mediapipe_tflite_reference.npz``, written by ``ai-edge-litert`` at conversion time)."""

from __future__ import annotations

import numpy as np


def reference_inputs(shape: tuple[int, ...], name: str) -> np.ndarray:
    """A smooth drawn pattern with a bright blob (a face-like disc) plus seeded noise, in the model's range."""
    _, h, w, _ = shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    disc = ((xx - 0.5) ** 2 + (yy - 0.45) ** 2 < 0.06).astype(np.float64)
    x = np.stack([0.5 + 0.4 * np.sin(7 * xx) * disc, 0.5 + 0.3 * np.cos(5 * yy), 0.3 + 0.5 * disc], -1)
    x = x + np.random.default_rng(sum(map(ord, name))).normal(0, 0.05, x.shape)
    x = np.clip(x, 0, 1)[None].astype(np.float32)
    return x * 2 - 1 if name.startswith("face") else x
