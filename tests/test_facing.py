"""Facing from the head: evidence, decision, hysteresis."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tryon_sdk.errors import ConfigError, InputError
from tryon_sdk.people.facing import (
    FacingFilter,
    FacingOptions,
    FacingState,
    classify_head,
    facing_step,
    head_evidence,
    update_facing,
)

from synthetic import FACE, HAIR, draw_person

SIZE = (192, 128)
OPTS = FacingOptions()


def person(facing: int) -> np.ndarray:
    return draw_person(SIZE, 64, facing=facing)


def back_with_painted_neck() -> np.ndarray:
    """A back view whose neck, below the hair, is painted Face (what front-view parsers do)."""
    lab = person(-1)
    ys, xs = np.nonzero(lab == HAIR)
    y1, cx, w = ys.max(), int(xs.mean()), np.ptp(xs)
    cv2.rectangle(lab, (cx - w // 3, y1 - 2), (cx + w // 3, y1 + w // 3), FACE, -1)
    return lab


def profile() -> np.ndarray:
    """A head seen from the side: hair at the back, a narrow strip of face at the front."""
    lab = person(-1)
    ys, xs = np.nonzero(lab == HAIR)
    y0, y1, x1 = ys.min(), ys.max(), xs.max()
    h = y1 - y0
    cv2.rectangle(lab, (x1 - 2, y0 + int(0.35 * h)), (x1, y1), FACE, -1)
    return lab


def test_front_back_side_and_painted_neck():
    front, back = head_evidence(person(1)), head_evidence(person(-1))
    assert front.share > 0.3 and back.share == 0.0
    assert classify_head(front, OPTS) == 1 and classify_head(back, OPTS) == -1
    neck = head_evidence(back_with_painted_neck())
    assert neck.share <= OPTS.back_share and classify_head(neck, OPTS) == -1
    side = head_evidence(profile())
    assert OPTS.back_share < side.share < OPTS.front_share and classify_head(side, OPTS) == 0


def test_mirrored_head_gives_the_same_evidence():
    for lab in (person(1), back_with_painted_neck(), profile()):
        assert head_evidence(lab) == head_evidence(np.ascontiguousarray(lab[:, ::-1]))


def test_no_head_or_a_tiny_one_gives_no_evidence():
    legs = person(1)
    legs[: SIZE[0] // 2] = 0
    assert head_evidence(legs) is None or classify_head(head_evidence(legs), OPTS) is None
    assert head_evidence(np.zeros(SIZE, np.uint8)) is None
    tiny = np.zeros((40, 40), np.uint8)
    tiny[5:8, 18:21] = FACE
    tiny[8:35, 15:25] = 4
    assert classify_head(head_evidence(tiny), OPTS) is None  # 9 head pixels < min_head_pixels


def test_mask_limits_the_person():
    lab = np.concatenate([person(1), person(-1)], axis=1)
    left = np.zeros(lab.shape, bool)
    left[:, : SIZE[1]] = True
    assert classify_head(head_evidence(lab, left & (lab > 0)), OPTS) == 1
    assert classify_head(head_evidence(lab, ~left & (lab > 0)), OPTS) == -1
    with pytest.raises(InputError):
        head_evidence(lab, left[:, :10])
    with pytest.raises(InputError, match="uint8"):
        head_evidence(lab.astype(np.int32))


def test_hysteresis():
    run = lambda obs, k=3: [s.facing for s in _states(obs, k)]  # noqa: E731
    assert run([None, 0, -1, -1]) == [0, 0, -1, -1]  # the first front/back evidence sets it
    assert run([-1, 1, -1, -1, 1, None, 0, -1]) == [-1] * 8  # one-frame doubts change nothing
    assert run([-1, -1, 1, 1, 1, 1]) == [-1, -1, -1, -1, 1, 1]  # a turn: after 3 contrary frames
    assert run([-1, 1, 0, None, 1, 1]) == [-1, -1, -1, -1, -1, 1]  # side / missing frames don't reset
    assert run([1, -1, 1, -1, -1], k=1) == [1, -1, 1, -1, -1]


def test_facing_step_is_the_hysteresis_of_one_front_or_back_observation():
    assert facing_step(0, 0, -1, 3) == (-1, 0)  # nothing decided: the observation sets it
    assert facing_step(1, 2, 1, 3) == (1, 0)  # agreement resets the count
    assert facing_step(1, 0, -1, 3) == (1, 1) and facing_step(1, 1, -1, 3) == (1, 2)
    assert facing_step(1, 2, -1, 3) == (-1, 0)  # the flip_frames-th contrary observation flips it
    # a facing only guessed (not known) is overridden at once; a known one needs the contrary frames
    assert facing_step(1, 2, -1, 3, known=False) == (-1, 0)
    assert facing_step(-1, 0, 1, 2, known=True) == (-1, 1)


def test_update_facing_with_a_guessed_facing():
    guessed = FacingState(1, 0, 2)
    assert update_facing(guessed, -1, 3, known=False) == FacingState(-1, 0, 0)
    assert update_facing(guessed, -1, 3) == FacingState(1, 1, 0)
    assert update_facing(guessed, 0, 3, known=False) == FacingState(1, 0, 3)  # a side frame only counts
    assert update_facing(guessed, None, 3, known=False) == guessed


def _states(obs, k):
    s, out = None, []
    for o in obs:
        s = update_facing(s, o, k)
        out.append(s)
    return out


def test_filter_per_track_reports_side_after_a_sustained_profile():
    f = FacingFilter(FacingOptions(flip_frames=2))
    state = None
    names = []
    for lab in [person(-1), profile(), profile(), profile(), person(-1)]:
        out, state = f.step({7: head_evidence(lab)}, state)
        names.append(out[7])
    assert names == ["back", "back", "side", "side", "back"]
    out, state = f.step({8: head_evidence(person(1))}, state)
    assert out == {8: "front"} and 7 not in state  # tracks not seen are forgotten
    assert isinstance(state[8], FacingState)


def test_options_are_validated():
    for bad in (
        dict(front_share=0.0),
        dict(front_share=1.5),
        dict(back_share=0.2),
        dict(back_share=-0.1),
        dict(min_head_pixels=0),
        dict(flip_frames=0),
        dict(front_share=float("nan")),
        dict(flip_frames=True),
    ):
        with pytest.raises(ConfigError, match="valid"):
            FacingOptions(**bad)
    with pytest.raises(ConfigError):
        FacingFilter({"flip_frames": 2})  # type: ignore[arg-type]
    assert FacingOptions().replace(flip_frames=5).flip_frames == 5


def test_headless_person_in_a_top_is_seen_from_behind():
    """Dark hair seen from behind painted as a garment: no face where the face would be."""
    lab = person(-1)
    lab[lab == HAIR] = 4  # the hair painted as Upper-clothes
    ev = head_evidence(lab)
    assert ev.headless and classify_head(ev, OPTS) == -1
    assert head_evidence(lab, top_cut=True) is None  # the head may be above the frame
    legs = person(1)
    legs[: int(np.nonzero(legs == 12)[0].min())] = 0  # only the legs and shoes
    assert head_evidence(legs) is None


SUNGLASSES = 3


def with_sunglasses(lab: np.ndarray, on: int) -> np.ndarray:
    """Paint big Sunglasses over the upper face (a front view) or across the hair (what parsers do on a back
    view): rows from the class's top to 70% of its height."""
    lab = lab.copy()
    ys, xs = np.nonzero(np.isin(lab, (on,)))
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    band = slice(y0, y0 + int(0.7 * (y1 - y0)))
    region = lab[band, x0 : x1 + 1]
    region[region == on] = SUNGLASSES
    return lab


