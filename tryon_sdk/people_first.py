"""People first, for one frame: the people stage's people, the engine's crops, one frame map.

The people stage (:class:`~tryon_sdk.people.stage.PeopleStage`) says who is in the frame, where to crop
each person and how likely each crop pixel is a person; the parser says what each pixel is. Per crop:

* **Person mask rule** (:func:`with_person_mask`): a pixel's person probability is a weighted mean of
  the person model's and the parser's (``1 - P(background)``); the parser's classes share it in their
  own proportions. The person model's weight (``PeopleOptions.model_weight``, 0.7) was chosen on CCP
  validation framings (whole photos, head-to-hips and head-and-shoulders crops, photos side by side,
  people small in a room): the parser alone, the person model alone, weights 0.5, 0.6 and 0.7 were
  tried, and 0.7 gave the best coarse mIoU on the partial framings. People only the engine's coarse
  pass found (the person model missed them: small, far away) keep the parser's own mask.
* **Paste** (:func:`~tryon_sdk.people.crops.paste`): background outside every crop, the more confident
  crop where crops overlap.
* **People**: each crop's person box and area from its labels, the person stage's score, and the facing
  from the face detector and the head's labels (:func:`~tryon_sdk.people.facing.observe_facing`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch

from .labels import argmax_labels
from .people.crops import paste, paste_grids, paste_labels, person_in_crop
from .people.facing import SIDE, UNKNOWN, HeadObservation, facing_name, head_evidence, observe_facing
from .people.person import PeopleOptions, Person
from .people.stage import FoundPerson, PeopleStage
from .people.tracker import PeopleState, PeopleTracker, grid_scale, grid_size
from .predictor import Predictor
from .resample import GridScores

__all__ = ["with_person_mask", "parse_people_first", "parse_tracked", "person_facing", "head_observations"]


def with_person_mask(grid: GridScores, found: FoundPerson, weight: float = 0.5) -> GridScores:
    """A crop's scores with the person model's probability folded in (see the module docstring).

    grid: the crop's ``C x h x w`` probabilities on the model's grid; ``found.probability`` covers the
    same window; ``weight`` is the person model's share of the person probability. Returns
    probabilities on the same grid.
    """
    if found.probability is None or not found.seen_by_model:  # the parser alone
        return grid
    scores = grid.scores.float()
    h, w = scores.shape[-2:]
    ww, wh = found.window.x1 - found.window.x0, found.window.y1 - found.window.y0
    model = torch.from_numpy(found.probability.window((0, 0, ww, wh), (h, w))).to(scores.device)
    parser_person = (1.0 - scores[0]).clamp_min(1e-6)
    person = weight * model + (1.0 - weight) * parser_person
    out = torch.empty_like(scores)
    out[0] = 1.0 - person
    out[1:] = scores[1:] * (person / parser_person)
    return GridScores(out, grid.size)


def person_facing(labels: np.ndarray, person: Person, found: FoundPerson | None, options: PeopleOptions) -> Person:
    """``person`` with the facing of this frame alone: face detector and the head's labels."""
    box = person.box
    ev = head_evidence(np.ascontiguousarray(labels[box.y0 : box.y1, box.x0 : box.x1]), top_cut=box.y0 == 0)
    obs, conf = observe_facing(found.face if found is not None else None, ev, options.facing)
    name = UNKNOWN if obs is None else SIDE if obs == 0 else facing_name(obs)
    return dataclasses.replace(person, facing=name, facing_confidence=conf)


def head_observations(
    labels: np.ndarray, people: Sequence[Person], found: Sequence[FoundPerson | None], options: PeopleOptions
) -> list[tuple[HeadObservation, float]]:
    """The limb stage's facing input: per person, its box and this frame's observation, with the
    observation's confidence."""
    out = []
    for p, f in zip(people, found):
        box = p.box
        ev = head_evidence(np.ascontiguousarray(labels[box.y0 : box.y1, box.x0 : box.x1]), top_cut=box.y0 == 0)
        obs, conf = observe_facing(f.face if f is not None else None, ev, options.facing)
        share = ev.share if ev is not None and (f is None or f.face is None) else options.facing.front_share
        out.append((HeadObservation(tuple(int(v) for v in box), obs, share), conf))  # type: ignore[arg-type]
    return out


