"""Offline pipeline (``tryon-sdk parse``) throughput vs the bare model forward on the same frames.

Goal: pipeline throughput >= 0.9x the bare forward's, i.e. decoding, the
temporal stages and encoding are (nearly) hidden behind inference.

Frames: the first ``N`` frames of the real clip (Intel IoT DevKit sample
videos, CC BY 4.0) when ``../shared/data/video`` has it, else a generated
768x432 video. Model: the default MobileNetV3-Large DeepLabV3 config
(512x384 input) with random weights (the cost does not depend on them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from tryon_sdk import Parser
from tryon_sdk.pipeline import PipelineOptions, run_pipeline
from tryon_sdk.preprocess import to_model_input
from tryon_sdk.video_io import VideoReader

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from videos import make_video  # noqa: E402

FRAMES = int(os.environ.get("TRYON_BENCH_FRAMES", "16"))
BATCH = 4
REAL = Path(os.environ.get("TRYON_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "video" / "one-by-one-person-detection.mp4"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench_pipeline")
    src = REAL if REAL.is_file() else make_video(tmp / "clip.mp4", width=768, height=432, frames=FRAMES, steady=True)
    torch.manual_seed(0)
    parser = Parser.from_config(device="cpu")
    frames = [f.image for f in VideoReader(src, max_frames=FRAMES)]
    cfg = parser.config
    batches = []
    for i in range(0, len(frames), BATCH):
        tensors = [torch.from_numpy(im).permute(2, 0, 1) for im in frames[i : i + BATCH]]
        batches.append(to_model_input(tensors, cfg.input_size, cfg.mean, cfg.std, cfg.size_multiple)[0])
    return src, parser, batches, tmp


def test_forward(benchmark, setup, record):
    _, parser, batches, _ = setup
    model = parser.engine.model

    def forward():
        with torch.inference_mode():
            for b in batches:
                model(b)["out"]

    benchmark.pedantic(forward, rounds=3, warmup_rounds=1)
    record(f"forward {FRAMES} frames (batch {BATCH})", benchmark)


@pytest.mark.parametrize("stages", ["smoothing+limbs", "none"])
def test_pipeline(benchmark, setup, record, ratio, stages):
    src, parser, _, tmp = setup
    on = stages != "none"
    options = PipelineOptions(max_frames=FRAMES, batch_size=BATCH, smoothing=on, limb_consistency=on)
    benchmark.pedantic(run_pipeline, args=(parser, src, tmp / f"out-{stages}", options), rounds=3, warmup_rounds=1)
    name = f"parse pipeline {FRAMES} frames, {stages} (overlay+labels+summary)"
    record(name, benchmark)
    ratio(f"pipeline throughput / bare forward ({stages})", f"forward {FRAMES} frames (batch {BATCH})", name, ">= 0.9")
