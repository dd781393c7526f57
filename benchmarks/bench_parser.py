"""``Parser.parse`` against the bare network forward on the same input (the bundled default model, CPU).

Goal: parse overhead (preprocessing, softmax, labels at the frame's size, the people and their facing,
copies) <= 10% over the forward passes it runs, i.e. ``parse / forward <= 1.10``.

Frames: the first ``N`` (``$TRYON_BENCH_FRAMES``, 16) frames with a person of the real clip (768x432;
Intel IoT DevKit sample videos, CC BY 4.0) when ``../shared/data/video`` has it, else generated 768x432
frames. "The same input" is what ``parse`` hands the engine: every batch it runs is recorded once and the
bare forward runs exactly those batches (one per frame for the whole frame; for people first, the
detection pass and the crops). The two alternate ``ROUNDS`` times and the fastest run of each is kept, so
both see the same machine load::

    OMP_WAIT_POLICY=PASSIVE pytest benchmarks/bench_parser.py --benchmark-enable -q -s
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from tryon_sdk import Parser

from shared_clip import REAL_CLIP, timed

FRAMES = int(os.environ.get("TRYON_BENCH_FRAMES", "16"))
ROUNDS = int(os.environ.get("TRYON_BENCH_ROUNDS", "3"))
FIRST_WITH_A_PERSON = 84  # a person stands at the table from here on


class _Recorder:
    """The parser's engine, recording every batch it is given."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.batches: list[torch.Tensor] = []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        self.batches.append(batch.clone())
        return self.engine(batch)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    if REAL_CLIP.is_file():
        from tryon_sdk.video.io.reader import VideoReader

        out = [f.image for f in VideoReader(REAL_CLIP, max_frames=FIRST_WITH_A_PERSON + FRAMES)]
        return out[FIRST_WITH_A_PERSON:]
    from tryon_sdk.video.io.sample import sample_frames

    return [np.ascontiguousarray(f) for f, _ in sample_frames(FRAMES, size=(432, 768))]


@pytest.mark.parametrize("roi", [False, None], ids=["whole frame", "people first"])
def test_parse_vs_forward(frames, roi, record, ratio):
    parser = Parser.from_pretrained(device="cpu")
    engine = parser.engine
    recorder = _Recorder(engine)
    parser.predictor.engine = recorder
    results = [parser.parse(f, roi=roi) for f in frames]
    parser.predictor.engine = engine
    batches = recorder.batches
    assert all(r.labels.shape == f.shape[:2] for r, f in zip(results, frames))

    def forward() -> None:
        for b in batches:
            engine(b)

    def parse() -> None:
        for f in frames:
            parser.parse(f, roi=roi)

    best = {"forward": float("inf"), "parse": float("inf")}
    forward(), parse()  # warm-up
    for _ in range(ROUNDS):
        for name, fn in (("forward", forward), ("parse", parse)):
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / len(frames))
    mode = "whole frame" if roi is False else "people first"
    fwd = f"bare forward per clip frame, {mode} ({len(batches) / len(frames):.2f} batches per frame)"
    label = f"Parser.parse per clip frame, {mode}"
    record(fwd, timed(best["forward"]))
    record(label, timed(best["parse"]))
    ratio(f"parse / forward on the same input, {mode}", label, fwd, "<= 1.10")