def parse_tracked(
    predictor: Predictor, stage: PeopleStage, tracker: PeopleTracker, image: np.ndarray, state: PeopleState | None
) -> tuple[GridScores, list[Person], list[FoundPerson], PeopleState]:
    """VIDEO / LIVE_STREAM, people first, one frame: its probabilities on a grid over the frame
    (:func:`~tryon_sdk.people.tracker.grid_scale`), its people (track ids; facing not yet decided: the
    temporal stages do that), what the people stage found for each, and the new tracker state."""
    shape = image.shape[:2]
    coarse = None
    due = tracker.coarse_due(state)
    if due:
        coarse = (1.0 - predictor.coarse([image], stage.options.detect_scale)[0][0]).float().cpu().numpy()
    tracks, state = tracker.step(stage.detect(image, coarse), shape, state, coarse_ran=due)  # score < 0: engine-only
    found = stage.describe(image, [(t.box, t.score) for t in tracks])
    stage.add_faces([image], [found])
    windows = [f.window for f in found]
    scale = grid_scale(predictor.preprocess, shape, windows, state.grid_scale)
    state = dataclasses.replace(state, grid_scale=scale)
    grids = predictor.region_grids([image], [windows])[0]
    grids = [with_person_mask(g, f, stage.options.model_weight) for g, f in zip(grids, found)]
    full = paste_grids(shape, grid_size(shape, scale), grids, windows, predictor.config.num_classes, predictor.device)
    people, kept = [], []
    for t, f, g in zip(tracks, found, grids):
        person = (g.scores[0] < 0.5).cpu().numpy()
        if person.mean() < stage.options.min_crop_share:
            continue
        area = int(round(np.count_nonzero(person) / max(g.scale, 1e-6) ** 2))
        people.append(Person(f.box, area, UNKNOWN, t.track_id, abs(t.score)))
        kept.append(f)
    return full, people, kept, state


def parse_people_first(
    predictor: Predictor,
    stage: PeopleStage,
    images: Sequence[np.ndarray],
    boxes: Sequence[np.ndarray | None] | None = None,
    *,
    probabilities: bool = True,
) -> list[tuple[torch.Tensor | None, np.ndarray, list[Person], list[FoundPerson]]]:
    """IMAGE mode, people first: per image its ``C x H x W`` probabilities (``None`` unless
    ``probabilities``), ``H x W`` uint8 labels, its people (facing from this frame) and what the people
    stage found for each of them.

    ``boxes[i]`` (checked ``N x 4`` arrays) replace the search for image ``i``; the others get one coarse
    engine pass (people the person model misses) and the person model.
    """
    options = stage.options
    boxes = list(boxes) if boxes is not None else [None] * len(images)
    need = [i for i, b in enumerate(boxes) if b is None]
    coarse: list[np.ndarray | None] = [None] * len(images)
    for i, probs in zip(need, predictor.coarse([images[i] for i in need], options.detect_scale)):
        coarse[i] = (1.0 - probs[0]).float().cpu().numpy()
    found = stage(images, coarse=coarse, boxes=[None if b is None else [tuple(r) for r in b] for b in boxes])
    # the parser alone found nobody at low resolution: look again at its input size (a photo filled by one
    # person can fool the small pass)
    again = [i for i in need if not found[i] and not options.person_model and options.detect_scale < 1.0]
    for i, probs in zip(again, predictor.coarse([images[i] for i in again], 1.0)):
        found[i] = stage([images[i]], coarse=[(1.0 - probs[0]).float().cpu().numpy()])[0]
    grids = predictor.region_grids(images, [[f.window for f in fs] for fs in found])
    out = []
    for i, (image, fs, gs) in enumerate(zip(images, found, grids)):
        shape = image.shape[:2]
        gs = [with_person_mask(g, f, options.model_weight) for g, f in zip(gs, fs)]
        full_size = probabilities or len(gs) > 1
        crops = [g.full() for g in gs] if full_size else []
        crop_labels = [argmax_labels(c) for c in crops] if full_size else [g.labels() for g in gs]
        windows = [f.window for f in fs]
        people: list[Person] = []
        kept: list[FoundPerson] = []
        for f, lab in zip(fs, crop_labels):
            hit = person_in_crop(lab != 0, f.window, None)
            if hit is None:
                continue
            box, area, _ = hit
            people.append(Person(box, area, score=f.score))
            kept.append(f)
        full = paste(shape, crops, windows, predictor.config.num_classes, predictor.device) if probabilities else None
        labels = argmax_labels(full) if full is not None else paste_labels(shape, crops if full_size else None, windows, crop_labels)
        if boxes[i] is None and people:  # the size rules of the detection, on what was parsed
            big = max(p.area for p in people)
            keep = [k for k, p in enumerate(people) if p.area >= max(options.min_relative * big, 1)]
            people, kept = [people[k] for k in keep], [kept[k] for k in keep]
        people = [person_facing(labels, p, f, options) for p, f in zip(people, kept)]
        out.append((full, labels, people, kept))  # detections come largest first, app boxes in their order
    return out
