"""People first over a stream: follow each person's crop from frame to frame (VIDEO / LIVE_STREAM).

Each person's box comes from its mask in the previous frame's crop (components touching
the predicted box; the span holding all but 2% of the mask on each side),
smoothed (``box_smoothing``) against the box predicted from its motion, and
grown into the next crop, moved by that motion. The whole frame is searched again every ``redetect_every`` frames
while fewer than ``max_people`` are tracked (a new person entering is found
within that many frames), at once when a mask touches a crop edge that is
not the frame's edge, and on every frame while nobody is tracked (an empty
frame costs one cheap pass and comes out all background). A person whose
mask covers less than ``min_crop_share`` of the crop is lost, and so is one
that two searches in a row do not see (after a miss the next frame is
searched again), so a track cannot live on paint the parser puts on an
empty background. A box grows by at most 10% per side and frame and to at
most 1.5 times the size the last search saw. Detections overlapping a track
(IoU > 0.3, or centred inside it) belong to it; tracks overlapping each
other by IoU > 0.5 merge (the older one stays).

The crops' scores are pasted on one grid over the frame (:meth:`PeopleTracker.grid_scale`): as fine as
the finest crop's own grid, at most the frame's pixels, and kept while the people keep their size, so
smoothing and the limb stage work on that many cells rather than on every pixel of the frame.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch.nn.functional as F

from ..errors import ConfigError
from ..regions import Box
from ..resample import GridScores
from .crops import paste_grids, person_in_crop, person_score
from .detect import crop_window, detect_people
from .facing import UNKNOWN
from .person import PeopleOptions, Person, box_iou

if TYPE_CHECKING:
    from ..parser import Parser

__all__ = ["Track", "PeopleState", "PeopleTracker"]

_MATCH_IOU = 0.3  # a detection overlapping a track this much is that track
_MAX_GROWTH = 0.1  # a tracked box grows at most this share of its size per side and frame
_MAX_SIZE = 1.5  # a tracked box is at most this many times the size the last search saw
_MISSES = 2  # searches in a row that do not see a tracked person drop it
_MERGE_IOU = 0.5  # tracks overlapping this much are one person
_GRID_SLACK = 0.95  # a frame grid this much coarser than the finest crop's is kept


@dataclass(frozen=True)
class Track:
    """One tracked person: id, smoothed box (frame pixels, floats), and what the last detection saw."""

    track_id: int
    box: tuple[float, float, float, float]
    age: int = 0
    size: tuple[float, float] = (0.0, 0.0)  # (w, h) the box may reach at most :data:`_MAX_SIZE` times
    misses: int = 0  # consecutive whole-frame searches that did not see this person
    velocity: tuple[float, float] = (0.0, 0.0)  # box centre motion per frame (the next crop is moved by it)

    def predicted(self) -> tuple[float, float, float, float]:
        """The box where the person should be in the next frame."""
        vx, vy = self.velocity
        x0, y0, x1, y1 = self.box
        return (x0 + vx, y0 + vy, x1 + vx, y1 + vy)


@dataclass(frozen=True)
class PeopleState:
    """What :class:`PeopleTracker` carries from one frame to the next."""

    shape: tuple[int, int]
    tracks: tuple[Track, ...] = ()
    next_id: int = 1
    since_detect: int = 0  # frames since the last whole-frame detection
    redetect: bool = False  # a mask touched a crop edge, or a person was lost: search the frame next time
    detections: int = 0  # whole-frame passes so far (for stats and tests)
    grid_scale: float = 0.0  # scale of the frame grid the crops are pasted on (0: none chosen yet)


class PeopleTracker:
    """Regions of interest over a stream; explicit state (``probs, people, state = tracker.step(...)``).

    The tracker keeps nothing between calls, so one can serve many streams.
    """

    def __init__(self, options: PeopleOptions | None = None) -> None:
        if options is not None and not isinstance(options, PeopleOptions):
            raise ConfigError(f"options must be PeopleOptions, got {type(options).__name__}")
        self.options = options or PeopleOptions()

    @staticmethod
    def grid_scale(parser: "Parser", shape: tuple[int, int], windows: Sequence[Box], current: float) -> float:
        """Scale of the grid over a frame of ``shape`` that the crops at ``windows`` are pasted on.

        As fine as the finest crop's own grid (a power of ``2 ** (1 / 4)``, at most 1: the frame's pixels),
        so pasting loses no resolution, and kept from frame to frame (``current``) while within
        about one step of that, so the temporal stages see one grid while the people keep their size.
        With no crops, ``current``, or the model's grid for the whole frame.
        """
        need = max(
            (parser.preprocess.plan((w.y1 - w.y0, w.x1 - w.x0)).scaled[0] / (w.y1 - w.y0) for w in windows), default=0.0
        )
        if need <= 0:
            return current or parser.preprocess.plan(shape).scaled[0] / shape[0]
        if current and _GRID_SLACK * need <= current <= 2 * need:
            return current
        return min(1.0, 2.0 ** (math.ceil(4 * math.log2(need)) / 4))

    @staticmethod
    def grid_size(shape: tuple[int, int], scale: float) -> tuple[int, int]:
        """``(gh, gw)`` of the frame grid at ``scale`` (at most the frame's own size)."""
        return min(shape[0], max(1, round(shape[0] * scale))), min(shape[1], max(1, round(shape[1] * scale)))

    def step(
        self, parser: "Parser", image: np.ndarray, state: PeopleState | None = None
    ) -> tuple[GridScores, list[Person], PeopleState]:
        """One frame: its float32 probabilities as :class:`GridScores` on a grid over the frame (:meth:`grid_scale`)
        (on the parser's device, background outside the crops), the people (facing not yet decided: the
        temporal stage does that), and the new state."""
        opt = self.options
        shape = image.shape[:2]
        if state is None or state.shape != shape:
            state = PeopleState(shape)
        tracks = list(state.tracks)
        next_id = state.next_id
        since = state.since_detect + 1
        detections = state.detections
        due = since >= opt.redetect_every and len(tracks) < opt.max_people
        if not tracks or state.redetect or due:
            dets = detect_people(parser, [image], opt)[0]
            detections += 1
            since = 0
            seen: set[int] = set()
            for d in dets:
                match = max(tracks, key=lambda t: _match(t.box, d.box), default=None)
                if match is not None and _match(match.box, d.box) > _MATCH_IOU:
                    i = tracks.index(match)
                    box = _clamp_growth(match.box, _union(match.box, d.box)) if state.redetect else match.box
                    dw, dh = d.box[2] - d.box[0], d.box[3] - d.box[1]
                    tw, th = match.box[2] - match.box[0], match.box[3] - match.box[1]
                    size = (max(dw, 0.8 * tw), max(dh, 0.8 * th))
                    tracks[i] = dataclasses.replace(match, box=box, size=size, misses=0)
                    seen.add(match.track_id)
                    continue
                if len(tracks) < opt.max_people:
                    tracks.append(Track(next_id, d.box, size=(d.box[2] - d.box[0], d.box[3] - d.box[1])))
                    seen.add(next_id)
                    next_id += 1
            missed = [dataclasses.replace(t, misses=t.misses + 1) for t in tracks if t.track_id not in seen]
            tracks = [t for t in tracks if t.track_id in seen] + [t for t in missed if t.misses < _MISSES]
            force_search = bool(missed)
        else:
            force_search = False
        if not tracks:
            scale = self.grid_scale(parser, shape, [], state.grid_scale)
            full = paste_grids(shape, self.grid_size(shape, scale), [], [], parser.config.num_classes, parser.device)
            return full, [], PeopleState(shape, (), next_id, since, False, detections, scale)
        tracks.sort(key=lambda t: t.track_id)
        windows = [crop_window(t.predicted(), shape, parser.config.input_size, opt.margin) for t in tracks]
        scale = self.grid_scale(parser, shape, windows, state.grid_scale)
        grid_size = self.grid_size(shape, scale)
        grids = parser.predict_region_grids([image], [windows])[0]
        full = paste_grids(shape, grid_size, grids, windows, parser.config.num_classes, parser.device)
        kept: list[Track] = []
        people: list[Person] = []
        redetect = force_search
        H, W = shape
        for track, grid, win in zip(tracks, grids, windows):
            # the background class alone at the crop's pixels: the person's box needs pixel precision
            bg = F.interpolate(grid.scores[None, :1].float(), size=grid.size, mode="bilinear", align_corners=False)
            bg = bg[0, 0]
            mask = (bg < 0.5).cpu().numpy()  # person: background below one half (cheaper than an argmax)
            found = person_in_crop(mask, win, track.predicted())
            if found is None or found[1] < opt.min_crop_share * mask.size:
                redetect = True  # lost: look for people again on the next frame
                continue
            box, area, person_mask = found
            score = person_score(bg, person_mask)
            touches = (box.x0 <= win.x0 and win.x0 > 0) or (box.y0 <= win.y0 and win.y0 > 0)
            touches |= (box.x1 >= win.x1 and win.x1 < W) or (box.y1 >= win.y1 and win.y1 < H)
            redetect |= bool(touches)
            a = opt.box_smoothing if track.age > 0 and not touches else 0.0
            prior = track.predicted()
            smoothed = _clamp_growth(prior, tuple(a * o + (1 - a) * n for o, n in zip(prior, box)))
            smoothed = _clamp_size(smoothed, track.size)
            moved = (
                0.5 * (smoothed[0] + smoothed[2] - track.box[0] - track.box[2]),
                0.5 * (smoothed[1] + smoothed[3] - track.box[1] - track.box[3]),
            )
            velocity = moved if track.age > 0 else (0.0, 0.0)
            kept.append(dataclasses.replace(track, box=smoothed, age=track.age + 1, velocity=velocity))
            people.append(Person(box, area, UNKNOWN, track.track_id, score))
        kept, people = _merge_duplicates(kept, people)
        return full, people, PeopleState(shape, tuple(kept), next_id, since, redetect, detections, scale)


def _clamp_growth(old: Sequence[float], new: Sequence[float]) -> tuple[float, float, float, float]:
    """``new`` shrunk about its centre to at most ``old``'s size grown by :data:`_MAX_GROWTH` per side: paint
    bleeding onto the background next to a person cannot run away with the crop, frame after frame (the box
    may move freely)."""
    w = min(new[2] - new[0], (1 + 2 * _MAX_GROWTH) * (old[2] - old[0]))
    h = min(new[3] - new[1], (1 + 2 * _MAX_GROWTH) * (old[3] - old[1]))
    cx, cy = 0.5 * (new[0] + new[2]), 0.5 * (new[1] + new[3])
    return (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h)


def _clamp_size(box: Sequence[float], size: tuple[float, float]) -> tuple[float, float, float, float]:
    """``box`` shrunk about its centre to at most :data:`_MAX_SIZE` times ``size`` (w, h)."""
    x0, y0, x1, y1 = box
    w, h = min(x1 - x0, _MAX_SIZE * size[0]), min(y1 - y0, _MAX_SIZE * size[1])
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    return (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h)


def _match(track: Sequence[float], det: Sequence[float]) -> float:
    """How well a detection matches a track: IoU, or 1 when the detection's centre lies inside the track."""
    cx, cy = 0.5 * (det[0] + det[2]), 0.5 * (det[1] + det[3])
    if track[0] <= cx <= track[2] and track[1] <= cy <= track[3]:
        return 1.0
    return box_iou(track, det)


def _union(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float, float]:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _merge_duplicates(tracks: list[Track], people: list[Person]) -> tuple[list[Track], list[Person]]:
    """Drop the younger of two tracks that cover one person."""
    drop: set[int] = set()
    for i in range(len(tracks)):
        for j in range(i + 1, len(tracks)):
            if i in drop or j in drop:
                continue
            if box_iou(people[i].box, people[j].box) > _MERGE_IOU:
                drop.add(j if tracks[i].track_id < tracks[j].track_id else i)
    return [t for k, t in enumerate(tracks) if k not in drop], [p for k, p in enumerate(people) if k not in drop]
