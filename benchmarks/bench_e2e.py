"""Default model, end to end per frame, torch and ONNX Runtime engines.

Engines: torch fp32, torch bf16 autocast + channels_last (fastest torch
setting on AMX CPUs), ONNX Runtime. Per frame: a 640x480 RGB frame (VGA webcam) -> VIDEO session (letterbox,
engine, softmax, temporal smoothing, limb consistency) -> ``ParseResult``,
and the same followed by the ``recolor`` compositor (what the webcam demo
and ``tryon-sdk parse --composite recolor`` do per frame, minus I/O).

Goal: >= 30 frames per second on 2 CPU cores (reported as the ratio
``one second / time per frame``). ``test_e2e_real_clip`` measures the same on
24 real 768x432 frames of the shared clip: ``Parser.parse`` (IMAGE) and a VIDEO
session, people first and whole frame, torch and ONNX Runtime.

Model: the bundled default model (``tryon_sdk/weights/default``) when it is
there, else a random-weight DeepLabV3 MobileNetV3-Large at the default input
size (512x384); the run prints which, and ``extra_info["model"]`` records it.
Frames: the bundled drawn sample (a person walking), cycled. Threads:
``$TRYON_BENCH_THREADS`` sets torch's and ONNX Runtime's intra-op threads (default: all cores).

    .venv/bin/pytest benchmarks/bench_e2e.py --benchmark-enable -q
"""

from __future__ import annotations

import contextlib
import os

import pytest
import torch

from tryon_sdk import Parser
from tryon_sdk.compositor import make_compositor
from tryon_sdk.engines.torch_engine import TorchEngine
from tryon_sdk.errors import CheckpointError
from tryon_sdk.video.io.sample import sample_frames
from tryon_sdk.video.stream import StreamOptions, open_stream

from shared_clip import REAL_CLIP, timed

FRAME_SIZE = (480, 640)
N_FRAMES = 8
SMOKE_FRAME_SIZE = (120, 160)
ONE_SECOND = "one second"
THREADS = int(os.environ["TRYON_BENCH_THREADS"]) if os.environ.get("TRYON_BENCH_THREADS") else None


def _default_parser() -> tuple[Parser, str]:
    try:
        return Parser.from_pretrained(device="cpu", runtime="torch"), "bundled default model"
    except CheckpointError:
        torch.manual_seed(0)
        parser = Parser.from_config(device="cpu")
        c = parser.config
        return parser, f"random-weight {c.architecture}/{c.backbone} {c.input_size[0]}x{c.input_size[1]} (no bundled default model yet)"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    parser, label = _default_parser()
    fast = Parser(TorchEngine(parser.model, parser.config, device="cpu", precision="bf16", channels_last=True))
    engines = {"torch": parser, "torch bf16+channels_last": fast}
    try:

        path = parser.export_onnx(tmp_path_factory.mktemp("bench_e2e") / "default.onnx")
        from tryon_sdk.engines.onnx_engine import OnnxEngine

        engines["onnxruntime"] = Parser(OnnxEngine(path, device="cpu", threads=THREADS))
    except ImportError:
        pass
    return engines, label


@pytest.fixture(scope="module")
def frames():
    return {size: [f for f, _ in sample_frames(N_FRAMES, size=size)] for size in (FRAME_SIZE, SMOKE_FRAME_SIZE)}


def _engine(models, name: str) -> tuple[Parser, str]:
    """The parser for an engine name and the model's label, or a skip when its runtime is missing."""
    engines, label = models
    if name not in engines:
        pytest.skip("onnxruntime is not installed")
    return engines[name], label


