"""Incomplete videos (cut off, damaged at the tail): detected, reported, exit status 3, earlier results kept.

The truncated files are made here: the first part of the bytes of a small H.264 MP4
generated with PyAV (index at the front, as cameras and ``+faststart`` write it, so
the cut file still opens), of a Matroska file, and of the real clip when present.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tryon_sdk.cli import main
from tryon_sdk.commands.status import EXIT_INCOMPLETE
from tryon_sdk.video.io.reader import VideoReader

from helpers import file_contents
from videos import faststart_mp4, head, make_video

FRAMES = 30


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    full = faststart_mp4(d / "full.mp4", frames=FRAMES, width=64, height=48)
    return {"full": full, "cut": head(full, 0.4)}


# ----------------------------------------------------------------------------------- detection
def test_reader_flags_a_cut_mp4_with_expected_and_decoded_counts(clips):
    reader = VideoReader(clips["cut"])
    frames = list(reader)
    assert 3 <= len(frames) < FRAMES
    assert reader.truncated and reader.frames_expected == FRAMES
    assert f"{len(frames)} of the {FRAMES} frames" in reader.truncation

    complete = VideoReader(clips["full"])
    assert len(list(complete)) == FRAMES
    assert not complete.truncated and complete.truncation is None and complete.frames_expected == FRAMES


def test_reader_flags_a_cut_matroska_file_by_its_duration(tmp_path):
    mkv = make_video(tmp_path / "full.mkv", frames=20, codec="mpeg4")
    reader = VideoReader(head(mkv, 0.6))
    n = len(list(reader))
    assert 3 <= n < 20 and reader.truncated and "ends at" in reader.truncation
    complete = VideoReader(mkv)
    assert len(list(complete)) == 20 and not complete.truncated


@pytest.mark.parametrize(
    "make, kw",
    [
        (lambda d: make_video(d / "v.mp4", frames=12), {}),
        (lambda d: make_video(d / "a.mp4", frames=10, audio=True), {}),
        (lambda d: make_video(d / "a.mkv", frames=10, audio=True, codec="mpeg4"), {}),
        (lambda d: make_video(d / "vfr.mp4", pts_ms=[0, 40, 100, 130, 250, 300, 420]), {}),
        (lambda d: make_video(d / "bad.avi", codec="mjpeg", pix_fmt="yuvj420p", frames=8, corrupt=[3]), {}),
        (lambda d: make_video(d / "v.mp4", frames=12), {"start": 0.3}),
        (lambda d: make_video(d / "v.mp4", frames=12), {"end": 0.5}),
        (lambda d: make_video(d / "v.mp4", frames=12), {"max_frames": 4}),
    ],
    ids=["mp4", "mp4-audio", "mkv-audio-tail", "vfr", "avi-bad-middle-frame", "start", "end", "max-frames"],
)
def test_complete_videos_and_ranges_are_not_flagged(tmp_path, make, kw):
    reader = VideoReader(make(tmp_path), **kw)
    assert list(reader) and not reader.truncated, reader.truncation


def test_real_clip_head_is_flagged(real_video, tmp_path):
    """The first 5% of the bytes of the Intel IoT DevKit sample clip (CC BY 4.0): 1,394 frames promised."""
    cut = tmp_path / "clip-head.mp4"
    with open(real_video, "rb") as f:
        cut.write_bytes(f.read(real_video.stat().st_size // 20))
    reader = VideoReader(cut)
    n = len(list(reader))
    assert 0 < n < 200 and reader.truncated and reader.frames_expected == 1394
    assert f"{n} of the 1394 frames" in reader.truncation


# ----------------------------------------------------------------------------------- the CLI
def run_parse(capsys, *args) -> tuple[int, str, str]:
    rc = main(["parse", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_parse_of_a_cut_video_says_so_and_exits_3(tmp_path, capsys, clips, calibrated_checkpoint):
    out = tmp_path / "out"
    rc, stdout, err = run_parse(capsys, clips["cut"], "-o", out, "--model", calibrated_checkpoint)
    assert rc == EXIT_INCOMPLETE == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tryon-sdk parse: warning:") and "is incomplete" in lines[0], err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["truncated"] is True and summary["frames_expected"] == FRAMES
    assert 3 <= summary["frames_processed"] < FRAMES and f"of {FRAMES} frames" in lines[0]
    assert sorted(file_contents(out)) == ["labels.mkv", "overlay.mp4", "summary.json"]  # no earlier result: written in place


def test_partial_result_never_replaces_a_complete_one(tmp_path, capsys, clips, calibrated_checkpoint):
    out = tmp_path / "out"
    assert run_parse(capsys, clips["full"], "-o", out, "--model", calibrated_checkpoint)[0] == 0
    complete = file_contents(out)
    assert json.loads(complete["summary.json"])["truncated"] is False

    rc, _, err = run_parse(capsys, clips["cut"], "-o", out, "--model", calibrated_checkpoint)
    assert rc == 3 and "complete earlier result" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert file_contents(out) == complete  # byte for byte
    partial = json.loads((out / "incomplete" / "summary.json").read_text())
    assert partial["truncated"] and partial["output_dir"] == str(out / "incomplete")
    assert sorted(file_contents(out / "incomplete")) == ["labels.mkv", "overlay.mp4", "summary.json"]

    # a complete rerun replaces the result, and the partial one beside it is stale
    assert run_parse(capsys, clips["full"], "-o", out, "--model", calibrated_checkpoint)[0] == 0
    assert not (out / "incomplete").exists()
    assert json.loads((out / "summary.json").read_text())["stale_removed"] == ["incomplete"]

    rc, _, err = run_parse(capsys, clips["cut"], "-o", out, "--model", calibrated_checkpoint, "--overwrite")
    assert rc == 3 and "complete earlier result" not in err
    assert json.loads((out / "summary.json").read_text())["truncated"] is True
    assert not (out / "incomplete").exists()


def test_eval_video_of_a_cut_video_reports_it_and_exits_3(capsys, clips, calibrated_checkpoint):
    rc = main(["eval-video", str(clips["cut"]), "--model", str(calibrated_checkpoint), "--json", "--no-flip", "--no-progress"])
    out, err = capsys.readouterr()
    assert rc == 3
    report = json.loads(out)
    assert report["truncated"] and report["frames_expected"] == FRAMES and report["frames"] < FRAMES
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tryon-sdk eval-video: warning:") and "is incomplete" in lines[0]
