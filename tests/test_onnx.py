"""ONNX export, the ONNX Runtime engine, and one parse contract for every engine.

``ParserContract`` holds the parse tests; ``TestTorchParser`` and
``TestOnnxParser`` only say how to load the parser. Models are tiny
random-weight networks whose BatchNorm statistics are calibrated on a few
images, so they predict several classes (an uncalibrated random net predicts
one class everywhere, and label agreement would be trivially perfect).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from tryon_sdk.cli import main  # noqa: E402
from tryon_sdk.engines.torch_engine import Engine  # noqa: E402
from tryon_sdk.errors import CheckpointError, ConfigError  # noqa: E402
from tryon_sdk.engines.export import verify_onnx  # noqa: E402
from tryon_sdk.engines.gpu import CudaGraphEngine, PinnedUploader  # noqa: E402
from tryon_sdk.labels import hflip_labels  # noqa: E402
from tryon_sdk.engines.onnx_engine import CONFIG_METADATA_KEY, OnnxEngine  # noqa: E402
from tryon_sdk.parser import Parser  # noqa: E402
from tryon_sdk.preprocess import Preprocess  # noqa: E402

INPUT = (64, 48)


pytestmark = pytest.mark.usefixtures("one_thread")


def blobs(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random ``h x w x 3`` uint8 image."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 12), max(2, w // 12), 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def blobs_calibrated_parser(architecture: str = "deeplabv3") -> Parser:
    """A random-weight parser whose BatchNorm statistics come from a few images."""
    torch.manual_seed(0)
    parser = Parser.from_config(device="cpu", input_size=INPUT, architecture=architecture)
    net = parser.model
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    cfg = parser.config
    images = [torch.from_numpy(blobs(*INPUT, seed=100 + i)).permute(2, 0, 1) for i in range(8)]
    batch, _ = Preprocess.from_config(cfg)(images)
    net.train()
    with torch.no_grad():
        net(batch)
    net.eval()
    return parser


@pytest.fixture(scope="module")
def onnx_path(calibrated_checkpoint: Path, tmp_path_factory) -> Path:
    return Parser.from_pretrained(calibrated_checkpoint, device="cpu").export_onnx(tmp_path_factory.mktemp("onnx") / "model.onnx")


# ------------------------------------------------------------- parse contract
class ParserContract:
    """Parse behaviour every engine must have. Subclasses define the classmethod ``load``."""

    @pytest.fixture(scope="class")
    @classmethod
    def engine_parser(cls, calibrated_checkpoint, onnx_path) -> Parser:
        return cls.load(calibrated_checkpoint, onnx_path)

    @pytest.fixture(scope="class")
    @classmethod
    def engine_tta_parser(cls, calibrated_checkpoint, onnx_path) -> Parser:
        return cls.load(calibrated_checkpoint, onnx_path, flip_tta=True)

    @classmethod
    def load(cls, calibrated_checkpoint: Path, onnx_path: Path, **kw) -> Parser:  # pragma: no cover - abstract
        raise NotImplementedError

    def test_engine_protocol(self, engine_parser):
        assert isinstance(engine_parser.engine, Engine)
        assert engine_parser.config.input_size == INPUT

    @pytest.mark.parametrize("size", [(37, 53), (61, 29), (64, 48), (5, 3)])
    def test_output_size_and_dtypes_for_odd_sizes(self, engine_parser, size):
        result = engine_parser.parse(blobs(*size, seed=1), return_probabilities=True)
        assert result.labels.shape == size
        assert result.labels.dtype == np.uint8
        assert result.probabilities.shape == (engine_parser.config.num_classes, *size)
        assert result.probabilities.dtype == np.float32
        np.testing.assert_allclose(result.probabilities.sum(0), 1.0, atol=1e-4)
        assert int(result.labels.max()) < engine_parser.config.num_classes

    def test_model_predicts_several_classes(self, engine_parser):
        # Guards the other tests: agreement between engines means little on a constant map.
        assert len(np.unique(engine_parser.parse(blobs(64, 48, seed=2)).labels)) >= 3

    def test_batch_matches_single_images(self, engine_parser):
        images = [blobs(50, 40, seed=s) for s in range(3)]
        batched = engine_parser.parse_batch(images, batch_size=2, return_probabilities=True)
        for image, got in zip(images, batched):
            alone = engine_parser.parse(image, return_probabilities=True)
            np.testing.assert_allclose(got.probabilities, alone.probabilities, atol=1e-5)
            np.testing.assert_array_equal(got.labels, alone.labels)

    def test_batch_of_mixed_sizes_keeps_each_size(self, engine_parser):
        sizes = [(30, 20), (20, 31), (64, 48)]
        results = engine_parser.parse_batch([blobs(*s, seed=3) for s in sizes], batch_size=3)
        assert [r.labels.shape for r in results] == sizes

    def test_flip_tta_is_mirror_equivariant(self, engine_tta_parser):
        # 96x72 scales to the 64x48 input exactly, so the letterbox is symmetric.
        image = blobs(96, 72, seed=4)
        direct = engine_tta_parser.parse(image).labels
        mirrored = engine_tta_parser.parse(np.ascontiguousarray(image[:, ::-1])).labels
        assert np.mean(hflip_labels(mirrored) == direct) >= 0.999

    def test_flip_tta_changes_the_prediction(self, engine_parser, engine_tta_parser):
        image = blobs(96, 72, seed=4)
        plain = engine_parser.parse(image, return_probabilities=True).probabilities
        tta = engine_tta_parser.parse(image, return_probabilities=True).probabilities
        assert np.abs(plain - tta).max() > 1e-4


class TestTorchParser(ParserContract):
    @classmethod
    def load(cls, calibrated_checkpoint, onnx_path, **kw):
        return Parser.from_pretrained(calibrated_checkpoint, device="cpu", **kw)


class TestOnnxParser(ParserContract):
    @classmethod
    def load(cls, calibrated_checkpoint, onnx_path, **kw):
        parser = Parser.from_pretrained(onnx_path, device="cpu", **kw)
        assert isinstance(parser.engine, OnnxEngine)
        return parser


# ----------------------------------------------------------------- export
def test_onnx_agrees_with_torch(calibrated_checkpoint, onnx_path, record_property, capsys):
    torch_parser = Parser.from_pretrained(calibrated_checkpoint, device="cpu")
    check = verify_onnx(torch_parser.model, torch_parser.config, onnx_path, sizes=[(64, 48), (48, 64), (100, 75)])
    record_property("max_abs_diff", check.max_abs_diff)
    with capsys.disabled():
        print(f"\n[onnx vs torch] {check}")
    assert check.label_agreement >= 0.999, str(check)
    assert check.max_abs_diff < 1e-3, str(check)
    assert (2, 3, 64, 64) in check.shapes  # the two first sizes ran as one batch


def test_onnx_parser_labels_match_torch_parser(calibrated_checkpoint, onnx_path):
    a = Parser.from_pretrained(calibrated_checkpoint, device="cpu")
    b = Parser.from_pretrained(onnx_path, device="cpu")
    for seed, size in enumerate([(120, 90), (77, 131)]):
        image = blobs(*size, seed=10 + seed)
        assert np.mean(a.parse(image).labels == b.parse(image).labels) >= 0.999


def test_video_session_runs_the_same_on_either_engine(calibrated_checkpoint, onnx_path):
    from tryon_sdk.video.stream import StreamOptions, open_stream

    frames = [blobs(72, 96, seed=20 + i) for i in range(3)]
    labels = {}
    for name, path in (("torch", calibrated_checkpoint), ("onnx", onnx_path)):
        with open_stream(Parser.from_pretrained(path, device="cpu"), StreamOptions(running_mode="video")) as session:
            labels[name] = [session.parse(f, 40 * i).labels for i, f in enumerate(frames)]
    for a, b in zip(labels["torch"], labels["onnx"]):
        assert np.mean(a == b) >= 0.999


def test_graph_has_dynamic_batch_height_width_and_config(calibrated_checkpoint, onnx_path):
    proto = onnx.load(str(onnx_path))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert Parser.from_pretrained(calibrated_checkpoint, device="cpu").config.to_json() == meta[CONFIG_METADATA_KEY]
    assert proto.opset_import[0].version >= 17


def test_engine_reads_config_and_runs_other_sizes(onnx_path):
    engine = OnnxEngine(onnx_path, device="cpu")
    assert engine.config.input_size == INPUT and engine.dynamic
    out = engine(torch.zeros(3, 3, 96, 32))
    assert out.shape == (3, engine.config.num_classes, 96, 32) and out.dtype == torch.float32


def test_lraspp_exports_too(tmp_path):
    parser = blobs_calibrated_parser("lraspp")
    path = parser.export_onnx(tmp_path / "lraspp.onnx")
    check = verify_onnx(parser.model, parser.config, path)
    assert check.label_agreement >= 0.999, str(check)


@pytest.mark.slow
def test_dynamo_exporter(tmp_path):
    parser = blobs_calibrated_parser("lraspp")
    path = parser.export_onnx(tmp_path / "dynamo.onnx", exporter="dynamo")
    assert onnx.load(str(path)).opset_import[0].version >= 18
    assert verify_onnx(parser.model, parser.config, path).label_agreement >= 0.999


def test_export_is_atomic(tmp_path, monkeypatch, calibrated_checkpoint):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous file")

    def broken(*args, **kwargs):
        Path(args[2]).write_bytes(b"half written")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(CheckpointError, match="exporter crashed"):
        Parser.from_pretrained(calibrated_checkpoint, device="cpu").export_onnx(target)
    assert target.read_bytes() == b"previous file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_export_errors_name_the_options(tmp_path, calibrated_checkpoint):
    parser = Parser.from_pretrained(calibrated_checkpoint, device="cpu")
    with pytest.raises(ConfigError, match="valid: torchscript, dynamo"):
        parser.export_onnx(tmp_path / "m.onnx", exporter="tflite")
    with pytest.raises(ConfigError, match="does not exist"):
        parser.export_onnx(tmp_path / "missing" / "m.onnx")


# ------------------------------------------------------------ engine errors
@pytest.mark.parametrize("content", [b"", b"not an onnx model at all", None])
def test_corrupt_onnx_is_a_checkpoint_error(tmp_path, onnx_path, content):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(onnx_path.read_bytes()[:2000] if content is None else content)
    with pytest.raises(CheckpointError, match="bad.onnx"):
        Parser.from_pretrained(bad, device="cpu")


def test_onnx_without_config_metadata_is_refused(tmp_path, onnx_path):
    proto = onnx.load(str(onnx_path))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(CheckpointError, match="tryon-sdk export"):
        OnnxEngine(bare, device="cpu")


def test_cuda_without_provider_is_a_config_error(onnx_path, monkeypatch):
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ConfigError, match="CUDAExecutionProvider.*available: CPUExecutionProvider"):
        Parser.from_pretrained(onnx_path, device="cuda")
    with pytest.raises(ConfigError, match="valid: auto, cpu, cuda"):
        OnnxEngine(onnx_path, device="tpu")
    assert OnnxEngine(onnx_path, device="auto").device.type == "cpu"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"compile": True}, "compile=True is a torch option"),
        ({"channels_last": True}, "channels_last=True is a torch option"),
        ({"precision": "bf16"}, "precision 'bf16' cannot be honoured: fp16/bf16 are torch options"),
        ({"precision": "int8"}, "precision 'int8' cannot be honoured: model.onnx is a fp32 model"),
        ({"precision": "fp64"}, "unknown precision 'fp64'; valid: fp32, fp16, bf16, int8"),
        ({"verify": True}, "verify=True cannot be honoured.*records no checksum.*--no-verify-checksum"),
    ],
)
def test_onnx_files_refuse_options_they_cannot_honour(onnx_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Parser.from_pretrained(onnx_path, device="cpu", **kwargs)


def test_onnx_files_honour_the_expected_model_and_their_own_precision(onnx_path):
    config = Parser.from_pretrained(onnx_path, device="cpu").config
    with pytest.raises(CheckpointError, match="expected 'resnet50'"):
        Parser.from_pretrained(onnx_path, device="cpu", backbone="resnet50")
    with pytest.raises(CheckpointError, match=f"has {config.num_classes} classes, expected 7"):
        Parser.from_pretrained(onnx_path, device="cpu", num_classes=7)
    same = Parser.from_pretrained(
        onnx_path, device="cpu", precision="fp32", verify=False, channels_last=False,
        backbone=config.backbone, num_classes=config.num_classes,
    )
    assert isinstance(same.engine, OnnxEngine)


def test_missing_onnxruntime_is_a_config_error(onnx_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match=r"pip install onnxruntime"):
        Parser.from_pretrained(onnx_path, device="cpu")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ConfigError, match=r"needs the onnx package"):
        blobs_calibrated_parser().export_onnx(onnx_path.parent / "never.onnx")


# --------------------------------------------------------------------- CLI
def test_cli_export_writes_a_loadable_model(tmp_path, calibrated_checkpoint, capsys):
    out = tmp_path / "cli.onnx"
    assert main(["export", "--format", "onnx", "-o", str(out), "--model", str(calibrated_checkpoint), "--verify-size", "64x48"]) == 0
    text = capsys.readouterr().out
    assert "labels agree on" in text and str(out) in text
    assert Parser.from_pretrained(out, device="cpu").parse(blobs(40, 30, seed=5)).labels.shape == (40, 30)


def test_cli_export_reports_a_bad_model(tmp_path, capsys):
    assert main(["export", "-o", str(tmp_path / "x.onnx"), "--model", str(tmp_path / "nope")]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


# ---------------------------------------------------------- CUDA fast path
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only messages")
def test_gpu_fast_path_says_it_needs_cuda(calibrated_checkpoint):
    parser = Parser.from_pretrained(calibrated_checkpoint, device="cpu")
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        parser.optimize_for_gpu()
    with pytest.raises(ConfigError, match="CUDA"):
        CudaGraphEngine(parser.engine)
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        PinnedUploader("cuda")


def test_pinned_uploader_on_cpu_is_a_plain_view():
    frame = blobs(20, 10, seed=6)
    (tensor,) = PinnedUploader("cpu")([frame])
    assert tensor.shape == (3, 20, 10) and tensor.dtype == torch.uint8
    np.testing.assert_array_equal(tensor.permute(1, 2, 0).numpy(), frame)


def test_export_gets_the_mode_of_any_new_file(tmp_path, onnx_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert onnx_path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not mkstemp's 0600


def test_cli_info_reads_an_onnx_model(onnx_path, calibrated_checkpoint, capsys):
    import json as _json

    assert main(["info", "--model", str(onnx_path), "--json"]) == 0
    model = _json.loads(capsys.readouterr().out)["model"]
    ref = Parser.from_pretrained(calibrated_checkpoint, device="cpu").config
    assert model["sha256"] == ref.sha256 and model["backbone"] == ref.backbone
    assert model["source"]["format"] == "onnx"
    assert main(["info", "--model", str(onnx_path)]) == 0
    out = capsys.readouterr().out
    assert f"sha256 {ref.sha256}" in out and "(onnx," in out
