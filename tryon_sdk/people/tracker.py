"""People over a stream: the same person keeps one id and a steady crop (VIDEO / LIVE_STREAM).

The person model runs on every frame (:class:`~tryon_sdk.people.stage.PeopleStage`), so a stream does not
search for people now and then: it associates each frame's detections with the tracks of the frame
before. A detection overlapping a track (IoU > 0.3, or either box holding the other's centre) continues
it, the best pairs first; the track's box is centred on the detection, its size smoothed against the
previous box's (``box_smoothing``) while the two overlap well (IoU >= 0.5: a jittery mask does not
resize the crop every frame; a walking person is not left behind), and taken as it is otherwise. Detections that continue no track
start one (up to ``max_people``); a track that no detection continues is kept, unseen, for
:data:`_MISSES` frames, so a person the model misses for a frame comes back with the same id.

The engine's coarse pass, which finds the small people the person model misses, runs every
``redetect_every`` frames and while nobody is tracked (:meth:`PeopleTracker.coarse_due`).

The crops' scores are pasted on one grid over the frame (:func:`grid_scale`): as fine as the finest
crop's own grid, at most the frame's pixels, and kept while the people keep their size, so smoothing and
the limb stage work on that many cells rather than on every pixel of the frame.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

from ..errors import ConfigError
from ..preprocess import Preprocess
from ..geometry import Box
from .person import PeopleOptions, box_iou

__all__ = ["Track", "PeopleState", "PeopleTracker", "grid_scale", "grid_size"]

_MATCH_IOU = 0.3  # a detection overlapping a track this much continues it
_STEADY_IOU = 0.5  # ... and this much: its box is smoothed against the track's
_MISSES = 3  # frames a track is kept without a detection
_GRID_SLACK = 0.95  # a frame grid this much coarser than the finest crop's is kept


@dataclass(frozen=True)
class Track:
    """One tracked person: id, smoothed box (frame pixels, floats), frames seen, frames missed since."""

    track_id: int
    box: tuple[float, float, float, float]
    age: int = 0
    misses: int = 0
    score: float = 0.0  # the last detection's score


@dataclass(frozen=True)
class PeopleState:
    """What :class:`PeopleTracker` carries from one frame to the next."""

    shape: tuple[int, int]
    tracks: tuple[Track, ...] = ()
    next_id: int = 1
    since_coarse: int = 0  # frames since the engine's coarse pass last ran
    coarse_passes: int = 0  # coarse passes so far (for stats and tests)
    grid_scale: float = 0.0  # scale of the frame grid the crops are pasted on (0: none chosen yet)


def _match(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU, or 1 when either box holds the other's centre."""
    for box, other in ((a, b), (b, a)):
        cx, cy = 0.5 * (other[0] + other[2]), 0.5 * (other[1] + other[3])
        if box[0] <= cx <= box[2] and box[1] <= cy <= box[3]:
            return 1.0
    return box_iou(a, b)


class PeopleTracker:
    """Ids and steady boxes over a stream; explicit state (``tracks, state = tracker.step(dets, shape, state)``).

    The tracker keeps nothing between calls, so one can serve many streams.
    """

    def __init__(self, options: PeopleOptions | None = None) -> None:
        if options is not None and not isinstance(options, PeopleOptions):
            raise ConfigError(f"options must be PeopleOptions, got {type(options).__name__}")
        self.options = options or PeopleOptions()

    def coarse_due(self, state: PeopleState | None) -> bool:
        """Whether this frame gets the engine's coarse pass: every ``redetect_every`` frames and while nobody
        is tracked; every frame without the person model (the pass is then the only detector)."""
        if not self.options.person_model or state is None or not state.tracks:
            return True
        return state.since_coarse + 1 >= self.options.redetect_every

    def step(
        self,
        detections: Sequence[tuple[Sequence[float], float]],
        shape: tuple[int, int],
        state: PeopleState | None = None,
        *,
        coarse_ran: bool = False,
    ) -> tuple[list[Track], PeopleState]:
        """One frame: the tracks seen in it (id order) and the new state.

        detections: ``(box, score)`` of this frame's people (frame pixels), as the people stage gives them.
        coarse_ran: the engine's coarse pass ran on this frame.
        """
        opt = self.options
        if state is None or state.shape != shape:
            state = PeopleState(shape)
        tracks = list(state.tracks)
        pairs = sorted(
            ((_match(t.box, d[0]), i, j) for i, t in enumerate(tracks) for j, d in enumerate(detections)),
            reverse=True,
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        seen: list[Track] = []
        for score, i, j in pairs:
            if score <= _MATCH_IOU or i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            t, box = tracks[i], tuple(float(v) for v in detections[j][0])
            if box_iou(t.box, box) >= _STEADY_IOU:  # steady size; the centre follows the person without lag
                a = opt.box_smoothing
                w = a * (t.box[2] - t.box[0]) + (1 - a) * (box[2] - box[0])
                h = a * (t.box[3] - t.box[1]) + (1 - a) * (box[3] - box[1])
                cx, cy = 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            seen.append(dataclasses.replace(t, box=box, age=t.age + 1, misses=0, score=float(detections[j][1])))  # type: ignore[arg-type]
        next_id = state.next_id
        for j, (box, score) in enumerate(detections):
            if j in used_d or len(seen) >= opt.max_people:
                continue
            seen.append(Track(next_id, tuple(float(v) for v in box), 1, score=float(score)))  # type: ignore[arg-type]
            next_id += 1
        kept = [dataclasses.replace(t, misses=t.misses + 1) for i, t in enumerate(tracks) if i not in used_t]
        kept = [t for t in kept if t.misses < _MISSES and len(seen) + 1 <= opt.max_people]
        seen.sort(key=lambda t: t.track_id)
        new_state = PeopleState(
            shape,
            tuple(sorted(seen + kept, key=lambda t: t.track_id)),
            next_id,
            0 if coarse_ran else state.since_coarse + 1,
            state.coarse_passes + int(coarse_ran),
            state.grid_scale,
        )
        return seen, new_state


def grid_scale(preprocess: Preprocess, shape: tuple[int, int], windows: Sequence[Box], current: float) -> float:
    """Scale of the grid over a frame of ``shape`` that the crops at ``windows`` are pasted on.

    As fine as the finest crop's own grid (a power of ``2 ** (1 / 4)``, at most 1: the frame's pixels),
    so pasting loses no resolution, and kept from frame to frame (``current``) while within about one
    step of that, so the temporal stages see one grid while the people keep their size. With no crops,
    ``current``, or the model's grid for the whole frame.
    """
    need = max((preprocess.plan((w.y1 - w.y0, w.x1 - w.x0)).scaled[0] / (w.y1 - w.y0) for w in windows), default=0.0)
    if need <= 0:
        return current or preprocess.plan(shape).scaled[0] / shape[0]
    if current and _GRID_SLACK * need <= current <= 2 * need:
        return current
    return min(1.0, 2.0 ** (math.ceil(4 * math.log2(need)) / 4))


def grid_size(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """``(gh, gw)`` of the frame grid at ``scale`` (at most the frame's own size)."""
    return min(shape[0], max(1, round(shape[0] * scale))), min(shape[1], max(1, round(shape[1] * scale)))
