import json
import subprocess
import sys

import pytest

from tryon_sdk import __version__
from tryon_sdk.cli import main


@pytest.mark.slow
def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-m", "tryon_sdk", "--help"], capture_output=True, text=True, check=True).stdout
    assert "usage: tryon-sdk" in out and "info" in out


def test_info_json_lists_classes_and_model(tiny_parser, tmp_path, capsys):
    folder = tiny_parser.save_pretrained(tmp_path / "ck")
    assert main(["info", "--json", "--model", str(folder)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["classes"][4] == "Upper-clothes" and out["regions"]["arms"] == [14, 15]
    assert out["model"]["backbone"] == "mobilenet_v3_large" and len(out["model"]["sha256"]) == 64


def test_error_is_one_line_and_nonzero(tmp_path, capsys):
    assert main(["info", "--model", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tryon-sdk info: error: no checkpoint")


def test_info_without_model_shows_the_bundled_model(capsys):
    from tryon_sdk.models.checkpoint import load_config
    from tryon_sdk.models.registry import resolve_checkpoint

    bundled = load_config(resolve_checkpoint(None))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "Model default (safetensors" in out and f"sha256 {bundled.sha256}" in out
    assert main(["info", "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["model"]
    assert model["sha256"] == bundled.sha256 and model["source"]["name"] == "default"


def test_info_on_random_bytes_says_not_a_safetensors_file(tmp_path, capsys):
    junk = tmp_path / "model.safetensors"
    junk.write_bytes(bytes(range(256)) * 16)
    assert main(["info", "--model", str(junk)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a safetensors file" in err


def test_demo_writes_under_the_temporary_folder_not_the_current_one(tmp_path, monkeypatch, capsys):
    import tempfile

    work = tmp_path / "checkout"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert main(["demo", "--sample", "drawn", "--frames", "3"]) == 0
    out = capsys.readouterr().out
    assert list(work.iterdir()) == []  # nothing left in the current folder
    [folder] = (tmp_path / "tmp").iterdir()
    assert folder.name.startswith("tryon-demo-") and (folder / "overlay.mp4").is_file()
    assert f"wrote into {folder}" in out


def test_demo_parses_the_bundled_real_photo_and_clip(tmp_path, capsys):
    """The default sample is real: the photo as an image, the clip through the video pipeline; it says where."""
    from tryon_sdk.video.io.reader import read_image

    out_dir = tmp_path / "demo"
    assert main(["demo", "-o", str(out_dir), "--frames", "2"]) == 0
    out = capsys.readouterr().out
    photo, clip = out_dir / "photo", out_dir / "clip"
    for path in (photo / "overlay.png", photo / "labels.png", photo / "alpha_upper_body.png", clip / "overlay.mp4", clip / "labels.mkv"):
        assert path.is_file() and str(path) in out
    assert f"wrote into {out_dir}" in out
    labels = read_image(photo / "labels.png")
    assert labels.shape[:2] == (810, 550)
    assert (labels > 0).mean() > 0.1  # a real person was found, not an empty parse
    assert json.loads((clip / "summary.json").read_text())["frames_processed"] == 2


def test_bundled_samples_are_small_credited_excerpts():
    """At most 1.5 MB in all, each with a credit file beside it and the licence text; never a byte copy of shared data."""
    import hashlib
    import os
    from pathlib import Path

    from tryon_sdk.samples import SAMPLE_CLIP, SAMPLE_PHOTO, SAMPLES_DIR

    files = [p for p in SAMPLES_DIR.iterdir() if p.is_file() and p.suffix != ".py"]
    assert sum(p.stat().st_size for p in files) <= 1.5 * 2**20
    for sample in (SAMPLE_PHOTO, SAMPLE_CLIP):
        assert sample.is_file() and (SAMPLES_DIR / f"{sample.stem}.CREDIT.md").is_file()
    assert "Apache License" in (SAMPLES_DIR / "LICENSE").read_text()
    shared = Path(os.environ.get("TRYON_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    originals = [shared / "video" / "pose-squats-front.mp4", shared / "clothing-co-parsing" / "photos" / "0004.jpg"]
    digests = {hashlib.sha1(p.read_bytes()).hexdigest() for p in originals if p.is_file()}
    assert not digests & {hashlib.sha1(p.read_bytes()).hexdigest() for p in files}
