"""The predictor: engine + preprocessing + score grids, for whole images, crops and a coarse pass.

Data flows images -> :mod:`~tryon_sdk.preprocess` (letterbox on the engine's device) -> engine (logits)
-> optional flip TTA -> softmax -> each image's area cut out of the letterbox
(:class:`~tryon_sdk.resample.GridScores`, on the model's grid until someone asks for full size). It
knows nothing of people, sides or results: the people stage, the frame path and the parser sit above it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .config import ModelConfig
from .engines.gpu import PinnedUploader
from .engines.torch_engine import Engine
from .engines.tta import flip_tta_probabilities
from .geometry import Box
from .models.builders import output_stride
from .preprocess import Preprocess
from .resample import GridScores

__all__ = ["Predictor"]


class Predictor:
    """Class scores of ``HxWx3`` uint8 RGB images from an engine.

    Args:
        engine: the inference backend (:class:`~tryon_sdk.engines.torch_engine.Engine`).
        flip_tta: average each prediction with that of the mirrored image, left/right swapped back.
    """

    def __init__(self, engine: Engine, *, flip_tta: bool = False) -> None:
        self.engine = engine
        self.flip_tta = bool(flip_tta)
        self._upload = PinnedUploader(engine.device)  # pinned, asynchronous copies on CUDA; zero-copy on CPU

    @property
    def config(self) -> ModelConfig:
        return self.engine.config

    @property
    def device(self) -> torch.device:
        return self.engine.device

    @property
    def preprocess(self) -> Preprocess:
        """The input transform of the model (letterbox + normalisation, :mod:`tryon_sdk.preprocess`)."""
        return Preprocess.from_config(self.config)

    def grids(self, images: Sequence[np.ndarray], *, probabilities: bool = True) -> list[GridScores]:
        """Each image's ``C x h x w`` float32 scores on the model's grid (softmax probabilities, or logits
        when ``probabilities`` is false and flip TTA is off: same argmax, cheaper)."""
        if not images:
            return []
        with torch.inference_mode():
            tensors = [t.to(self.device) for t in self._upload(images)]
            return self._grids(tensors, probabilities)

    def region_grids(self, images: Sequence[np.ndarray], windows: Sequence[Sequence[Box]]) -> list[list[GridScores]]:
        """Probabilities of crops: ``windows[i]`` are pixel boxes of ``images[i]``; every crop is parsed at
        the model's input size, all in one batch. Per image, one grid per window."""
        crops: list[torch.Tensor] = []
        with torch.inference_mode():
            for image, wins in zip(images, windows):
                if not wins:
                    continue
                frame = self._upload([image])[0].to(self.device)
                crops += [frame[:, y0:y1, x0:x1] for x0, y0, x1, y1 in wins]
            scores = self._grids(crops, True) if crops else []
        out, k = [], 0
        for wins in windows:
            out.append(scores[k : k + len(wins)])
            k += len(wins)
        return out

    def coarse(self, images: Sequence[np.ndarray], scale: float) -> list[torch.Tensor]:
        """Probabilities of whole images from a cheap pass at ``scale`` of the input size (people detection).

        Letterboxed like :meth:`grids`, but with the same padding on the left and the right
        (``symmetric``, see :mod:`tryon_sdk.preprocess`), so a mirrored image gives exactly the mirrored map
        under flip TTA. Returns one ``C x h x w`` float32 tensor per image, for the image's area, at the
        pass's resolution (``h / H`` is about ``scale`` times the input's).
        """
        if not images:
            return []
        with torch.inference_mode():
            tensors = [t.to(self.device) for t in self._upload(images)]
            batch, boxes = self.preprocess(tensors, scale=scale, symmetric=True)
            return [Preprocess.crop(p, box) for p, box in zip(self._forward(batch), boxes)]

    def stride_px(self, shape: tuple[int, int]) -> float:
        """The network's output stride in the pixels of an image of ``shape`` (H, W)."""
        box = self.preprocess.plan(shape)
        return output_stride(self.config) * shape[0] / box.scaled[0]

    def _forward(self, batch: torch.Tensor, probabilities: bool = True) -> torch.Tensor:
        """Engine on a normalised batch, flip TTA included; probabilities (or logits when allowed)."""
        if self.flip_tta:
            return flip_tta_probabilities(self.engine, batch, self.config.flip_pairs)
        out = self.engine(batch)
        return out.softmax(1) if probabilities else out

    def _grids(self, tensors: list[torch.Tensor], probabilities: bool) -> list[GridScores]:
        batch, boxes = self.preprocess(tensors)
        probs = self._forward(batch, probabilities)
        return [GridScores(Preprocess.crop(p, box), box.source) for p, box in zip(probs, boxes)]
