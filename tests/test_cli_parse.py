"""``tryon-sdk parse`` end to end on generated videos and images, checked with PyAV."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_sdk import Parser
from tryon_sdk.cli import main
from tryon_sdk.video.stream import RunningMode, StreamOptions, VideoSession
from tryon_sdk.video.io.reader import VideoReader

from helpers import file_names
from videos import (
    audio_packets,
    make_audio_only,
    make_video,
    read_gray_video,
    read_video,
    synthetic_frame,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reference(calibrated_checkpoint) -> Parser:
    # the test videos are drawings, no people to the person model: the job parses whole frames (--roi off)
    return Parser.from_pretrained(calibrated_checkpoint, device="cpu", people=False)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["parse", "--roi", "off", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def expected_results(parser: Parser, src: Path, *, batch_size: int = 4, **reader_kw):
    """What the pipeline must produce: the same frames through a VIDEO session in the same batches."""
    frames = list(VideoReader(src, **reader_kw))
    with VideoSession(parser, StreamOptions(RunningMode.VIDEO, return_probabilities=True)) as s:
        results = []
        for i in range(0, len(frames), batch_size):
            chunk = frames[i : i + batch_size]
            results += s.parse_many([f.image for f in chunk], [f.timestamp_ms for f in chunk])
    return frames, results


# ----------------------------------------------------------------------------------- round trips
def test_video_with_audio_round_trip(tmp_path, capsys, calibrated_checkpoint, reference):
    src = make_video(tmp_path / "in.mp4", width=80, height=60, frames=10, audio=True)
    out = tmp_path / "out"
    rc, stdout, err = run_cli(capsys, src, "-o", out, "--model", calibrated_checkpoint, "--regions", "upper_body,person")
    assert rc == 0, err
    assert "parsed 10 frame(s)" in stdout and err == ""
    assert file_names(out) == {"overlay.mp4", "labels.mkv", "alpha_upper_body.mkv", "alpha_person.mkv", "summary.json"}

    _, in_times, _ = read_video(src)
    frames, times, facts = read_video(out / "overlay.mp4")
    assert (facts["codec"], facts["pix_fmt"], facts["width"], facts["height"]) == ("h264", "yuv420p", 80, 60)
    assert times == pytest.approx(in_times, abs=1e-3)
    a_codec, a_packets, a_end = audio_packets(out / "overlay.mp4")
    assert a_codec == "aac" and a_packets == audio_packets(src)[1] and a_end == pytest.approx(audio_packets(src)[2])

    in_frames, expected = expected_results(reference, src)
    labels, label_times = read_gray_video(out / "labels.mkv")
    assert label_times == pytest.approx(in_times, abs=1e-3)
    assert len(labels) == len(expected) == 10
    for got, exp in zip(labels, expected):
        np.testing.assert_array_equal(got, exp.labels)  # ids survive exactly
    assert len(np.unique(np.concatenate([x.ravel() for x in labels]))) > 2
    alphas, _ = read_gray_video(out / "alpha_person.mkv")
    for got, exp in zip(alphas, expected):
        np.testing.assert_array_equal(got, np.clip(exp.region("person") * 255 + 0.5, 0, 255).astype(np.uint8))
    # the overlay shows the label colours over the frame (lossy: compare on average)
    err_px = np.abs(frames[3].astype(int) - expected[3].overlay().astype(int)).mean()
    assert err_px < 8

    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_processed"] == 10 and summary["frames_skipped"] == 0 and summary["frames_dropped"] == 0
    assert summary["input"]["has_audio"] and summary["input"]["width"] == 80
    assert set(summary["timings_s"]) >= {"wall", "decode", "inference", "encode"}
    assert summary["model"]["runtime"] == "torch"  # a checkpoint without model.onnx runs on torch
    for meta, lab in zip(summary["frames"], labels):
        share = np.bincount(lab.ravel(), minlength=18) / lab.size
        np.testing.assert_allclose(meta["class_share"], share, atol=1e-5)
    assert [m["time_s"] for m in summary["frames"]] == pytest.approx(in_times)


def test_odd_size_without_audio(tmp_path, capsys, calibrated_checkpoint, reference):
    src = make_video(tmp_path / "odd.mp4", width=63, height=47, frames=6, pix_fmt="yuv444p")
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, src, "-o", out, "--model", calibrated_checkpoint, "--smoothing-ratio", "0.9")
    assert rc == 0, err
    assert json.loads((out / "summary.json").read_text())["options"]["smoothing"]["ratio"] == 0.9
    _, _, facts = read_video(out / "overlay.mp4")
    assert (facts["width"], facts["height"], facts["pix_fmt"], facts["audio"]) == (64, 48, "yuv420p", False)  # padded
    labels, _ = read_gray_video(out / "labels.mkv")
    _, expected = expected_results(reference, src)
    assert labels[0].shape == (47, 63)  # labels keep the exact frame size
    for got, exp in zip(labels, expected):
        np.testing.assert_array_equal(got, exp.labels)


def test_rotation_metadata_gives_upright_outputs(tmp_path, capsys, calibrated_checkpoint, reference):
    src = make_video(tmp_path / "phone.mp4", width=64, height=48, frames=5, rotation=90)
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, src, "-o", out, "--model", calibrated_checkpoint)
    assert rc == 0, err
    frames, _, facts = read_video(out / "overlay.mp4")
    assert (facts["width"], facts["height"]) == (48, 64)
    labels, _ = read_gray_video(out / "labels.mkv")
    _, expected = expected_results(reference, src)
    assert labels[0].shape == (64, 48)
    for got, exp in zip(labels, expected):
        np.testing.assert_array_equal(got, exp.labels)
    # the stored top-left marker is displayed bottom-left; the overlay must show it there
    assert frames[0][-10:, :8].mean() > frames[0][:10, :8].mean() + 40


def test_variable_frame_rate_keeps_timestamps(tmp_path, capsys, calibrated_checkpoint):
    stamps = [0, 40, 100, 130, 250, 300, 420]
    src = make_video(tmp_path / "vfr.mp4", pts_ms=stamps)
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, src, "-o", out, "--model", calibrated_checkpoint, "--no-smoothing")
    assert rc == 0, err
    expected = [t / 1000 for t in stamps]
    assert read_video(out / "overlay.mp4")[1] == pytest.approx(expected, abs=1e-3)
    assert read_gray_video(out / "labels.mkv")[1] == pytest.approx(expected, abs=1e-3)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["options"]["smoothing"] is False


def test_png_sequences_and_frame_range(tmp_path, capsys, calibrated_checkpoint, reference):
    src = make_video(tmp_path / "v.mp4", frames=12)
    out = tmp_path / "out"
    rc, _, err = run_cli(
        capsys, src, "-o", out, "--model", calibrated_checkpoint, "--mask-format", "png", "--outputs", "labels,alpha,summary",
        "--regions", "outfit", "--start", "0.2", "--max-frames", "5", "--batch-size", "2",
    )  # fmt: skip
    assert rc == 0, err
    assert file_names(out) == {"labels", "alpha_outfit", "summary.json"}
    names = sorted(p.name for p in (out / "labels").iterdir())
    assert names == [f"{i:06d}.png" for i in range(5)]
    _, expected = expected_results(reference, src, batch_size=2, start=0.2, max_frames=5)
    for name, exp in zip(names, expected):
        np.testing.assert_array_equal(cv2.imread(str(out / "labels" / name), cv2.IMREAD_UNCHANGED), exp.labels)
    summary = json.loads((out / "summary.json").read_text())
    assert [f["time_s"] for f in summary["frames"]] == pytest.approx([0.2, 0.3, 0.4, 0.5, 0.6])


def test_image_and_folder_inputs(tmp_path, capsys, calibrated_checkpoint, reference):
    img = synthetic_frame(2, 70, 90)
    cv2.imwrite(str(tmp_path / "a.png"), img[..., ::-1])
    out = tmp_path / "one"
    rc, _, err = run_cli(capsys, tmp_path / "a.png", "-o", out, "--model", calibrated_checkpoint, "--regions", "person")
    assert rc == 0, err
    assert file_names(out) == {"overlay.png", "labels.png", "alpha_person.png", "summary.json"}
    # alphas need probabilities: the job's IMAGE session takes its labels from them, as this one does
    with VideoSession(reference, StreamOptions(RunningMode.IMAGE, smoothing=False, return_probabilities=True)) as s:
        exp = s.parse(img)
    np.testing.assert_array_equal(cv2.imread(str(out / "labels.png"), cv2.IMREAD_UNCHANGED), exp.labels)
    np.testing.assert_array_equal(cv2.imread(str(out / "overlay.png"))[..., ::-1], exp.overlay())

    folder = tmp_path / "pics"
    folder.mkdir()
    cv2.imwrite(str(folder / "x.jpg"), img[..., ::-1])
    cv2.imwrite(str(folder / "y.png"), synthetic_frame(5, 50, 40)[..., ::-1])
    (folder / "z.png").write_bytes(b"broken")
    out = tmp_path / "many"
    rc, _, err = run_cli(capsys, folder, "-o", out, "--model", calibrated_checkpoint)
    assert rc == 0
    assert err.strip().splitlines() == ["tryon-sdk parse: warning: skipped 1 unreadable frame(s) or image(s)"]
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["x.png", "y.png"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_processed"] == 2 and summary["frames_skipped"] == 1
    assert summary["skipped"][0]["file"] == "z.png"


def test_undecodable_frame_is_skipped_and_counted(tmp_path, capsys, calibrated_checkpoint):
    src = make_video(tmp_path / "bad.avi", codec="mjpeg", pix_fmt="yuvj420p", frames=8, corrupt=[3])
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, src, "-o", out, "--model", calibrated_checkpoint)
    assert rc == 0
    assert err.strip().splitlines() == ["tryon-sdk parse: warning: skipped 1 unreadable frame(s) or image(s)"]
    labels, times = read_gray_video(out / "labels.mkv")
    assert len(labels) == 7 and 0.3 not in [round(t, 3) for t in times]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_skipped"] == 1 and summary["frames_processed"] == 7


# ----------------------------------------------------------------------------------- bad input
def _truncated_mp4(d: Path) -> Path:
    data = make_video(d / "full.mp4", frames=10).read_bytes()
    (d / "cut.mp4").write_bytes(data[: len(data) // 2])
    return d / "cut.mp4"


def _not_a_video(d: Path) -> Path:
    (d / "notes.mp4").write_text("meeting notes, not a video")
    return d / "notes.mp4"


def _empty_folder(d: Path) -> Path:
    (d / "empty").mkdir()
    return d / "empty"


@pytest.mark.parametrize(
    "make_input, extra, message",
    [
        (_not_a_video, (), "not a readable video"),
        (_truncated_mp4, (), "not a readable video"),
        (lambda d: make_audio_only(d / "silent.mkv"), (), "no decodable video frames"),
        (lambda d: make_video(d / "v.mp4", frames=5), ("--start", "30"), "no decodable video frames in the selected range"),
        (lambda d: d / "missing.mp4", (), "no such file"),
        (_empty_folder, (), "no images found"),
        (lambda d: make_video(d / "v.mp4", frames=3), ("--regions", "sleeves"), "unknown region"),
        (lambda d: make_video(d / "v.mp4", frames=3), ("--smoothing-ratio", "1.5"), "ratio"),
        (lambda d: make_video(d / "v.mp4", frames=3), ("--outputs", "overlay,masks"), "unknown output"),
    ],
)
def test_bad_input_fails_with_one_line_and_leaves_nothing(tmp_path, capsys, calibrated_checkpoint, make_input, extra, message):
    src = make_input(tmp_path)
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, src, "-o", out, "--model", calibrated_checkpoint, *extra)
    assert rc == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tryon-sdk parse: error:") and message in lines[0], err
    assert file_names(out) == set()  # neither a complete-looking file nor a temporary one


def test_unwritable_output_folder(tmp_path, capsys, calibrated_checkpoint):
    src = make_video(tmp_path / "v.mp4", frames=3)
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output folder should go")
    rc, _, err = run_cli(capsys, src, "-o", blocker / "out", "--model", calibrated_checkpoint)
    assert rc == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot write to output folder" in lines[0]


def test_failed_run_keeps_previous_outputs(tmp_path, capsys, calibrated_checkpoint):
    out = tmp_path / "out"
    rc, _, _ = run_cli(capsys, make_video(tmp_path / "good.mp4", frames=4), "-o", out, "--model", calibrated_checkpoint)
    assert rc == 0
    before = {name: (out / name).read_bytes() for name in file_names(out)}
    rc, _, err = run_cli(capsys, make_audio_only(tmp_path / "silent.mkv"), "-o", out, "--model", calibrated_checkpoint)
    assert rc == 1 and "no decodable video frames" in err
    assert {name: (out / name).read_bytes() for name in file_names(out)} == before


@pytest.mark.slow
def test_ctrl_c_leaves_no_complete_looking_file(tmp_path, calibrated_checkpoint):
    src = make_video(tmp_path / "long.mp4", width=96, height=72, frames=1500, fps=25)  # long enough to be stopped mid-run
    out = tmp_path / "out"
    out.mkdir()
    (out / "overlay.mp4").write_bytes(b"an older result")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # A terminal's foreground process starts with SIGINT at its default, so Python turns it into
    # KeyboardInterrupt. A test run started in the background by a shell without job control
    # (`pytest ... &`, CI wrappers) inherits SIGINT *ignored*, and so would the CLI: Ctrl-C would
    # then never reach it and the run would complete with exit 0. Start it as a terminal would.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tryon_sdk", "parse", str(src), "-o", str(out), "--model", str(calibrated_checkpoint)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not any(".partial-" in n for n in file_names(out)):  # the run has started writing
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "tryon-sdk parse: interrupted"
    assert file_names(out) == {"overlay.mp4"}
    assert (out / "overlay.mp4").read_bytes() == b"an older result"


def test_pipeline_queues_are_bounded(tmp_path, monkeypatch, reference):
    """With the writer stuck, the reader runs ahead only as far as the bounded queues allow."""
    import tryon_sdk.video.jobs.pipeline as pipeline

    decoded = [0]

    class CountingReader(VideoReader):
        def __iter__(self):
            for frame in super().__iter__():
                decoded[0] += 1
                yield frame

    monkeypatch.setattr(pipeline, "VideoReader", CountingReader)
    src = make_video(tmp_path / "long.mp4", width=32, height=24, frames=60)
    ahead: list[int] = []

    def stuck_writer(frame, result):
        if not ahead:  # hold frame 0 for a while: everything upstream fills up
            deadline = time.monotonic() + 2.0
            while decoded[0] < 60 and time.monotonic() < deadline:
                time.sleep(0.01)
            ahead.append(decoded[0])
        return frame

    B = 2
    options = pipeline.PipelineOptions(
        batch_size=B, outputs=("overlay",),
        stream=StreamOptions(compositor=stuck_writer, smoothing=False, limb_consistency=False),
    )
    summary = pipeline.run_pipeline(reference, src, tmp_path / "out", options)
    assert summary["frames_processed"] == 60
    # decoder 1 + frame queue 2B + engine batch B + result queue 2B + render 1 + rendered queue 2B + writer 1
    assert 4 * B < ahead[0] <= 7 * B + 3


def test_iter_video_results_matches_the_pipeline_session(tmp_path, reference):
    from tryon_sdk.video.jobs.pipeline import PipelineOptions, iter_video_results

    src = make_video(tmp_path / "v.mp4", frames=7)
    pairs = list(iter_video_results(reference, src, PipelineOptions(batch_size=3)))
    _, expected = expected_results(reference, src, batch_size=3)
    assert [f.index for f, _ in pairs] == list(range(7))
    for (_, got), exp in zip(pairs, expected):
        np.testing.assert_array_equal(got.labels, exp.labels)
        assert got.timestamp_ms == exp.timestamp_ms


def test_composite_recolor_writes_recoloured_video(tmp_path, capsys, calibrated_checkpoint, reference):
    src = make_video(tmp_path / "in.mp4", width=96, height=72, frames=5)
    out = tmp_path / "out"
    rc, _, err = run_cli(
        capsys, src, "-o", out, "--model", calibrated_checkpoint, "--composite", "recolor", "--region", "person",
        "--color", "#1e90ff", "--no-smoothing", "--no-limb-consistency",
    )
    assert rc == 0, err
    assert file_names(out) == {"recolor.mp4", "labels.mkv", "summary.json"}  # named for what it shows
    recoloured, _, _ = read_video(out / "recolor.mp4")
    source, _, _ = read_video(src)
    labels, _ = read_gray_video(out / "labels.mkv")
    assert len(recoloured) == len(source) == len(labels) == 5
    kernel = np.ones((9, 9), np.uint8)
    inside_px = outside_px = 0
    for rec, orig, lab in zip(recoloured, source, labels):
        person = (lab > 0).astype(np.uint8)
        inside = cv2.erode(person, kernel) > 0
        outside = cv2.dilate(person, kernel) == 0
        rec, orig = rec.astype(np.float32), orig.astype(np.float32)
        if inside.any():
            blueness = lambda im, inside=inside: (im[..., 2] - im[..., 0])[inside].mean()  # noqa: E731
            assert blueness(rec) > blueness(orig) + 30
            inside_px += int(inside.sum())
        if outside.any():
            assert np.abs(rec - orig)[outside].mean() < 6  # only codec noise outside the region
            outside_px += int(outside.sum())
    assert inside_px > 0 and outside_px > 0


# ----------------------------------------------------------------------------------- reruns
def test_rerun_of_another_kind_removes_our_stale_outputs(tmp_path, capsys, calibrated_checkpoint):
    out = tmp_path / "out"
    src = make_video(tmp_path / "v.mp4", frames=4)
    rc, _, err = run_cli(capsys, src, "-o", out, "--model", calibrated_checkpoint, "--regions", "person")
    assert rc == 0, err
    assert file_names(out) == {"overlay.mp4", "labels.mkv", "alpha_person.mkv", "summary.json"}
    (out / "notes.txt").write_text("the user's own file")

    folder = tmp_path / "pics"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), synthetic_frame(1, 40, 30)[..., ::-1])
    rc, _, err = run_cli(capsys, folder, "-o", out, "--model", calibrated_checkpoint)
    assert rc == 0, err
    assert file_names(out) == {"overlay", "labels", "summary.json", "notes.txt"}  # no old overlay.mp4 beside overlay/
    summary = json.loads((out / "summary.json").read_text())
    assert summary["outputs"] == {"overlay": "overlay", "labels": "labels", "summary": "summary.json"}
    assert summary["stale_removed"] == ["alpha_person.mkv", "labels.mkv", "overlay.mp4"]

    # and back: a recoloured video where the overlay folder was
    rc, _, err = run_cli(capsys, src, "-o", out, "--model", calibrated_checkpoint, "--composite", "recolor", "--outputs", "overlay,summary")
    assert rc == 0, err
    assert file_names(out) == {"recolor.mp4", "summary.json", "notes.txt"}
    assert json.loads((out / "summary.json").read_text())["stale_removed"] == ["labels", "overlay"]


def test_outputs_get_the_mode_of_any_new_file(tmp_path, capsys, calibrated_checkpoint):
    out = tmp_path / "out"
    rc, _, err = run_cli(capsys, make_video(tmp_path / "v.mp4", frames=3), "-o", out, "--model", calibrated_checkpoint,
                         "--regions", "person", "--mask-format", "png")  # fmt: skip
    assert rc == 0, err
    (tmp_path / "plain.txt").write_text("x")
    mode = (tmp_path / "plain.txt").stat().st_mode & 0o777
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 4 and all(p.stat().st_mode & 0o777 == mode for p in files), [(p.name, oct(p.stat().st_mode)) for p in files]


# ----------------------------------------------------------------------------------- large frames
def test_large_frames_are_parsed_at_the_working_size(tmp_path, reference):
    """Above work_pixels a frame is parsed downscaled; labels and alphas come back at the frame's size."""
    import tryon_sdk.video.jobs.pipeline as pipeline

    src = make_video(tmp_path / "big.mp4", width=160, height=120, frames=5)
    options = pipeline.PipelineOptions(work_pixels=80 * 60, regions=("person",), mask_format="png")
    summary = pipeline.run_pipeline(reference, src, tmp_path / "out", options)
    assert summary["work_size"] == [60, 80] and summary["frames_processed"] == 5
    frames = list(VideoReader(src))
    small = [cv2.resize(f.image, (80, 60), interpolation=cv2.INTER_AREA) for f in frames]
    with VideoSession(reference, StreamOptions(RunningMode.VIDEO, return_probabilities=True)) as s:
        expected = s.parse_many(small, [f.timestamp_ms for f in frames])  # what the pipeline parses
    for i, exp in enumerate(expected):
        labels = cv2.imread(str(tmp_path / "out" / "labels" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert labels.shape == (120, 160)
        np.testing.assert_array_equal(labels, cv2.resize(exp.labels, (160, 120), interpolation=cv2.INTER_NEAREST_EXACT))
        alpha = cv2.imread(str(tmp_path / "out" / "alpha_person" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        small_alpha = np.clip(exp.region("person") * 255 + 0.5, 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(alpha, cv2.resize(small_alpha, (160, 120), interpolation=cv2.INTER_LINEAR))
    # the overlay is drawn on the full frame with the scaled-up labels (lossy video: compare on average)
    from tryon_sdk.visualize import overlay

    shown, _, facts = read_video(tmp_path / "out" / "overlay.mp4")
    assert (facts["width"], facts["height"]) == (160, 120)
    for i in (0, 4):
        labels = cv2.imread(str(tmp_path / "out" / "labels" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        assert np.abs(shown[i].astype(int) - overlay(frames[i].image, labels).astype(int)).mean() < 6

    full = pipeline.run_pipeline(reference, src, tmp_path / "full", pipeline.PipelineOptions(work_pixels=None))
    assert full["work_size"] == [120, 160]


def test_probability_budget_holds_large_frames_one_at_a_time(tmp_path, monkeypatch, reference):
    """With room for one frame's probabilities per two engine calls, the engine takes one frame per call."""
    import tryon_sdk.video.jobs.options
    import tryon_sdk.video.jobs.pipeline as pipeline

    src = make_video(tmp_path / "v.mp4", width=64, height=48, frames=9)
    one_map = reference.config.num_classes * 48 * 64 * 4
    monkeypatch.setattr(tryon_sdk.video.jobs.options, "PROBABILITY_BYTES", one_map)
    calls: list[int] = []
    original = reference.predict_grids

    def predict_grids(images, **kw):
        calls.append(len(images))
        return original(images, **kw)

    monkeypatch.setattr(reference, "predict_grids", predict_grids)
    summary = pipeline.run_pipeline(reference, src, tmp_path / "out", pipeline.PipelineOptions(batch_size=4))
    assert summary["frames_processed"] == 9
    assert calls == [1] * 9
    _, expected = expected_results(reference, src, batch_size=1)
    labels, _ = read_gray_video(tmp_path / "out" / "labels.mkv")
    for got, exp in zip(labels, expected):
        np.testing.assert_array_equal(got, exp.labels)


def test_working_size_results_are_restated_at_the_frame_size():
    """Pixel measures of a working-size result (stride, people's boxes and areas when present) scale with it."""
    import dataclasses

    from tryon_sdk.result import ParseResult
    from tryon_sdk.video.jobs.stages import at_frame_size as _at_frame_size
    from tryon_sdk.regions import Box

    small = np.zeros((30, 40), np.uint8)
    small[10:20, 10:30] = 4
    fields = {f.name for f in dataclasses.fields(ParseResult)}
    result = ParseResult(small, np.zeros((18, 30, 40), np.float32), np.zeros((30, 40, 3), np.uint8), stride_px=8.0)
    if "people" in fields:
        @dataclasses.dataclass(frozen=True)
        class Someone:  # the shape of a person entry: a box and an area
            box: Box
            area: int

        result = dataclasses.replace(result, people=(Someone(Box(10, 10, 30, 20), 200),))
    big_labels = cv2.resize(small, (80, 60), interpolation=cv2.INTER_NEAREST_EXACT)
    frame = np.full((60, 80, 3), 7, np.uint8)
    big = _at_frame_size(result, big_labels, frame)
    assert big.labels is big_labels and big.image is frame and big.probabilities is None
    assert big.stride_px == 16.0 and big.timestamp_ms == result.timestamp_ms
    if "people" in fields:
        assert big.people[0].box == Box(20, 20, 60, 40) and big.people[0].area == 800
