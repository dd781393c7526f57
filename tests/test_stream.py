"""Streaming sessions: running modes, timestamps, state isolation, LIVE_STREAM dropping."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from tryon_sdk.errors import ConfigError, InputError
from tryon_sdk.labels import FLIP_PAIRS, swap_lr
from tryon_sdk.resample import GridScores
from tryon_sdk.limbs import LimbConsistency, LimbOptions
from tryon_sdk.video.stream import RunningMode, StreamOptions, VideoSession, open_stream
from tryon_sdk.video.temporal.smoothing import SmoothingOptions, TemporalSmoother

from videos import synthetic_frame


def clip(n: int, seed: int = 0, w: int = 80, h: int = 60) -> list[np.ndarray]:
    """``n`` similar frames (a block drifting, light noise): no scene cut between them."""
    rng = np.random.default_rng(seed)
    base = synthetic_frame(seed, w, h)
    out = []
    for i in range(n):
        f = np.roll(base, i, axis=1).astype(np.int16) + rng.integers(-8, 9, base.shape)
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return out


NO_LIMBS = dict(limb_consistency=False)


# ------------------------------------------------------------------------- options and misuse
def test_timestamps_must_strictly_increase(calibrated_parser):
    f = clip(4)
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", **NO_LIMBS)) as s:
        s.parse(f[0], 0)
        s.parse(f[1], 33)
        with pytest.raises(ValueError, match="increase"):
            s.parse(f[2], 33)
        with pytest.raises(InputError, match="increase"):
            s.parse(f[2], 10)
        with pytest.raises(InputError):
            s.parse(f[2])  # VIDEO needs a timestamp
        with pytest.raises(InputError):
            s.parse(f[2], 40.5)
        # a batch with a non-increasing stamp is refused as a whole and changes nothing
        with pytest.raises(InputError):
            s.parse_many([f[2], f[3]], [50, 50])
        assert s.stats.last_timestamp_ms == 33
        assert s.parse(f[2], 66).timestamp_ms == 66
        s.reset()  # a new stream may start its clock again
        assert s.parse(f[0], 0).timestamp_ms == 0


def test_mode_misuse_is_a_value_error(calibrated_parser):
    frame = clip(1)[0]

    def cb(result, image, ts):
        pass

    with pytest.raises(ConfigError, match="result_callback"):
        StreamOptions(running_mode=RunningMode.LIVE_STREAM)
    with pytest.raises(ValueError, match="LIVE_STREAM"):
        open_stream(calibrated_parser, StreamOptions(running_mode="video", result_callback=cb))
    with pytest.raises(ConfigError, match="running mode"):
        open_stream(calibrated_parser, StreamOptions(running_mode="batch"))
    with pytest.raises(ConfigError, match="smoothing"):
        open_stream(calibrated_parser, StreamOptions(running_mode="video", smoothing="strong"))
    with pytest.raises(TypeError, match="colour"):
        StreamOptions(running_mode="video", colour=True)
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", **NO_LIMBS)) as s:
        with pytest.raises(ValueError, match="LIVE_STREAM"):
            s.parse_async(frame, 0)
        with pytest.raises(ConfigError):
            s.flush()
    with open_stream(calibrated_parser, StreamOptions(running_mode="live_stream", result_callback=cb, **NO_LIMBS)) as s:
        with pytest.raises(ValueError, match="IMAGE or VIDEO"):
            s.parse(frame, 0)
        with pytest.raises(ConfigError):
            s.parse_many([frame], [0])
        with pytest.raises(InputError, match="increase"):
            s.parse_async(frame, 5)
            s.parse_async(frame, 5)


# ------------------------------------------------------------------------------- the pipeline
def test_image_mode_is_stateless(calibrated_parser):
    f = clip(3)
    with open_stream(calibrated_parser, StreamOptions(running_mode="image", return_probabilities=True, **NO_LIMBS)) as s:
        a = s.parse(f[1])
        s.parse(f[2])
        b = s.parse(f[1])
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    np.testing.assert_array_equal(a.labels, calibrated_parser.parse(f[1], return_probabilities=True, sides="network").labels)


def test_video_mode_is_engine_then_smoothing_then_argmax(calibrated_parser):
    """Smoothing runs on the model's grid; probabilities and labels come at the frame's size from it."""
    frames = clip(5)
    smoother = TemporalSmoother(SmoothingOptions(ratio=0.8))
    state, expected = None, []
    for i, frame in enumerate(frames):
        grid = calibrated_parser.predict_grids([frame])[0]
        assert grid.scores.shape[-2:] != frame.shape[:2]  # the grid is smaller than the frame
        probs, state = smoother.on_grid(grid.scale).step(
            grid.scores, state, timestamp_ms=40 * i, frame=frames[i]
        )
        expected.append(GridScores(probs, grid.size).full())
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", smoothing=SmoothingOptions(ratio=0.8), return_probabilities=True, **NO_LIMBS)) as s:
        got = [s.parse(f, 40 * i) for i, f in enumerate(frames)]
    for i, (r, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(r.probabilities, e.numpy(), atol=1e-6)
        np.testing.assert_array_equal(r.labels, r.probabilities.argmax(0))
        assert r.timestamp_ms == 40 * i and r.image is not None
    # the state really carried over: later frames differ from their stateless parse
    raw = calibrated_parser.parse(frames[4], return_probabilities=True).probabilities
    assert np.abs(got[4].probabilities - raw).max() > 1e-3


@pytest.mark.parametrize("mirrored", [False, True])
def test_limb_consistency_runs_on_the_argmax_of_the_smoothed_probabilities(calibrated_parser, mirrored):
    frames = [synthetic_frame(2, 80, 60)] * 2 + clip(3, seed=2)
    smoother, fixer = TemporalSmoother(SmoothingOptions()), LimbConsistency(LimbOptions(), mirrored=mirrored)
    s_state = l_state = None
    expected = []
    for i, frame in enumerate(frames):
        grid = calibrated_parser.predict_grids([frame])[0]
        probs, s_state = smoother.on_grid(grid.scale).step(grid.scores, s_state, timestamp_ms=30 * i, frame=frame)
        full = GridScores(probs, grid.size).full()
        labels, l_state = fixer.step(full.argmax(0).to(torch.uint8).numpy(), l_state, probabilities=full)
        expected.append(labels)
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", mirrored=mirrored)) as s:  # defaults: smoothing and limb consistency on
        got = [s.parse(f, 30 * i).labels for i, f in enumerate(frames)]
    limbs = [c for pair in FLIP_PAIRS for c in pair]
    assert any(np.isin(e, limbs).any() for e in expected), "test frames need limb classes"
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


def test_probabilities_only_when_asked(calibrated_parser):
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", **NO_LIMBS)) as s:
        r = s.parse(clip(1)[0], 0)
    assert r.probabilities is None and r.labels.dtype == np.uint8 and r.labels.shape == (60, 80)


def test_parse_many_matches_parse_one_by_one(calibrated_parser):
    frames = clip(5)
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", return_probabilities=True, **NO_LIMBS)) as s:
        one = [s.parse(f, 10 * i) for i, f in enumerate(frames)]
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", return_probabilities=True, **NO_LIMBS)) as s:
        many = s.parse_many(frames[:3], [0, 10, 20]) + s.parse_many(frames[3:], [30, 40])
    for a, b in zip(one, many):
        # batched and single convolutions round differently: up to ~1.5e-4 in this calibrated random network
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=3e-4)
        assert (a.labels == b.labels).mean() > 0.99


def test_two_sessions_never_share_state(calibrated_parser):
    fa, fb = clip(5, seed=0), clip(5, seed=3)
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", return_probabilities=True, **NO_LIMBS)) as alone:
        ref = [alone.parse(f, 25 * i) for i, f in enumerate(fa)]
    sa = open_stream(calibrated_parser, StreamOptions(running_mode="video", return_probabilities=True, **NO_LIMBS))
    sb = open_stream(calibrated_parser, StreamOptions(running_mode="video", return_probabilities=True, **NO_LIMBS))
    with sa, sb:
        for i in range(5):
            ra = sa.parse(fa[i], 25 * i)
            rb = sb.parse(fb[i], 25 * i)
            np.testing.assert_array_equal(ra.probabilities, ref[i].probabilities)
            assert not np.array_equal(ra.probabilities, rb.probabilities)


def test_reset_forgets_the_past(calibrated_parser):
    frames = clip(4)
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", return_probabilities=True, **NO_LIMBS)) as s:
        for i in range(3):
            s.parse(frames[i], 20 * i)
        carried = s.parse(frames[3], 60)
        s.reset()
        fresh = s.parse(frames[3], 0)
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", return_probabilities=True, **NO_LIMBS)) as s:
        first = s.parse(frames[3], 0)
    np.testing.assert_array_equal(fresh.probabilities, first.probabilities)
    assert not np.array_equal(carried.probabilities, first.probabilities)


def test_mirrored_without_limb_stage_reports_the_persons_sides(calibrated_parser):
    frame = synthetic_frame(2, 80, 60)
    plain = open_stream(calibrated_parser, StreamOptions(running_mode="image", **NO_LIMBS)).parse(frame).labels
    assert np.isin(plain, [c for pair in FLIP_PAIRS for c in pair]).any(), "test frame needs left/right classes"
    mirrored = open_stream(calibrated_parser, StreamOptions(running_mode="image", mirrored=True, **NO_LIMBS)).parse(frame).labels
    np.testing.assert_array_equal(mirrored, swap_lr(plain))


def test_compositor_renders_output(calibrated_parser):
    def invert(frame, result):
        return 255 - frame

    frame = clip(1)[0]
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", compositor=invert, **NO_LIMBS)) as s:
        r = s.parse(frame, 0)
        np.testing.assert_array_equal(s.render(r), 255 - frame)
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", **NO_LIMBS)) as s:
        r = s.parse(frame, 0)
        np.testing.assert_array_equal(s.render(r), r.overlay())
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", compositor=lambda f, r: f[:10], **NO_LIMBS)) as s:
        with pytest.raises(InputError, match="compositor"):
            s.render(s.parse(frame, 0))


# -------------------------------------------------------------------------------- LIVE_STREAM
def test_live_stream_drops_stale_frames_and_counts_them(calibrated_parser):
    frames = clip(6)
    busy, release = threading.Event(), threading.Event()
    got: list[tuple[int, np.ndarray, np.ndarray]] = []

    def slow_callback(result, image, ts):
        got.append((ts, image, result.image))
        busy.set()
        assert release.wait(30)

    s = open_stream(calibrated_parser, StreamOptions(running_mode="live_stream", result_callback=slow_callback, **NO_LIMBS))
    with s:
        s.parse_async(frames[0], 0)
        assert busy.wait(30)  # the worker now sits in the callback of frame 0
        for i in range(1, 5):
            s.parse_async(frames[i], 33 * i)  # 1..3 are replaced by a newer frame before they start
        reused = frames[5].copy()
        s.parse_async(reused, 200)  # replaces 4 as well
        reused[:] = 0  # the caller reuses its buffer: the session kept a copy
        assert s.stats.frames_dropped == 4
        release.set()
        assert s.flush(timeout=60)
    assert [ts for ts, _, _ in got] == [0, 200]
    np.testing.assert_array_equal(got[1][1], frames[5])  # no compositor: the callback gets the input frame
    np.testing.assert_array_equal(got[1][2], frames[5])
    st = s.stats
    assert (st.frames_submitted, st.frames_processed, st.frames_dropped) == (6, 2, 4)
    assert s.dropped_frames == 4


def test_live_stream_close_finishes_the_waiting_frame_and_stops(calibrated_parser):
    frames = clip(3)
    seen: list[int] = []
    release = threading.Event()

    def cb(result, image, ts):
        release.wait(30)
        seen.append(ts)

    with open_stream(calibrated_parser, StreamOptions(running_mode="live_stream", result_callback=cb, **NO_LIMBS)) as s:
        s.parse_async(frames[0], 0)
        s.parse_async(frames[1], 10)
        release.set()
    assert s.closed and not s._worker.is_alive()
    assert seen[-1] == 10  # the newest frame is never lost on close
    with pytest.raises(ConfigError, match="closed"):
        s.parse_async(frames[2], 20)


def test_live_stream_callback_error_reaches_the_caller(calibrated_parser):
    def broken(result, image, ts):
        raise RuntimeError("callback failed")

    frame = clip(1)[0]
    s = open_stream(calibrated_parser, StreamOptions(running_mode="live_stream", result_callback=broken, **NO_LIMBS))
    s.parse_async(frame, 0)
    assert s.flush(timeout=60)
    with pytest.raises(RuntimeError, match="callback failed"):
        s.parse_async(frame, 1)
    s.close()


def test_live_stream_callback_gets_the_composited_frame(calibrated_parser):
    out: list[np.ndarray] = []
    frame = clip(1)[0]
    with open_stream(calibrated_parser, StreamOptions(running_mode="live_stream", result_callback=lambda r, img, ts: out.append(img), compositor=lambda f, r: 255 - f, **NO_LIMBS)) as s:
        s.parse_async(frame, 0)
        assert s.flush(timeout=60)
    np.testing.assert_array_equal(out[0], 255 - frame)


def test_context_manager_closes(calibrated_parser):
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", **NO_LIMBS)) as s:
        assert isinstance(s, VideoSession) and not s.closed
    assert s.closed
    with pytest.raises(ConfigError, match="closed"):
        s.parse(clip(1)[0], 0)
    s.close()  # idempotent


def test_open_stream_takes_one_options_object(calibrated_parser):
    s = open_stream(calibrated_parser, StreamOptions(running_mode="video", limb_consistency=False, smoothing=False))
    assert s.running_mode is RunningMode.VIDEO and s.options.smoothing is None  # False is taken for "none"
    s.close()


def test_roi_option_is_validated_and_false_keeps_the_whole_frame(tiny_parser, person_image):
    from tryon_sdk.people.person import PeopleOptions

    with pytest.raises(ConfigError, match="roi must be"):
        StreamOptions(roi="people")
    assert StreamOptions(roi=PeopleOptions(max_people=1)).roi.max_people == 1
    big = np.tile(person_image, (2, 2, 1))  # 242x174: twice the tiny model's input, so auto would crop
    with open_stream(tiny_parser, StreamOptions(running_mode="video", roi=False)) as session:
        whole = session.parse(big, 0)
        assert session.stats.people_searches == 0
    with open_stream(tiny_parser, StreamOptions(running_mode="video", roi=False)) as session:
        same = session.parse_probabilities([big], tiny_parser.predict([big]), [0])[0]
    np.testing.assert_array_equal(whole.labels, same.labels)


def test_engine_stage_apart_on_the_model_grid(calibrated_parser):
    """Whole-frame sessions: predict() keeps the scores on the model's grid; the stages after it give what
    parse_many gives; grids for another frame size are refused."""
    frames = clip(5, seed=4)
    stamps = [40 * i for i in range(5)]
    with open_stream(calibrated_parser, StreamOptions(running_mode="video", roi=False)) as a, open_stream(calibrated_parser, StreamOptions(running_mode="video", roi=False)) as b:
        direct = a.parse_many(frames, stamps)
        grids, people = b.predict(frames)
        assert all(isinstance(g, GridScores) and g.size == frames[0].shape[:2] for g in grids)
        assert grids[0].scores.shape[-2:] != frames[0].shape[:2]  # the model's grid, not the frame
        split = b.parse_probabilities(frames, grids, stamps, people=people)
        other = GridScores(grids[0].scores, (frames[0].shape[0] + 1, frames[0].shape[1]))
        with pytest.raises(InputError, match="frame size"):
            b.parse_probabilities(frames[:1], [other], [1000])
    for x, y in zip(direct, split):
        np.testing.assert_array_equal(x.labels, y.labels)


def test_parser_stream_still_opens_a_session_with_a_deprecation_warning(calibrated_parser):
    with pytest.warns(DeprecationWarning, match="open_stream"):
        old = calibrated_parser.stream(mode="video", limb_consistency=False)
    frames = clip(3)
    with old, open_stream(calibrated_parser, StreamOptions(running_mode="video", limb_consistency=False)) as new:
        assert isinstance(old, VideoSession) and old.running_mode is RunningMode.VIDEO
        for i, f in enumerate(frames):
            np.testing.assert_array_equal(old.parse(f, 40 * i).labels, new.parse(f, 40 * i).labels)
    with pytest.warns(DeprecationWarning), pytest.raises(ConfigError, match="unknown stream option"):
        calibrated_parser.stream(mode="video", colour=True)
