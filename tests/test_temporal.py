"""Temporal smoothing on synthetic sequences with known truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tryon_sdk.errors import ConfigError, InputError
from tryon_sdk.video.temporal.smoothing import SmoothingOptions, SmoothingState, TemporalSmoother, one_hot
from tryon_sdk.video.evaluation.measures import compute_video_metrics

from synthetic import UPPER, moving_box_sequence, person_sequence


def smooth(probs, options=None, timestamps=None, frames=None):
    smoother = TemporalSmoother(options)
    state, labels, states = None, [], []
    for t, p in enumerate(probs):
        out, state = smoother.step(
            p,
            state,
            timestamp_ms=None if timestamps is None else timestamps[t],
            frame=None if frames is None else frames[t],
        )
        labels.append(out.argmax(0).numpy().astype(np.uint8))
        states.append(state)
    return labels, states


def truth_agreement(labels, truth) -> float:
    return float(np.mean([np.mean(a == b) for a, b in zip(labels, truth)]))


@pytest.fixture(scope="module")
def noisy():
    """A person standing still; all label changes are injected flicker."""
    return person_sequence(16, seed=1, flicker=2.0, speckles=5)


@pytest.mark.parametrize(
    "options",
    [SmoothingOptions(), SmoothingOptions(use_flow=True), SmoothingOptions(uncertainty="entropy")],
    ids=["margin", "flow", "entropy"],
)
def test_reduces_flicker(noisy, options):
    raw = compute_video_metrics(noisy.labels)
    assert raw.flicker > 0.02  # the input does flicker
    labels, states = smooth(noisy.probs, options, noisy.timestamps_ms, noisy.frames)
    res = compute_video_metrics(labels, raw=noisy.labels)
    assert res.flicker_ratio <= 0.5
    assert res.agreement >= 0.95
    assert truth_agreement(labels, noisy.truth) > truth_agreement(noisy.labels, noisy.truth)
    assert [s.reset_reason for s in states] == ["start"] + [None] * (len(states) - 1)


def test_one_hot_input(noisy):
    probs = [one_hot(lab) for lab in noisy.labels]
    labels, _ = smooth(probs)
    res = compute_video_metrics(labels, raw=noisy.labels)
    assert res.flicker_ratio <= 0.5
    assert res.agreement >= 0.95
    # control: without the neighbourhood, one-hot pixels look certain and nothing is smoothed
    labels, _ = smooth(probs, SmoothingOptions(hard_radius=0))
    assert compute_video_metrics(labels, raw=noisy.labels).flicker_ratio > 0.9


@pytest.mark.parametrize("use_flow", [False, True])
@pytest.mark.parametrize("vx", [3.0, 6.0])
def test_moving_shape_does_not_lag(use_flow, vx):
    seq = moving_box_sequence(10, vx=vx, flicker=0.5)
    labels, _ = smooth(seq.probs, SmoothingOptions(use_flow=use_flow), frames=seq.frames)
    for lab, truth in zip(labels, seq.truth):
        x_out = np.nonzero(lab == UPPER)[1].mean()
        x_true = np.nonzero(truth == UPPER)[1].mean()
        assert abs(x_out - x_true) < vx  # within one frame's displacement
        assert np.mean((lab == UPPER) == (truth == UPPER)) > 0.97  # no trail


def test_result_is_a_distribution_and_types_round_trip(noisy):
    smoother = TemporalSmoother()
    out, state = smoother.step(noisy.probs[0].numpy(), None)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    out, state = smoother.step(noisy.probs[1].numpy(), state)
    np.testing.assert_allclose(out.sum(axis=0), 1.0, atol=1e-4)
    # half precision in, float32 out; in place with out=probs
    out, state = smoother.step(noisy.probs[2].half(), state)
    assert out.dtype == torch.float32
    buf = noisy.probs[3].clone()
    out, state = smoother.step(buf, state, out=buf)
    assert out.data_ptr() == buf.data_ptr() and state.probs is out
    torch.testing.assert_close(buf.sum(0), torch.ones(buf.shape[1:]), atol=2e-3, rtol=0)  # fp16 frame before


def test_reset_on_timestamp_gap(noisy):
    smoother = TemporalSmoother()
    state = None
    for t in range(4):
        _, state = smoother.step(noisy.probs[t], state, timestamp_ms=100.0 * t)
    assert state.reset_reason is None and state.frames == 3
    out, gap = smoother.step(noisy.probs[4], state, timestamp_ms=2300.0)
    assert gap.reset_reason == "gap" and gap.frames == 0
    torch.testing.assert_close(out, noisy.probs[4], atol=0, rtol=0)
    _, back = smoother.step(noisy.probs[4], state, timestamp_ms=100.0)  # backwards: a seek
    assert back.reset_reason == "gap"
    # control: without a gap limit the same frame is blended, i.e. differs from the input
    out, kept = TemporalSmoother(SmoothingOptions(max_gap_ms=None)).step(noisy.probs[4], state, timestamp_ms=2300.0)
    assert kept.reset_reason is None and not torch.equal(out, noisy.probs[4])


def test_reset_on_colour_cut():
    a = person_sequence(4, seed=2, flicker=1.5, x0=40)
    b = person_sequence(2, seed=3, flicker=1.5, x0=88)
    probs = a.probs + b.probs
    frames = a.frames + [255 - f for f in b.frames]  # another shot: other colours, person elsewhere
    labels, states = smooth(probs, frames=frames)
    assert states[4].reset_reason == "cut-colour"
    np.testing.assert_array_equal(labels[4], b.labels[0])
    # control: without frames the class distribution barely moves, no cut is seen and the old shot leaks in
    labels, states = smooth(probs)
    assert states[4].reset_reason is None
    assert not np.array_equal(labels[4], b.labels[0])


def test_reset_on_label_cut():
    a = person_sequence(4, seed=2, flicker=1.5)
    b = moving_box_sequence(2, size=(96, 128), box=(80, 100), vx=0.0, cls=7)  # a close-up of a dress
    labels, states = smooth(a.probs + b.probs)
    assert states[4].reset_reason == "cut-labels"
    np.testing.assert_array_equal(labels[4], b.labels[0])
    _, states = smooth(a.probs + b.probs, SmoothingOptions(cut_label_threshold=None))
    assert states[4].reset_reason is None


def test_reset_on_shape_change(noisy):
    smoother = TemporalSmoother()
    _, state = smoother.step(noisy.probs[0], None)
    out, state = smoother.step(noisy.probs[1][:, :64, :64].contiguous(), state)
    assert state.reset_reason == "shape" and out.shape == (18, 64, 64)


def test_streams_do_not_interfere(noisy):
    other = person_sequence(6, seed=4, flicker=2.0, vx=2.0)
    alone_a, _ = smooth(noisy.probs[:6])
    alone_b, _ = smooth(other.probs)
    smoother = TemporalSmoother()
    sa = sb = None
    for t in range(6):
        oa, sa = smoother.step(noisy.probs[t], sa)
        ob, sb = smoother.step(other.probs[t], sb)
        np.testing.assert_array_equal(oa.argmax(0).numpy(), alone_a[t])
        np.testing.assert_array_equal(ob.argmax(0).numpy(), alone_b[t])
    assert isinstance(sa, SmoothingState)


def test_ratio_zero_passes_through(noisy):
    labels, _ = smooth(noisy.probs[:4], SmoothingOptions(ratio=0.0))
    for lab, raw in zip(labels, noisy.labels):
        np.testing.assert_array_equal(lab, raw)


def test_input_and_option_errors(noisy):
    smoother = TemporalSmoother()
    with pytest.raises(InputError, match="C x H x W"):
        smoother.step(torch.rand(18, 8), None)
    with pytest.raises(InputError, match="float"):
        smoother.step(torch.zeros(18, 8, 8, dtype=torch.uint8), None)
    with pytest.raises(InputError, match="torch.Tensor or numpy"):
        smoother.step([[0.5]], None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="RGB"):
        smoother.step(noisy.probs[0], None, frame=np.zeros((96, 128), np.uint8))
    with pytest.raises(InputError, match="out"):
        smoother.step(noisy.probs[0], None, out=torch.empty(18, 4, 4))
    with pytest.raises(InputError, match="labels"):
        one_hot(np.full((4, 4), 18))
    for bad in (
        dict(ratio=1.5),
        dict(ratio=float("nan")),
        dict(uncertainty="variance"),
        dict(work_stride=0),
        dict(spread=9),
        dict(hard_radius=-1),
        dict(use_flow=1),
        dict(flow_scale=0.0),
        dict(max_gap_ms=0),
        dict(cut_colour_threshold=1.5),
        dict(cut_label_threshold=0),
    ):
        with pytest.raises(ConfigError, match="valid"):
            SmoothingOptions(**bad)
    with pytest.raises(ConfigError):
        TemporalSmoother({"ratio": 0.5})  # type: ignore[arg-type]
    assert SmoothingOptions().replace(ratio=0.5).ratio == 0.5


def _people_first_frame(seed: int, corner: bool = False) -> torch.Tensor:
    """18 x 96 x 128: confident background (one-hot) except a person box of mixed classes (what people-first
    parsing pastes); ``corner`` adds an unsure pixel in a far corner."""
    p = torch.zeros(18, 96, 128)
    p[0] = 1.0
    r = np.random.default_rng(seed).random((18, 40, 30)).astype(np.float32)
    p[:, 30:70, 50:80] = torch.from_numpy(r / r.sum(0, keepdims=True))
    if corner:
        p[:, 95, 127] = 1.0 / 18
    return p


def test_blending_only_where_unsure_gives_the_whole_frame_blend_exactly():
    sm = TemporalSmoother(SmoothingOptions(work_stride=1))
    _, state = sm.step(_people_first_frame(1), None)
    new = _people_first_frame(2)
    copied, _ = sm.step(new.clone(), state)
    buf = new.clone()
    in_place, _ = sm.step(buf, state, out=buf)
    assert in_place.data_ptr() == buf.data_ptr()
    assert torch.equal(in_place, copied)
    assert torch.equal(copied[:, :30], new[:, :30]) and torch.equal(copied[:, :, 80:], new[:, :, 80:])
    assert not torch.equal(copied[:, 30:70, 50:80], new[:, 30:70, 50:80])  # the person is smoothed
    # an unsure far corner makes the blend cover the whole frame: the person comes out the same
    _, state_c = sm.step(_people_first_frame(1, corner=True), None)
    whole, _ = sm.step(_people_first_frame(2, corner=True), state_c)
    assert torch.equal(whole[:, 30:70, 50:80], copied[:, 30:70, 50:80])


def test_inference_tensors_are_smoothed_in_place():
    sm = TemporalSmoother(SmoothingOptions(work_stride=1))
    with torch.inference_mode():
        first, second = _people_first_frame(1), _people_first_frame(2)
    _, state = sm.step(first, None, out=first)
    expected, _ = sm.step(second.clone(), state)
    out, _ = sm.step(second, state, out=second)
    assert out.is_inference() and torch.equal(out, expected)


@pytest.mark.parametrize("stride", [3, 4])
def test_mirrored_probabilities_give_the_mirrored_result(noisy, stride):
    """The work grid is sampled mirror-symmetrically, whatever the stride and the width."""
    probs = noisy.probs
    assert (probs[0].shape[-1] - 1) % stride != 0
    options = SmoothingOptions(work_stride=stride)
    a, b = TemporalSmoother(options), TemporalSmoother(options)
    sa = sb = None
    for t, p in enumerate(probs):
        out, sa = a.step(p, sa, timestamp_ms=40 * t)
        mir, sb = b.step(np.ascontiguousarray(p[..., ::-1]) if isinstance(p, np.ndarray) else p.flip(-1), sb, timestamp_ms=40 * t)
        np.testing.assert_allclose(np.asarray(mir)[..., ::-1], np.asarray(out), atol=1e-5)
