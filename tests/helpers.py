"""Small checks and file helpers shared by several test files.

Synthetic people live in :mod:`synthetic`, generated videos in :mod:`videos`; this module holds the rest:
limb accuracies, output-folder listings, and the image folders the batch tests read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from videos import synthetic_frame

#: ATR ids of the classes with a left and a right side: shoes, legs, arms
LIMBS = [9, 10, 12, 13, 14, 15]


# ---------------------------------------------------------------------------------------------- accuracies
def limb_accuracy(labels: np.ndarray, truth: np.ndarray) -> float:
    """One label map: the share of the true limb pixels labelled with their true class."""
    limb = np.isin(truth, LIMBS)
    return float(np.mean(labels[limb] == truth[limb]))


def limb_accuracy_per_frame(labels, truth) -> np.ndarray:
    """A clip (sequences of label maps): :func:`limb_accuracy` of each frame, as an array."""
    return np.array([limb_accuracy(lab, t) for lab, t in zip(labels, truth)])


# -------------------------------------------------------------------------------------------- output folders
def file_names(folder: Path) -> set[str]:
    """The names of the entries (files and folders) in ``folder``; empty when it does not exist."""
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def file_contents(folder: Path) -> dict[str, bytes]:
    """The files directly in ``folder``, name -> bytes (sub-folders left out), to compare byte for byte."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# --------------------------------------------------------------------------------------------- batch inputs
def write_images(folder: Path, n: int, size: tuple[int, int] = (64, 48), start: int = 0) -> list[Path]:
    """``n`` PNGs ``img{start:03d}.png``... of :func:`videos.synthetic_frame` (``size`` is width, height)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        p = folder / f"img{i:03d}.png"
        Image.fromarray(synthetic_frame(i, *size)).save(p)
        paths.append(p)
    return paths


def corrupt(path: Path) -> Path:
    """Write a file that starts like a JPEG and is not one."""
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not a whole jpeg")
    return path
