import json
import subprocess
import sys

import pytest

from tryon_sdk import __version__
from tryon_sdk.cli import main


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
    assert main(["demo", "--frames", "3"]) == 0
    out = capsys.readouterr().out
    assert list(work.iterdir()) == []  # nothing left in the current folder
    [folder] = (tmp_path / "tmp").iterdir()
    assert folder.name.startswith("tryon-demo-") and (folder / "overlay.mp4").is_file()
    assert f"wrote into {folder}" in out
