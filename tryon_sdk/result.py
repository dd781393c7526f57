"""``ParseResult``: one parsed image (labels, optional probabilities, the people) and the regions a
compositor asks of it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import ConfigError
from .people.person import Person
from .regions import Box, agnostic_mask, region_alpha, region_box
from .visualize import colorize, overlay

__all__ = ["ParseResult"]


@dataclass
class ParseResult:
    """One parsed image.

    Attributes:
        labels: ``HxW`` uint8 ATR ids at the input's own resolution.
        probabilities: ``CxHxW`` float32 class probabilities, only when asked for.
        image: the ``HxWx3`` uint8 RGB image that was parsed (guides edge refinement).
        class_names: names of the label ids.
        timestamp_ms: the frame's timestamp in video and stream modes.
        stride_px: the network's output stride in this image's pixels (sets the edge-refinement radius).
        people: the people found (:class:`~tryon_sdk.people.person.Person`: box, mask area, facing, track id),
            largest first.

    Example:
        ```python
        from tryon_sdk import Parser
        from tryon_sdk.video.io.sample import sample_frames

        image, _ = next(sample_frames(1))              # HxWx3 uint8 RGB
        result = Parser.from_pretrained().parse(image)
        result.labels.shape, result.labels.dtype       # (H, W), uint8
        alpha = result.region("upper_body")            # HxW float32 in [0, 1]
        overlay = result.overlay()                     # HxWx3 uint8
        ```
    """

    labels: np.ndarray
    probabilities: np.ndarray | None = None
    image: np.ndarray | None = field(default=None, repr=False)
    class_names: tuple[str, ...] = ()
    timestamp_ms: int | None = None
    stride_px: float | None = None
    people: tuple[Person, ...] = ()

    @classmethod
    def from_maps(
        cls,
        labels: np.ndarray,
        probabilities: torch.Tensor | None,
        image: np.ndarray | None,
        class_names: tuple[str, ...],
        *,
        timestamp_ms: int | None = None,
        stride_px: float | None = None,
        people: tuple[Person, ...] = (),
        copy: bool = False,
    ) -> "ParseResult":
        """A result from the engine's maps: ``probabilities`` (``CxHxW`` tensor, ``None`` to keep none) as float32 numpy.

        ``copy``: give the result its own array even when the tensor is already float32 on the CPU (the
        caller keeps using the tensor, e.g. as a smoother's state).
        """
        p = None if probabilities is None else probabilities.float().cpu().numpy()
        if copy and p is not None:
            p = p.copy()
        return cls(labels, p, image, class_names, timestamp_ms, stride_px, people)

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape  # type: ignore[return-value]

    def region(self, name: str, *, feather: float = 0.0, refine: bool = True, radius: int | None = None) -> np.ndarray:
        """``HxW`` float32 alpha in [0, 1] of a named region (see :data:`tryon_sdk.regions.REGIONS`).

        Edges are refined against the image by default; ``feather`` softens them by that many pixels.
        """
        return region_alpha(
            name,
            labels=self.labels,
            probabilities=self.probabilities,
            image=self.image,
            refine=refine,
            feather=feather,
            radius=radius,
            stride_px=self.stride_px,
        )

    def box(self, name: str, threshold: float = 0.5) -> Box | None:
        """Bounding box ``(x0, y0, x1, y1)`` of a region, or ``None`` when absent."""
        return region_box(self.region(name, refine=False), threshold)

    def agnostic_mask(self, category: str = "upper_body", *, dilation: int | None = None) -> np.ndarray:
        """``HxW`` bool try-on inpainting mask for ``upper_body``, ``lower_body`` or ``dresses``."""
        return agnostic_mask(self.labels, category, dilation=dilation)

    def colorize(self) -> np.ndarray:
        """``HxWx3`` uint8 colour-coded labels."""
        return colorize(self.labels)

    def overlay(self, alpha: float = 0.5) -> np.ndarray:
        """``HxWx3`` uint8 image with class colours blended in."""
        if self.image is None:
            raise ConfigError("this result keeps no image; use colorize() or tryon_sdk.visualize.overlay(image, labels)")
        return overlay(self.image, self.labels, alpha=alpha)
