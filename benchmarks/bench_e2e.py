"""Default model, end to end per frame, torch and ONNX Runtime engines.

Per frame: a 640x480 RGB frame (VGA webcam) -> VIDEO session (letterbox,
engine, softmax, temporal smoothing, limb consistency) -> ``ParseResult``,
and the same followed by the ``recolor`` compositor (what the webcam demo
and ``tryon-sdk parse --composite recolor`` do per frame, minus I/O).

Goal: >= 30 frames per second on 2 CPU cores (reported as the ratio
``one second / time per frame``).

Model: the bundled default model (``tryon_sdk/weights/default``) when it is
there, else a random-weight DeepLabV3 MobileNetV3-Large at the default input
size (512x384); the run prints which, and ``extra_info["model"]`` records it.
Frames: the bundled drawn sample (a person walking), cycled.

    .venv/bin/pytest benchmarks/bench_e2e.py --benchmark-enable -q
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tryon_sdk import Parser
from tryon_sdk.compositor import make_compositor
from tryon_sdk.errors import CheckpointError
from tryon_sdk.sample import sample_frames
from tryon_sdk.stream import open_stream

FRAME_SIZE = (480, 640)
N_FRAMES = 8
SMOKE_FRAME_SIZE = (120, 160)
ONE_SECOND = "one second"


def _default_parser() -> tuple[Parser, str]:
    try:
        return Parser.from_pretrained(device="cpu"), "bundled default model"
    except CheckpointError:
        torch.manual_seed(0)
        parser = Parser.from_config(device="cpu")
        c = parser.config
        return parser, f"random-weight {c.architecture}/{c.backbone} {c.input_size[0]}x{c.input_size[1]} (no bundled default model yet)"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    parser, label = _default_parser()
    engines = {"torch": parser}
    try:
        from tryon_sdk.export import export_onnx

        path = export_onnx(parser, tmp_path_factory.mktemp("bench_e2e") / "default.onnx")
        engines["onnxruntime"] = Parser.from_pretrained(path, device="cpu")
    except ImportError:
        pass
    return engines, label


@pytest.fixture(scope="module")
def frames():
    return {size: [f for f, _ in sample_frames(N_FRAMES, size=size)] for size in (FRAME_SIZE, SMOKE_FRAME_SIZE)}


class _Step:
    """One frame per call through a VIDEO session, cycling the frames with increasing timestamps."""

    def __init__(self, session, frames, compositor=None) -> None:
        self.session, self.frames, self.compositor, self.i = session, frames, compositor, 0

    def __call__(self):
        frame = self.frames[self.i % len(self.frames)]
        result = self.session.parse(frame, 33 * self.i)
        self.i += 1
        return self.compositor(frame, result) if self.compositor is not None else result


@pytest.mark.parametrize("stages", ["session", "session+recolor"])
@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
def test_e2e(benchmark, models, frames, engine, stages, record, ratio, capsys):
    engines, label = models
    if engine not in engines:
        pytest.skip("onnxruntime is not installed")
    parser = engines[engine]
    smoke = benchmark.disabled
    threads = torch.get_num_threads()
    if smoke:  # --benchmark-disable: one quick pass over the code path
        torch.set_num_threads(1)
    size = SMOKE_FRAME_SIZE if smoke else FRAME_SIZE
    compositor = make_compositor("recolor", region="upper_body", color="#1e90ff") if "recolor" in stages else None
    try:
        with open_stream(parser, mode="video") as session:
            step = _Step(session, frames[size], compositor)
            benchmark.extra_info.update(model=label, engine=engine, frame=list(size), threads=torch.get_num_threads())
            benchmark.pedantic(step, rounds=12, warmup_rounds=3)
    finally:
        torch.set_num_threads(threads)
    if smoke:
        return
    name = f"e2e {stages} {engine} {size[1]}x{size[0]}"
    record(name, benchmark)
    # The goal is in frames per second: report it as the ratio (one second) / (time per frame).
    record(ONE_SECOND, SimpleNamespace(stats=SimpleNamespace(mean=1.0)))
    ratio(f"e2e fps, {stages}, {engine} ({label})", ONE_SECOND, name, ">= 30")
    with capsys.disabled():
        print(f"\n[bench_e2e] model: {label}")
