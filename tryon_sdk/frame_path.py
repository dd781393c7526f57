"""The one frame path of IMAGE mode (``Parser.parse``, ``Parser.parse_batch`` and IMAGE sessions).

images -> people first (:mod:`~tryon_sdk.people_first`) or the whole frame (the predictor alone, people
from the labels) -> each person's facing -> left/right limb consistency (:mod:`~tryon_sdk.limbs`;
``limbs=None``: the network's sides) -> :class:`~tryon_sdk.result.ParseResult`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np
import torch

from .labels import argmax_labels, swap_lr
from .limbs import LimbConsistency, LimbOptions
from .people.detect import people_from_labels
from .people.person import PeopleOptions, Person, use_people_first
from .people.stage import FoundPerson, PeopleStage
from .people_first import head_observations, parse_people_first, person_facing
from .predictor import Predictor
from .result import ParseResult

__all__ = ["FrameRequest", "parse_frames"]


@dataclasses.dataclass(frozen=True)
class FrameRequest:
    """What the frame path is asked for.

    Attributes:
        roi: the caller's ``roi`` (``True``/``False``/:class:`PeopleOptions`), already resolved against the
            parser's default.
        people: the people-first options ``roi`` stands for (``None``: whole frames only).
        fallback: the options whose facing rules apply when ``people`` is ``None`` (the parser's own).
        limbs: limb consistency (each limb on the person's own side), or ``None``: the network's sides.
        mirrored: the frames are mirrored (selfie camera): sides are swapped back.
        return_probabilities: keep the ``C x H x W`` probabilities in each result.
    """

    roi: bool | PeopleOptions
    people: PeopleOptions | None
    fallback: PeopleOptions = dataclasses.field(default_factory=PeopleOptions)
    limbs: LimbOptions | None = None
    mirrored: bool = False
    return_probabilities: bool = False


_Parsed = tuple[torch.Tensor | None, np.ndarray, list[Person], list[FoundPerson | None]]


def parse_frames(
    predictor: Predictor,
    stage_for: Callable[[PeopleOptions], PeopleStage],
    images: list[np.ndarray],
    request: FrameRequest,
    boxes: Sequence[np.ndarray | None] | None = None,
    timestamps: Sequence[int | None] | None = None,
) -> list[ParseResult]:
    """Parse ``HxWx3`` uint8 RGB ``images`` as ``request`` says; ``boxes[i]`` (checked ``N x 4`` arrays)
    replace the people search for image ``i``; ``stage_for`` gives the people stage of some options."""
    options = request.people
    # the limb stage weighs its votes with the probabilities: labels do not depend on return_probabilities
    need_probs = request.return_probabilities or request.limbs is not None
    box_list = list(boxes) if boxes is not None else [None] * len(images)
    input_size = predictor.config.input_size
    first = [
        i for i, (im, b) in enumerate(zip(images, box_list))
        if options is not None and (b is not None or use_people_first(request.roi, im.shape[:2], input_size))
    ]
    done: dict[int, _Parsed] = {}
    if first:
        assert options is not None
        parsed = parse_people_first(
            predictor, stage_for(options), [images[i] for i in first], [box_list[i] for i in first],
            probabilities=need_probs,
        )
        done = {i: (p, lab, ppl, list(fs)) for i, (p, lab, ppl, fs) in zip(first, parsed)}
    whole = [i for i in range(len(images)) if i not in done]
    for i, grid in zip(whole, predictor.grids([images[i] for i in whole], probabilities=need_probs)):
        labels = grid.labels() if not need_probs else argmax_labels(grid.full())
        people = people_from_labels(labels, options)
        done[i] = (grid.full() if need_probs else None, labels, people, [None] * len(people))
    fixer = LimbConsistency(request.limbs, mirrored=request.mirrored) if request.limbs is not None else None
    facing_options = options or request.fallback
    out = []
    for i, im in enumerate(images):
        probs, labels, people, found = done[i]
        if i in whole:
            people = [person_facing(labels, p, None, facing_options) for p in people]
        if fixer is not None:
            heads = [h for h, _ in head_observations(labels, people, found, facing_options)]
            labels = np.asarray(fixer.step(labels, None, probabilities=probs, heads=heads)[0], dtype=np.uint8)
        elif request.mirrored:
            labels = swap_lr(labels)
        out.append(
            ParseResult.from_maps(
                labels,
                probs if request.return_probabilities else None,
                im,
                predictor.config.class_names,
                stride_px=predictor.stride_px(labels.shape),
                people=tuple(people),
                timestamp_ms=timestamps[i] if timestamps is not None else None,
            )
        )
    return out
