"""Offline pipeline (``tryon-sdk parse``) throughput vs the bare model forward on the same frames.

Goal: pipeline throughput >= 0.9x the bare forward's, i.e. decoding, the
temporal stages and encoding are hidden behind inference.

Frames: the first ``N`` (``$TRYON_BENCH_FRAMES``, 64) frames of the real clip (Intel IoT DevKit sample
videos, CC BY 4.0) when ``../shared/data/video`` has it, else a generated
768x432 video. Model: the bundled default as ``tryon-sdk parse`` runs it
(ONNX Runtime on the CPU); the bare forward is its engine on the frames
letterboxed whole to the model's input, batch 4, inputs prepared beforehand.
The pipeline parses people first (a detection pass, then a crop per person),
so it runs the network about twice per frame where the bare forward runs it
once.

Three configurations: the default outputs (overlay video, labels, summary) with smoothing and limbs, the
same without the temporal stages, and labels + summary only (no preview video to draw and encode).

The forward pass and the pipeline runs alternate, ``ROUNDS`` times, and the
fastest run of each is recorded: on a shared machine the load changes over
minutes, and alternating exposes both to the same conditions. The second
ratio (engine time / wall time of the same pipeline run) is immune to that.
On a few shared cores run it with ``OMP_WAIT_POLICY=PASSIVE`` (spinning
OpenMP workers make CPU inference up to 5x slower there)::

    OMP_WAIT_POLICY=PASSIVE pytest benchmarks/bench_pipeline.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from tryon_sdk import Parser
from tryon_sdk.video.jobs.options import PipelineOptions
from tryon_sdk.video.stream import StreamOptions
from tryon_sdk.video.jobs.pipeline import run_pipeline
from tryon_sdk.preprocess import Preprocess
from tryon_sdk.video.io.reader import VideoReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from videos import make_video  # noqa: E402
from shared_clip import REAL_CLIP as REAL, timed as _timed  # noqa: E402

FRAMES = int(os.environ.get("TRYON_BENCH_FRAMES", "64"))  # enough for start-up (first search, encoders) to wash out
ROUNDS = int(os.environ.get("TRYON_BENCH_ROUNDS", "3"))
BATCH = 4
def test_pipeline_vs_forward(tmp_path, record, ratio):
    src = REAL if REAL.is_file() else make_video(tmp_path / "clip.mp4", width=768, height=432, frames=FRAMES, steady=True)
    parser = Parser.from_pretrained(device="cpu")
    cfg = parser.config
    frames = [f.image for f in VideoReader(src, max_frames=FRAMES)]
    assert len(frames) == FRAMES
    batches = []
    for i in range(0, FRAMES, BATCH):
        tensors = [torch.from_numpy(im).permute(2, 0, 1) for im in frames[i : i + BATCH]]
        batches.append(Preprocess.from_config(cfg)(tensors)[0])

    def forward() -> None:
        for b in batches:
            parser.engine(b)

    configs = {
        "smoothing+limbs": PipelineOptions(max_frames=FRAMES, batch_size=BATCH),
        "no temporal stages": PipelineOptions(
            max_frames=FRAMES, batch_size=BATCH, stream=StreamOptions(smoothing=False, limb_consistency=False)
        ),
        # no overlay video: what drawing and H.264-encoding the preview costs on the same cores
        "smoothing+limbs, labels + summary only": PipelineOptions(
            max_frames=FRAMES, batch_size=BATCH, outputs=("labels", "summary")
        ),
    }
    best = {"forward": float("inf"), **{k: float("inf") for k in configs}}
    engine_share: dict[str, tuple[float, float]] = {}  # engine time, wall time of the same (fastest) run
    forward()  # warm-up
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        forward()
        best["forward"] = min(best["forward"], time.perf_counter() - t0)
        for name, options in configs.items():
            t0 = time.perf_counter()
            summary = run_pipeline(parser, src, tmp_path / "out", options)
            wall = time.perf_counter() - t0
            assert summary["frames_processed"] == FRAMES
            if wall < best[name]:
                best[name] = wall
                engine_share[name] = (summary["timings_s"]["inference"], wall)

    fwd = f"forward {FRAMES} frames (batch {BATCH}, best of {ROUNDS})"
    record(fwd, _timed(best["forward"]))
    for name in configs:
        label = f"parse pipeline {FRAMES} frames, {name} (best of {ROUNDS})"
        record(label, _timed(best[name]))
        ratio(f"pipeline throughput / bare forward ({name})", fwd, label, ">= 0.9")
        # within one run the engine stage and the wall clock see the same machine load
        engine, wall = engine_share[name]
        record(f"engine stage inside that run ({name})", _timed(engine))
        ratio(f"engine busy share of pipeline wall ({name}, same run)", f"engine stage inside that run ({name})", label, ">= 0.9")