def test_sunglasses_on_a_face_are_a_front_view_and_on_hair_are_not():
    front = person(1)
    glasses_front = with_sunglasses(front, FACE)
    plain_face = head_evidence(front).share
    without_glasses = np.where(glasses_front == SUNGLASSES, HAIR, glasses_front).astype(np.uint8)
    assert classify_head(head_evidence(without_glasses), OPTS) != 1  # the glasses hide most of the face ...
    assert classify_head(head_evidence(glasses_front), OPTS) == 1  # ... and still say front
    assert head_evidence(glasses_front).share == pytest.approx(plain_face, abs=0.02)
    back_glasses = with_sunglasses(person(-1), HAIR)
    assert classify_head(head_evidence(back_glasses), OPTS) == -1
    assert head_evidence(back_glasses) == head_evidence(np.ascontiguousarray(back_glasses[:, ::-1]))


def test_a_stray_hair_patch_above_the_head_does_not_hide_the_face():
    """Parsers sometimes paint a patch of "hair" in the background above a person; the head is the largest
    head blob, so the patch does not set the crown (it would put the face zone on the hair)."""
    lab = person(1)
    ys, xs = np.nonzero(np.isin(lab, (HAIR, FACE)))
    top, x0, x1 = ys.min(), xs.min(), xs.max()
    patch = lab.copy()
    patch[max(0, top - 14) : top - 6, x0 : x1 + 1] = HAIR  # as wide as the head, 6 rows above it
    assert classify_head(head_evidence(patch), OPTS) == 1
    assert head_evidence(patch).share == pytest.approx(head_evidence(lab).share)
