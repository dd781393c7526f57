import json
import subprocess
import sys

from tryon_sdk import __version__
from tryon_sdk.cli import main


def test_version_and_help(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
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