@contextlib.contextmanager
def _threads(n: int | None):
    """torch's intra-op threads set to ``n`` (``None``: unchanged) inside the block, restored after it."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
@pytest.mark.parametrize("engine", ["torch", "torch bf16+channels_last", "onnxruntime"])
def test_e2e(benchmark, models, frames, engine, stages, record, ratio, capsys):
    parser, label = _engine(models, engine)
    smoke = benchmark.disabled
    size = SMOKE_FRAME_SIZE if smoke else FRAME_SIZE
    compositor = make_compositor("recolor", region="upper_body", color="#1e90ff") if "recolor" in stages else None
    with _threads(1 if smoke else THREADS):  # smoke (--benchmark-disable): one quick pass over the code path
        with open_stream(parser, StreamOptions(running_mode="video")) as session:
            step = _Step(session, frames[size], compositor)
            benchmark.extra_info.update(model=label, engine=engine, frame=list(size), threads=torch.get_num_threads())
            benchmark.pedantic(step, rounds=12, warmup_rounds=3)
    if smoke:
        return
    name = f"e2e {stages} {engine} {size[1]}x{size[0]}"
    record(name, benchmark)
    # The goal is in frames per second: report it as the ratio (one second) / (time per frame).
    record(ONE_SECOND, timed(1.0))
    ratio(f"e2e fps, {stages}, {engine} ({label})", ONE_SECOND, name, ">= 30")
    with capsys.disabled():
        print(f"\n[bench_e2e] model: {label}")


# ------------------------------------------------------ real clip frames
@pytest.fixture(scope="module")
def clip_frames():
    """24 real 768x432 frames of the shared clip (a person standing at the table), or a skip with the reason."""
    import av

    path = REAL_CLIP
    if not path.is_file():
        pytest.skip(f"real clip not found at {path} (set TRYON_SHARED_DATA)")
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for i, f in zip(range(524), c.decode(video=0)) if i >= 500]


@pytest.mark.parametrize("roi", [True, False], ids=["people first", "whole frame"])
@pytest.mark.parametrize("mode", ["image", "video"])
@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
def test_e2e_real_clip(benchmark, models, clip_frames, engine, mode, roi, record, ratio):
    """Frames per second on real 768x432 footage: ``Parser.parse`` (IMAGE) or a VIDEO session with smoothing + limbs."""
    parser, label = _engine(models, engine)
    smoke = benchmark.disabled
    frames = clip_frames[:2] if smoke else clip_frames
    with _threads(None if smoke else THREADS):
        if mode == "image":
            def run():
                for f in frames:
                    parser.parse(f, roi=roi)
        else:
            def run():
                with open_stream(parser, StreamOptions(running_mode="video", roi=roi)) as session:
                    for i, f in enumerate(frames):
                        session.parse(f, 100 * i)
        benchmark.extra_info.update(model=label, engine=engine, mode=mode, roi=roi, frames=len(frames))
        benchmark.pedantic(run, rounds=1 if smoke else 3, warmup_rounds=0 if smoke else 1)
    if smoke:
        return
    where = "people first" if roi else "whole frame"
    name = f"real clip 768x432 {len(frames)} frames, {mode}, {where}, {engine}"
    record(name, benchmark)
    record(f"{len(frames)} seconds", timed(float(len(frames))))
    ratio(f"real clip fps, {mode}, {where}, {engine} ({label})", f"{len(frames)} seconds", name, ">= 30")
    forward = f"bare forward, real clip 768x432 {len(frames)} frames, {engine}"
    with _threads(THREADS):
        record(forward, timed(_bare_forward(parser, frames)))
    ratio(f"{mode} {where} / bare forward, {engine}", name, forward, "<= 1.10")


def _bare_forward(parser: Parser, frames, rounds: int = 3) -> float:
    """Seconds for the engine alone on the frames, each letterboxed to the model's input as a whole-frame
    parse feeds it (batch 1, input prepared beforehand): best of ``rounds``."""
    import time

    batches = [parser.preprocess([torch.from_numpy(f).permute(2, 0, 1)])[0] for f in frames]
    parser.engine(batches[0])  # warm-up
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for b in batches:
            parser.engine(b)
        best = min(best, time.perf_counter() - t0)
    return best


# ----------------------------------------------------- regions and compositors
@pytest.fixture(scope="module")
def labelled(frames):
    """Ground-truth parse results of the sample (a random-weight model would give empty garment regions)."""
    from tryon_sdk.result import ParseResult

    out = {}
    for size in (FRAME_SIZE, SMOKE_FRAME_SIZE):
        image, labels = next(iter(sample_frames(1, size=size)))
        out[size] = ParseResult(labels, None, image)
    return out


CASES = {
    "region upper_body": lambda r: r.region("upper_body", refine=False),
    "region upper_body refined+feathered": lambda r: r.region("upper_body", feather=3.0),
    "compositor overlay": lambda r: make_compositor("overlay")(r.image, r),
    "compositor recolor": lambda r: make_compositor("recolor", region="upper_body", color="#1e90ff")(r.image, r),
    "compositor recolor no refine": lambda r: make_compositor("recolor", region="upper_body", refine=False)(r.image, r),
}


@pytest.mark.parametrize("case", list(CASES))
def test_regions_and_compositors(benchmark, labelled, case, record):
    smoke = benchmark.disabled
    result = labelled[SMOKE_FRAME_SIZE if smoke else FRAME_SIZE]
    fn = CASES[case]
    benchmark.pedantic(fn, args=(result,), rounds=20, warmup_rounds=2)
    if not smoke:
        record(f"{case} {FRAME_SIZE[1]}x{FRAME_SIZE[0]}", benchmark)
