"""Engines on this machine: torch fp32 vs bf16 autocast vs channels_last vs ONNX Runtime fp32 and int8.

Per backbone and network input size: one normalised ``1 x 3 x H x W`` batch
through each engine (``Engine.__call__``: the forward pass plus the engine's
own conversions), random weights (the cost does not depend on them; the int8
model is calibrated on the SDK's rendered sample frames).

Backbones: ``$TRYON_BENCH_BACKBONES`` (comma list of ``architecture/backbone``,
default ``lraspp/efficientnet_lite0,lraspp/mobilenet_v3_large,deeplabv3/mobilenet_v3_large``:
the default model's network beside the earlier default's; add e.g. ``deeplabv3/resnet50``).
Sizes: ``$TRYON_BENCH_SIZES`` (default ``288x192,512x384``; 288x192 is the default model's input).
Threads: ``$TRYON_BENCH_THREADS`` sets torch's and ONNX Runtime's intra-op
threads (default: each library's own default, all cores).

    .venv/bin/pytest benchmarks/bench_onnx.py --benchmark-enable -q
"""

from __future__ import annotations

import os

import pytest
import torch

from tryon_sdk.config import ModelConfig
from tryon_sdk.engines.torch_engine import TorchEngine
from tryon_sdk.models.builders import build_model

ort = pytest.importorskip("onnxruntime")

from tryon_sdk.engines.export import export_onnx  # noqa: E402
from tryon_sdk.engines.onnx_engine import OnnxEngine  # noqa: E402

DEFAULT_MODELS = "lraspp/efficientnet_lite0,lraspp/mobilenet_v3_large,deeplabv3/mobilenet_v3_large"
MODELS = [m.strip() for m in os.environ.get("TRYON_BENCH_BACKBONES", DEFAULT_MODELS).split(",") if m.strip()]
SIZES = [tuple(int(v) for v in s.lower().split("x")) for s in os.environ.get("TRYON_BENCH_SIZES", "288x192,512x384").split(",") if s.strip()]
SMOKE_SIZE = (64, 48)
THREADS = int(os.environ["TRYON_BENCH_THREADS"]) if os.environ.get("TRYON_BENCH_THREADS") else None
#: variant -> TorchEngine options (None: ONNX Runtime)
VARIANTS: dict[str, dict | None] = {
    "torch fp32": {"precision": "fp32", "channels_last": False},
    "torch bf16": {"precision": "bf16", "channels_last": False},
    "torch channels_last": {"precision": "fp32", "channels_last": True},
    "torch bf16+channels_last": {"precision": "bf16", "channels_last": True},
    "onnxruntime": None,
    "onnxruntime int8": None,
}


def _name(variant: str, model: str, size: tuple[int, int]) -> str:
    return f"{variant} {model} {size[0]}x{size[1]}"


def pytest_generate_tests(metafunc):
    if "model_name" in metafunc.fixturenames:
        # the untimed smoke run (--benchmark-disable) checks the code path on the first model only
        opt = metafunc.config.getoption
        smoke = opt("benchmark_disable", False) and not opt("benchmark_enable", False)
        metafunc.parametrize("model_name", MODELS[:1] if smoke else MODELS, scope="module")


@pytest.fixture(scope="module")
def model(model_name, tmp_path_factory):
    architecture, backbone = model_name.split("/")
    config = ModelConfig(architecture=architecture, backbone=backbone)
    torch.manual_seed(0)
    net = build_model(config).eval()
    folder = tmp_path_factory.mktemp("bench_onnx")
    path = export_onnx(net, config, folder / f"{architecture}_{backbone}.onnx")
    from tryon_sdk.engines.quantize import quantize_onnx
    from tryon_sdk.video.io.sample import sample_frames

    calibration = [frame for frame, _ in sample_frames(num_frames=2, size=(96, 64))]
    int8 = quantize_onnx(path, folder / f"{architecture}_{backbone}-int8.onnx", calibration)
    return model_name, net, config, {"onnxruntime": path, "onnxruntime int8": int8}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_engine(benchmark, model, variant, size, record, ratio):
    name, net, config, path = model
    options = VARIANTS[variant]
    smoke = benchmark.disabled  # --benchmark-disable: check the code path, quickly (tiny input, one thread)
    threads = torch.get_num_threads()
    n = 1 if smoke else THREADS
    if smoke:
        size = SMOKE_SIZE
    if n is not None:
        torch.set_num_threads(n)
    try:
        engine = (OnnxEngine(path[variant], device="cpu", threads=n) if options is None
                  else TorchEngine(net, config, device="cpu", **options))
        batch = torch.randn(1, 3, *size)
        benchmark.extra_info.update(model=name, size=list(size), variant=variant, threads=torch.get_num_threads())
        benchmark.pedantic(engine, args=(batch,), rounds=8, warmup_rounds=2)
    finally:
        torch.set_num_threads(threads)
    record(_name(variant, name, size), benchmark)
    if variant != "torch fp32":
        ratio(f"{variant} / torch fp32 {name} {size[0]}x{size[1]}", _name(variant, name, size),
              _name("torch fp32", name, size), "< 1 is faster")
    if name != "lraspp/mobilenet_v3_large":
        ratio(f"{name} / lraspp/mobilenet_v3_large, {variant} {size[0]}x{size[1]}", _name(variant, name, size),
              _name(variant, "lraspp/mobilenet_v3_large", size), "cost of the backbone")
