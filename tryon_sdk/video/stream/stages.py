"""The per-frame stages of a streaming session and their state (used by :class:`~tryon_sdk.video.stream.session.VideoSession`).

People and engine (people first with tracked people, or the whole frame) -> temporal smoothing of the
probabilities -> argmax -> left/right limb consistency (facing from the face detector and the head, with
hysteresis) -> each person's facing -> :class:`~tryon_sdk.result.ParseResult`. IMAGE mode keeps no
state between frames and runs the parser's own frame path (:meth:`FrameStages.image_results`), so an
IMAGE session and ``Parser.parse`` give the same labels for the same options.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import torch

from ...labels import swap_lr
from ...limbs import LimbConsistency
from ...parser import Parser
from ...people.detect import people_from_labels
from ...people.facing import FacingFilter
from ...people.person import PeopleOptions, Person, coerce_options, use_people_first
from ...people.stage import FoundPerson
from ...people.tracker import PeopleTracker
from ...people_first import head_observations, parse_people_first, parse_tracked
from ...resample import GridScores
from ...result import ParseResult
from ..temporal.smoothing import TemporalSmoother
from .options import RunningMode, StreamOptions

__all__ = ["FrameStages", "FramePeople"]

#: A frame's people and, per person, what the people stage found (``None`` for people from labels).
FramePeople = tuple[list[Person], list[FoundPerson | None]]



def _temporal_stages(options: StreamOptions) -> tuple[TemporalSmoother | None, LimbConsistency | None]:
    """Build the smoother and limb fixer the options ask for (``None`` when off)."""
    smoother = TemporalSmoother(options.smoothing) if options.smoothing is not None else None
    fixer = None
    if options.limb_consistency is not None:
        fixer = LimbConsistency(options.limb_consistency, mirrored=options.mirrored)
    return smoother, fixer


class FrameStages:
    """The stages of one stream and their state; the owner (a session) calls them from one thread,
    except :meth:`predict`, whose state (the tracked people) only it touches."""

    def __init__(self, parser: Parser, options: StreamOptions) -> None:
        self.parser, self.options = parser, options
        self.stateful = options.running_mode is not RunningMode.IMAGE
        self._smoother, self._fixer = _temporal_stages(options)
        self._smooth_state: Any = None
        self._limb_state: Any = None
        self._roi = parser.default_roi if options.roi is None else options.roi
        self._people_options = coerce_options(self._roi, parser.people_options)
        self._tracker = PeopleTracker(self._people_options) if self._people_options is not None else None
        self._people_state: Any = None
        self._facing_filter = FacingFilter((self._people_options or PeopleOptions()).facing)
        self._facing_state: Any = None
        self._searches = 0
        self._stride_cache: dict[tuple[int, int], float] = {}

    @property
    def people_searches(self) -> int:
        """The engine's coarse people passes so far (the person model runs on every frame)."""
        return self._searches + (self._people_state.coarse_passes if self._people_state is not None else 0)

    def image_results(self, images: list[np.ndarray], timestamps: list[int | None]) -> list[ParseResult]:
        """IMAGE mode: the parser's own frame path (``Parser.parse`` with this session's options)."""
        opt = self.options
        input_size = self.parser.config.input_size
        self._searches += sum(
            1 for im in images if self._people_options is not None and use_people_first(self._roi, im.shape[:2], input_size)
        )
        request = self.parser.frame_request(
            opt.roi, opt.limb_consistency, mirrored=opt.mirrored, return_probabilities=opt.return_probabilities
        )
        return self.parser.parse_frames(images, request, None, timestamps)

    def reset(self) -> None:
        """Forget the temporal state (a new shot or stream)."""
        self._smooth_state = None
        self._limb_state = None
        if self._people_state is not None:
            self._searches += self._people_state.coarse_passes
        self._people_state = None
        self._facing_state = None

    def clear(self) -> None:
        """Drop the temporal state's arrays (the session is closed)."""
        self._smooth_state = self._limb_state = None
        self._facing_state = None

    def predict(self, images: Sequence[np.ndarray]) -> tuple[list[GridScores], list[FramePeople | None]]:
        """Engine stage: probabilities per frame (on the model's grid for a whole frame; people first, on the
        tracker's grid over the frame in a stream, pasted at the frame's size in an IMAGE session) and the
        people found (see :meth:`VideoSession.predict`)."""
        roi, opts = self._roi, self._people_options
        input_size = self.parser.config.input_size
        first = [
            i for i, im in enumerate(images) if opts is not None and use_people_first(roi, im.shape[:2], input_size)
        ]
        probs: list[Any] = [None] * len(images)
        people: list[FramePeople | None] = [None] * len(images)
        if first:
            assert opts is not None
            stage = self.parser.people_stage(opts)
            if not self.stateful:
                found = parse_people_first(self.parser.predictor, stage, [images[i] for i in first])
                self._searches += len(first)
                for i, (full, _, ppl, fs) in zip(first, found):
                    assert full is not None  # probabilities were asked for
                    probs[i], people[i] = GridScores(full, images[i].shape[:2]), (ppl, list(fs))
            else:
                assert self._tracker is not None
                for i in first:
                    probs[i], ppl, fs, self._people_state = parse_tracked(
                        self.parser.predictor, stage, self._tracker, images[i], self._people_state
                    )
                    people[i] = (ppl, list(fs))
        whole = [i for i in range(len(images)) if probs[i] is None]
        if whole:
            for i, grid in zip(whole, self.parser.predict_grids([images[i] for i in whole])):
                probs[i] = grid
        return probs, people

    def process(
        self,
        images: list[np.ndarray],
        timestamps: list[int | None],
        probs_list: Sequence[GridScores | torch.Tensor],
        people_list: Sequence[FramePeople | Sequence[Person] | None] | None = None,
    ) -> list[ParseResult]:
        """The stages after the engine, frame by frame: smoothing, argmax, limb consistency, the people's facing.

        ``probs_list``: per frame its probabilities on a grid (:meth:`predict`) or at the frame's size
        (``C x H x W``). Smoothing runs on the grid; labels are taken at the frame's size from it
        (:meth:`GridScores.labels`), and the limb stage weighs its votes with it."""
        stateful = self.stateful
        names = self.parser.config.class_names
        people_list = people_list if people_list is not None else [None] * len(images)
        results = []
        for image, scores, ts, found in zip(images, probs_list, timestamps, people_list):
            grid = scores if isinstance(scores, GridScores) else GridScores(scores, image.shape[:2])
            smooth_state = self._smooth_state if stateful else None
            limb_state = self._limb_state if stateful else None
            if self._smoother is not None:
                # the engine stage made these probabilities for this frame alone: smooth them in place
                p = grid.scores
                in_place = p.device.type == "cpu" and p.dtype == torch.float32 and p.is_contiguous()
                smoothed, smooth_state = self._smoother.on_grid(grid.scale).step(
                    p, smooth_state, timestamp_ms=ts, frame=image, out=p if in_place else None
                )
                grid = GridScores(torch.as_tensor(smoothed), grid.size)  # a tensor in, the same tensor out
            labels = grid.labels()
            ppl, fps = _split(found)
            if ppl is None:
                ppl = people_from_labels(labels, self._people_options)
                fps = [None] * len(ppl)
            heads = head_observations(labels, ppl, fps, self._people_options or PeopleOptions())
            if self._fixer is not None:
                fixed, limb_state = self._fixer.step(labels, limb_state, probabilities=grid, heads=[h for h, _ in heads])
                labels = np.asarray(fixed, dtype=np.uint8)
            elif self.options.mirrored:  # the limb stage handles this itself when it runs
                labels = swap_lr(labels)
            people = self._people(ppl, heads, limb_state, stateful)
            if stateful:
                self._smooth_state, self._limb_state = smooth_state, limb_state
            probs = grid.full() if self.options.return_probabilities else None
            results.append(
                ParseResult.from_maps(
                    labels,
                    probs,
                    image,
                    names,
                    timestamp_ms=ts,
                    people=people,
                    # the smoother remembers this very tensor
                    copy=self._smoother is not None and stateful and probs is grid.scores,
                    stride_px=self._stride_px(labels.shape),
                )
            )
        return results

    def _people(
        self, people: Sequence[Person], heads: Sequence[tuple[Any, float]], limb_state: Any, stateful: bool
    ) -> tuple[Person, ...]:
        """The frame's people with their facing: the limb stage's when it ran (hysteresis per person), else
        this frame's observations with hysteresis per track."""
        if not people:
            return ()
        conf = [c if h.observation is not None else 0.0 for h, c in heads]
        if limb_state is not None:
            assert self._fixer is not None  # a limb state comes only from the limb stage
            flip = self._fixer.options.flip_frames
            return tuple(
                dataclasses.replace(p, facing=limb_state.facing_in(p.box, flip), facing_confidence=c)
                for p, c in zip(people, conf)
            )
        keys = [p.track_id if p.track_id is not None else -k - 1 for k, p in enumerate(people)]
        observations = {key: h.observation for key, (h, _) in zip(keys, heads)}
        facing, state = self._facing_filter.step_observations(observations, self._facing_state if stateful else None)
        if stateful:
            self._facing_state = state
        return tuple(
            dataclasses.replace(p, facing=facing[key], facing_confidence=c) for key, p, c in zip(keys, people, conf)
        )

    def _stride_px(self, shape: tuple[int, int]) -> float:
        """ParseResult.stride_px (edge-refinement radius), as Parser.parse sets it; cached per frame size."""
        if shape not in self._stride_cache:
            self._stride_cache[shape] = self.parser.stride_px(shape)
        return self._stride_cache[shape]


def _split(found: FramePeople | Sequence[Person] | None) -> tuple[list[Person] | None, list[FoundPerson | None]]:
    """People and what the people stage found for each, from :meth:`FrameStages.predict`'s entry or a plain
    list of people (``None``: to be taken from the labels)."""
    if found is None:
        return None, []
    if isinstance(found, tuple) and len(found) == 2 and isinstance(found[1], list):
        return list(found[0]), list(found[1])
    people = list(found)
    return people, [None] * len(people)
