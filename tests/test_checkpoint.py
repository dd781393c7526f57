"""Checkpoints: safetensors only, checksummed, and refused clearly when wrong."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from tryon_sdk import CheckpointError, ModelConfig, Parser
from tryon_sdk.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, load_checkpoint, load_config, save_checkpoint
from tryon_sdk.models.builders import build_model


@pytest.fixture
def saved(tiny_parser, tmp_path):
    return tiny_parser.save_pretrained(tmp_path / "ck")


def probabilities(parser: Parser, image: np.ndarray) -> np.ndarray:
    result = parser.parse(image, return_probabilities=True, roi=False, sides="network")  # the network itself
    assert len(np.unique(result.labels)) > 1, "the reference parser must not predict one label everywhere"
    return result.probabilities


def test_round_trip_keeps_the_probabilities(calibrated_parser, tmp_path, person_image):
    folder = calibrated_parser.save_pretrained(tmp_path / "ck")
    np.testing.assert_array_equal(
        probabilities(Parser.from_pretrained(folder, device="cpu"), person_image), probabilities(calibrated_parser, person_image)
    )


def test_files_and_metadata(saved, tiny_parser):
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    meta = json.loads((saved / CONFIG_NAME).read_text())
    for key in ("architecture", "backbone", "class_names", "input_size", "mean", "std", "flip_pairs", "recipe", "metrics", "sha256"):
        assert key in meta
    assert meta["class_names"][14] == "Left-arm" and len(meta["sha256"]) == 64


def test_lone_safetensors_file_loads_from_header_metadata(calibrated_parser, tmp_path, person_image):
    saved = calibrated_parser.save_pretrained(tmp_path / "ck")
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes((saved / WEIGHTS_NAME).read_bytes())
    assert load_config(lone) == load_config(saved)
    parser = Parser.from_pretrained(lone, device="cpu")
    np.testing.assert_array_equal(probabilities(parser, person_image), probabilities(calibrated_parser, person_image))


def test_fp16_weights_load_back_as_float32(tmp_path, calibrated_parser, person_image):
    calibrated_parser.save_pretrained(tmp_path / "half", dtype=torch.float16)
    state, _ = load_checkpoint(tmp_path / "half")
    assert all(t.dtype == torch.float32 for t in state.values() if t.is_floating_point())
    assert (tmp_path / "half" / WEIGHTS_NAME).stat().st_size < 0.6 * sum(
        t.numel() * 4 for t in calibrated_parser.model.state_dict().values() if t.is_floating_point()
    )
    half = probabilities(Parser.from_pretrained(tmp_path / "half", device="cpu"), person_image)
    full = probabilities(calibrated_parser, person_image)
    assert not np.array_equal(half, full)  # the weights really were rounded
    assert np.abs(half - full).mean() < 1e-3  # fp16 rounding moves only pixels near a class boundary
    assert (half.argmax(0) == full.argmax(0)).mean() > 0.99


def test_tampered_weights_fail_checksum(saved):
    path = saved / WEIGHTS_NAME
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # a byte inside the last tensor's data
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        Parser.from_pretrained(saved, device="cpu")


def test_truncated_weights(saved):
    path = saved / WEIGHTS_NAME
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        Parser.from_pretrained(saved, device="cpu")
    path.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match="not a safetensors"):
        Parser.from_pretrained(saved, device="cpu")


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_pickle_is_refused_without_unpickling(saved, how, tmp_path):
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = saved / WEIGHTS_NAME
    if how == "torch.save":
        torch.save({"w": torch.zeros(1), "evil": Evil()}, path)
    else:
        path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="never unpickles"):
        Parser.from_pretrained(saved, device="cpu")
    assert not marker.exists()


def test_wrong_class_count_is_refused(tmp_path):
    names = tuple(f"c{i}" for i in range(20))
    cfg20 = ModelConfig(num_classes=20, class_names=names, input_size=(64, 48), flip_pairs=())
    save_checkpoint(build_model(cfg20), cfg20, tmp_path / "ck")
    cfg_file = tmp_path / "ck" / CONFIG_NAME
    meta = json.loads(cfg_file.read_text())
    meta.update(num_classes=18, class_names=list(ModelConfig().class_names))
    cfg_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="classifier has 20 classes, expected 18"):
        Parser.from_pretrained(tmp_path / "ck", device="cpu")
    with pytest.raises(CheckpointError, match="has 18 classes, expected 20"):
        Parser.from_pretrained(tmp_path / "ck", device="cpu", num_classes=20)


def test_wrong_backbone_is_refused(tmp_path):
    cfg = ModelConfig(input_size=(64, 48))
    save_checkpoint(build_model(cfg), cfg, tmp_path / "ck")
    with pytest.raises(CheckpointError, match="has backbone 'mobilenet_v3_large', expected 'resnet101'"):
        Parser.from_pretrained(tmp_path / "ck", device="cpu", backbone="resnet101")
    cfg_file = tmp_path / "ck" / CONFIG_NAME
    meta = json.loads(cfg_file.read_text())
    meta["backbone"] = "resnet50"
    cfg_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not match a deeplabv3/resnet50 network"):
        Parser.from_pretrained(tmp_path / "ck", device="cpu")


def test_missing_and_bad_config(tmp_path, saved):
    with pytest.raises(CheckpointError, match="no checkpoint at .*nothing"):
        Parser.from_pretrained(tmp_path / "nothing", device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="has no model.safetensors"):
        Parser.from_pretrained(tmp_path / "empty", device="cpu")
    (saved / CONFIG_NAME).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Parser.from_pretrained(saved, device="cpu")
    (saved / CONFIG_NAME).write_text(json.dumps({"backbone": "mobilenet_v3_large", "format_version": 99}))
    with pytest.raises(CheckpointError, match="newer than this tryon_sdk"):
        Parser.from_pretrained(saved, device="cpu")


def test_save_leaves_no_temporary_files(tmp_path, tiny_parser):
    tiny_parser.save_pretrained(tmp_path / "ck")
    tiny_parser.save_pretrained(tmp_path / "ck")  # overwrite in place
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]


def test_random_bytes_are_not_a_safetensors_file(tmp_path):
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / WEIGHTS_NAME).write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match="is not a safetensors file") as err:
        load_checkpoint(folder)
    assert "claims" not in str(err.value) and "truncated" not in str(err.value)


def test_missing_checksum_names_the_cli_option_and_the_option_works(saved, tmp_path, capsys):
    from tryon_sdk.cli import main
    from tryon_sdk.video.io.sample import sample_frames
    from tryon_sdk.video.io.writers import write_png

    meta = json.loads((saved / CONFIG_NAME).read_text())
    meta["sha256"] = None
    (saved / CONFIG_NAME).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="verify=False.*--no-verify-checksum"):
        Parser.from_pretrained(saved, device="cpu")
    write_png(tmp_path / "photo.png", next(sample_frames(1, size=(96, 64)))[0])
    args = ["parse", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out"), "--model", str(saved)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--no-verify-checksum" in err
    assert main(args + ["--no-verify-checksum"]) == 0
    assert (tmp_path / "out" / "labels.png").is_file()


def test_written_files_get_the_mode_of_any_new_file(saved, tmp_path):
    from tryon_sdk.outputs import file_mode

    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what open() gives a new file under this umask
    expected = plain.stat().st_mode & 0o777
    assert file_mode() == expected
    for name in (WEIGHTS_NAME, CONFIG_NAME):
        assert (saved / name).stat().st_mode & 0o777 == expected, name
