"""``eval-video`` throughput against ``parse`` on the same frames (default model, CPU).

``evaluate_video`` runs the four configurations of ``EVAL_CONFIGS`` (and, with flip
equivariance, the mirrored video: twice the network work); ``run_pipeline`` runs one
configuration and encodes. Goal: ``--no-flip`` evaluation about as fast as parsing.
Frames: the first ``N`` frames of the real clip (Intel IoT DevKit sample videos,
CC BY 4.0) when ``../shared/data/video`` has it, else a generated 768x432 video. The
runs alternate, ``ROUNDS`` times, and the fastest of each is recorded (shared machines)::

    OMP_WAIT_POLICY=PASSIVE pytest benchmarks/bench_eval.py --benchmark-enable
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tryon_sdk import Parser
from tryon_sdk.video.evaluation.evaluate import evaluate_video
from tryon_sdk.video.jobs.pipeline import PipelineOptions, run_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from videos import make_video  # noqa: E402
from shared_clip import REAL_CLIP as REAL, timed as _timed  # noqa: E402

FRAMES = int(os.environ.get("TRYON_BENCH_FRAMES", "40"))
ROUNDS = int(os.environ.get("TRYON_BENCH_ROUNDS", "2"))
def test_eval_video_vs_parse(tmp_path, benchmark, record, ratio):
    frames = FRAMES if not benchmark.disabled else 2
    rounds = ROUNDS if not benchmark.disabled else 1
    src = REAL if REAL.is_file() else make_video(tmp_path / "clip.mp4", width=768, height=432, frames=frames, steady=True)
    parser = Parser.from_pretrained(device="cpu")
    runs = {
        "parse": lambda: run_pipeline(parser, src, tmp_path / "out", PipelineOptions(max_frames=frames))["frames_processed"],
        "eval-video": lambda: evaluate_video(parser, src, max_frames=frames)["frames"],
        "eval-video --no-flip": lambda: evaluate_video(parser, src, max_frames=frames, flip=False)["frames"],
    }
    best = {name: float("inf") for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            assert run() == frames
            best[name] = min(best[name], time.perf_counter() - t0)
    if benchmark.disabled:  # the smoke run checks that everything runs; 2 frames time nothing
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)
        return
    for name, seconds in best.items():
        record(f"{name} {frames} frames (best of {rounds})", _timed(seconds))
        if name != "parse":
            goal = "~1 (as fast as parse)" if "no-flip" in name else "~2 (twice the network work)"
            ratio(f"{name} wall / parse wall", f"{name} {frames} frames (best of {rounds})",
                  f"parse {frames} frames (best of {rounds})", goal)  # fmt: skip
    benchmark.extra_info.update({k: round(v, 3) for k, v in best.items()})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
