"""``tryon-sdk eval-video`` and :func:`tryon_sdk.video.evaluation.evaluate.evaluate_video`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tryon_sdk import Parser
from tryon_sdk.cli import main
from tryon_sdk.video.evaluation.evaluate import EVAL_CONFIGS, EVAL_GOALS, ConfigStream, evaluate_video
from tryon_sdk.video.stream import RunningMode, StreamOptions, VideoSession
from tryon_sdk.video.io.reader import VideoReader
from tryon_sdk.video.evaluation.measures import compute_video_metrics

from videos import make_video


@pytest.fixture(scope="module")
def steady_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("eval") / "steady.mp4", width=80, height=60, frames=8, steady=True)


def test_every_configuration_is_measured(calibrated_parser, steady_video):
    report = evaluate_video(calibrated_parser, steady_video, batch_size=3)
    assert report["frames"] == 8 and set(report["configs"]) == set(EVAL_CONFIGS)
    raw, smooth = report["configs"]["raw"], report["configs"]["smoothing"]
    assert raw["agreement"] == 1.0 and raw["flicker_ratio"] == 1.0
    assert smooth["flicker"] < raw["flicker"] and smooth["agreement"] < 1.0  # smoothing acts on a steady scene
    assert set(report["goals"]) == set(EVAL_GOALS)
    assert report["goals"]["agreement"]["value"] == report["configs"]["smoothing+limbs"]["agreement"]

    # the shared engine pass gives what separate sessions give (up to batching round-off near ties)
    frames = list(VideoReader(steady_video))
    labels = {}
    for name in ("raw", "smoothing"):
        opts = StreamOptions(RunningMode.VIDEO, smoothing=name == "smoothing", limb_consistency=False)
        with VideoSession(calibrated_parser, opts) as s:
            labels[name] = [s.parse(f.image, f.timestamp_ms).labels for f in frames]
    ref = compute_video_metrics(labels["smoothing"], raw=labels["raw"])
    assert smooth["flicker"] == pytest.approx(ref.flicker, abs=0.01)
    assert smooth["agreement"] == pytest.approx(ref.agreement, abs=0.01)


def test_flip_equivariance_compares_with_the_mirrored_video(calibrated_parser, steady_video):
    tta = Parser(calibrated_parser.engine, flip_tta=True)  # averaging with the mirrored prediction is equivariant by design
    exact = evaluate_video(tta, steady_video, max_frames=4, batch_size=2)["configs"]["raw"]["flip_equivariance"]
    plain = evaluate_video(calibrated_parser, steady_video, max_frames=4, batch_size=2)["configs"]["raw"]["flip_equivariance"]
    assert exact == pytest.approx(1.0, abs=0.005)  # exact up to float round-off at near-ties
    assert plain < 0.5


def test_cli_json_report(tmp_path, capsys, calibrated_parser, steady_video):
    ckpt = calibrated_parser.save_pretrained(tmp_path / "ckpt")
    rc = main(["eval-video", str(steady_video), "--model", str(ckpt), "--json", "--max-frames", "3", "--no-flip"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    report = json.loads(out)
    assert report["frames"] == 3 and report["options"]["max_frames"] == 3
    assert all(m["flip_equivariance"] is None for m in report["configs"].values())
    assert report["goals"]["flip_equivariance"]["met"] is None
    rc = main(["eval-video", str(steady_video), "--model", str(ckpt), "--max-frames", "2", "--no-flip"])
    table = capsys.readouterr().out
    assert rc == 0 and all(name in table for name in EVAL_CONFIGS)


def test_cli_bad_input(tmp_path, capsys, calibrated_parser):
    ckpt = calibrated_parser.save_pretrained(tmp_path / "ckpt")
    (tmp_path / "x.mp4").write_text("not a video")
    rc = main(["eval-video", str(tmp_path / "x.mp4"), "--model", str(ckpt)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and err[0].startswith("tryon-sdk eval-video: error:") and "not a readable video" in err[0]


def test_real_clip(real_video, tmp_path, capsys, calibrated_parser):
    """A few frames of the Intel IoT DevKit sample clip (CC BY 4.0), with the tiny random model."""
    ckpt = calibrated_parser.save_pretrained(tmp_path / "ckpt")
    rc = main(["eval-video", str(real_video), "--model", str(ckpt), "--json", "--max-frames", "3", "--batch-size", "3"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    report = json.loads(out)
    info = report["input"]
    assert (info["width"], info["height"], info["fps"], info["has_audio"]) == (768, 432, 10.0, False)
    assert report["frames"] == 3 and report["configs"]["raw"]["agreement"] == 1.0


def test_cli_flip_tta_option_makes_parses_equivariant(tmp_path, capsys, calibrated_parser, steady_video):
    ckpt = calibrated_parser.save_pretrained(tmp_path / "ckpt")
    rc = main(["eval-video", str(steady_video), "--model", str(ckpt), "--json", "--max-frames", "3", "--flip-tta"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["configs"]["raw"]["flip_equivariance"] == pytest.approx(1.0, abs=0.005)


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys, monkeypatch, calibrated_parser, steady_video):
    from tryon_sdk.video.jobs.progress import LineProgress

    ckpt = calibrated_parser.save_pretrained(tmp_path / "ckpt")
    ticks = iter(range(0, 10_000, 20))  # every frame batch looks 20 s after the last: a line each time
    monkeypatch.setattr(LineProgress, "clock", staticmethod(lambda: float(next(ticks))))
    rc = main(["eval-video", str(steady_video), "--model", str(ckpt), "--json", "--batch-size", "2", "--no-flip"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("eval-video steady.mp4: 2/8 frames (25%),") and "fps" in lines[0]
    assert lines[-1].startswith("eval-video steady.mp4: done, 8 frames in") and lines[-1].endswith("fps)")
    assert "\r" not in err  # plain lines for logs, no bar redraws
    assert json.loads(out)["fps"] > 0
    rc = main(["eval-video", str(steady_video), "--model", str(ckpt), "--no-flip", "--no-progress"])
    assert rc == 0 and capsys.readouterr().err == ""


def test_shared_stages_give_what_separate_sessions_give(calibrated_parser, steady_video):
    """Every configuration's labels equal those of its own VideoSession, mirrored input too."""
    frames = list(VideoReader(steady_video))
    images = [f.image for f in frames]
    stamps = [f.timestamp_ms for f in frames]
    for mirrored in (False, True):
        stream = ConfigStream(True, True, mirrored)
        got = []
        for i in range(0, len(frames), 3):
            probs = calibrated_parser.predict_grids(images[i : i + 3])
            got += stream.run(images[i : i + 3], probs, stamps[i : i + 3])
        for name, (smooth, limbs) in EVAL_CONFIGS.items():
            opts = StreamOptions(RunningMode.VIDEO, smoothing=smooth, limb_consistency=limbs, mirrored=mirrored)
            with VideoSession(calibrated_parser, opts) as s:
                ref = []
                for i in range(0, len(frames), 3):
                    ref += s.parse_many(images[i : i + 3], stamps[i : i + 3])
            for g, r in zip(got, ref):
                np.testing.assert_array_equal(g[name], r.labels, err_msg=f"{name} mirrored={mirrored}")
