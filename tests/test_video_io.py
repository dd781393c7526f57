"""Video reading and writing: rotation, VFR, odd sizes, audio, damaged input, atomic outputs."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tryon_sdk.errors import InputError, VideoError
from tryon_sdk.outputs import PendingOutput
from tryon_sdk.video.io.reader import VideoReader, probe_video, read_image, upright
from tryon_sdk.video.io.writers import GrayVideoWriter, H264Writer, pad_even

from videos import synthetic_frame, audio_packets, make_audio_only, make_video, read_gray_video, read_video


def _raw_frames(path) -> list[np.ndarray]:
    """Decoded pixels as stored (no rotation applied)."""
    return read_video(path)[0]


@pytest.mark.parametrize("rotation, expected", [(90, 90), (-90, 270), (180, 180)])
def test_rotation_metadata_is_applied_to_pixels(tmp_path, rotation, expected):
    src = make_video(tmp_path / "rot.mp4", width=64, height=48, frames=3, rotation=rotation)
    info = probe_video(src)
    assert info.rotation == expected
    assert (info.width, info.height) == ((48, 64) if expected in (90, 270) else (64, 48))
    frames = list(VideoReader(src))
    raw = _raw_frames(src)
    assert len(frames) == 3
    for f, r in zip(frames, raw):
        np.testing.assert_array_equal(f.image, np.rot90(r, expected // 90))
    # the white marker of the stored top-left corner ends up where the display puts it
    corner = {90: (slice(-12, None), slice(0, 12)), 270: (slice(0, 12), slice(-12, None)), 180: (slice(-12, None), slice(-16, None))}
    assert frames[0].image[corner[expected]].mean() > 240


def test_upright_and_pad_even():
    a = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(upright(a, 90), np.rot90(a))
    np.testing.assert_array_equal(upright(a, -90), np.rot90(a, 3))
    assert upright(a, 0) is a
    img = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    p = pad_even(img)
    assert p.shape == (4, 6, 3)
    np.testing.assert_array_equal(p[:3, :5], img)
    np.testing.assert_array_equal(p[3, :5], img[2])
    np.testing.assert_array_equal(p[:3, 5], img[:, 4])


def test_variable_frame_rate_keeps_every_timestamp(tmp_path):
    stamps = [0, 40, 100, 130, 250, 300, 420]
    src = make_video(tmp_path / "vfr.mp4", pts_ms=stamps)
    frames = list(VideoReader(src))
    assert [f.timestamp_ms for f in frames] == stamps
    assert [f.index for f in frames] == list(range(len(stamps)))


def test_start_end_and_max_frames(tmp_path):
    src = make_video(tmp_path / "v.mp4", frames=20, fps=10)
    assert [f.timestamp_ms for f in VideoReader(src, start=0.5, end=1.2)] == [500, 600, 700, 800, 900, 1000, 1100]
    assert [f.timestamp_ms for f in VideoReader(src, start=1.0, max_frames=3)] == [1000, 1100, 1200]
    with pytest.raises(InputError):
        VideoReader(src, start=1.0, end=0.5)
    with pytest.raises(InputError):
        VideoReader(src, max_frames=0)


def test_undecodable_frame_in_the_middle_is_skipped_and_counted(tmp_path):
    src = make_video(tmp_path / "bad.avi", codec="mjpeg", pix_fmt="yuvj420p", frames=6, corrupt=[3])
    reader = VideoReader(src)
    frames = list(reader)
    assert [f.timestamp_ms for f in frames] == [0, 100, 200, 400, 500]
    assert reader.skipped_count == 1 and "undecodable" in reader.skipped[0]["reason"]
    assert not reader.truncated


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d: (d / "notes.mp4").write_text("hello, not a video") and d / "notes.mp4", "not a readable video"),
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: d, "folder"),
        (lambda d: make_audio_only(d / "sound.mka", with_empty_video=False), "no video stream"),
    ],
)
def test_not_a_video_is_a_video_error(tmp_path, make, match):
    with pytest.raises(VideoError, match=match):
        VideoReader(make(tmp_path))


def test_stream_with_zero_frames_yields_nothing(tmp_path):
    src = make_audio_only(tmp_path / "empty.mkv")
    reader = VideoReader(src)
    assert list(reader) == []


def test_truncated_files(tmp_path):
    # MP4 written front to back keeps its index at the end: cut in half it cannot be opened at all
    full = make_video(tmp_path / "full.mp4", frames=20)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="not a readable video"):
        VideoReader(cut)
    # Matroska cut short: the frames before the cut are decoded, the rest is simply missing
    mkv = make_video(tmp_path / "full.mkv", frames=20, codec="mpeg4")
    data = mkv.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    frames = list(VideoReader(cut))
    assert 5 <= len(frames) < 20


def test_gray_video_round_trip_is_exact_at_odd_size(tmp_path):
    rng = np.random.default_rng(0)
    planes = [rng.integers(0, 256, (47, 63), dtype=np.uint8) for _ in range(4)]
    planes[0] = rng.integers(0, 18, (47, 63), dtype=np.uint8)  # label ids
    w = GrayVideoWriter(tmp_path / "g.mkv", time_base=Fraction(1, 1000), fps=Fraction(10))
    for i, p in enumerate(planes):
        w.write(p, [0, 40, 100, 130][i])
    w.close()
    back, times = read_gray_video(tmp_path / "g.mkv")
    assert len(back) == 4 and times == pytest.approx([0, 0.04, 0.1, 0.13])
    for a, b in zip(planes, back):
        np.testing.assert_array_equal(a, b)


def test_h264_writer_pads_odd_sizes_and_keeps_timestamps(tmp_path):
    base = synthetic_frame(0, 63, 47)
    w = H264Writer(tmp_path / "o.mp4", fps=Fraction(25), time_base=Fraction(1, 1000))
    stamps = [0, 40, 100, 130, 250]
    for t in stamps:
        w.write(base, t)
    w.close()
    frames, times, facts = read_video(tmp_path / "o.mp4")
    assert (facts["codec"], facts["pix_fmt"], facts["width"], facts["height"]) == ("h264", "yuv420p", 64, 48)
    assert times == pytest.approx([t / 1000 for t in stamps], abs=1e-3)
    assert not facts["audio"]
    err = np.abs(frames[0][:47, :63].astype(int) - base).mean()
    assert err < 6  # lossy, but the picture is there
    # the padding row / column repeats the last ones
    assert np.abs(frames[0][47, :63].astype(int) - frames[0][46, :63]).mean() < 6
    assert np.abs(frames[0][:47, 63].astype(int) - frames[0][:47, 62]).mean() < 6


@pytest.mark.parametrize("container, codec", [("mp4", "aac"), ("mkv", "pcm_s16le")])
def test_audio_is_carried_over(tmp_path, container, codec):
    src = make_video(tmp_path / f"a.{container}", frames=10, audio=True, audio_codec=codec)
    info = probe_video(src)
    assert info.has_audio and info.audio_codec == codec
    w = H264Writer(tmp_path / "o.mp4", fps=info.fps, time_base=info.time_base, audio_from=src)
    for f in VideoReader(src):
        w.write(f.image, f.pts)
    w.close()
    out_codec, n, end = audio_packets(tmp_path / "o.mp4")
    assert out_codec == "aac"  # copied when MP4 can hold it, else re-encoded to AAC
    assert n > 0 and end == pytest.approx(1.0, abs=0.15)


def test_pending_output_replaces_only_on_commit(tmp_path):
    final = tmp_path / "overlay.mp4"
    final.write_bytes(b"old")
    p = PendingOutput(final)
    p.tmp.write_bytes(b"new")
    assert p.tmp.name.startswith(".overlay.partial-") and final.read_bytes() == b"old"
    p.discard()
    assert final.read_bytes() == b"old" and not p.tmp.exists()
    p = PendingOutput(final)
    p.tmp.write_bytes(b"new")
    p.commit()
    assert final.read_bytes() == b"new" and not p.tmp.exists()
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "000000.png").write_bytes(b"old")
    d = PendingOutput(tmp_path / "labels", is_dir=True)
    (d.tmp / "000000.png").write_bytes(b"new")
    d.commit()
    assert (tmp_path / "labels" / "000000.png").read_bytes() == b"new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["labels", "overlay.mp4"]


def test_read_image(tmp_path):
    import cv2

    img = np.zeros((10, 12, 3), np.uint8)
    img[..., 0] = 200  # red in RGB
    cv2.imwrite(str(tmp_path / "a.png"), img[..., ::-1])
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), img)
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="not a readable image"):
        read_image(tmp_path / "b.png")
