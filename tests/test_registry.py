import hashlib

import pytest

from tryon_sdk import CheckpointError, ConfigError, Parser
from tryon_sdk.checkpoint import WEIGHTS_NAME
from tryon_sdk.registry import ModelSource, available_models, register_model, resolve_checkpoint


def test_url_model_is_downloaded_once_and_checked(tiny_parser, tmp_path, monkeypatch, person_image):
    monkeypatch.setenv("TRYON_SDK_CACHE", str(tmp_path / "cache"))
    folder = tiny_parser.save_pretrained(tmp_path / "ck")
    weights = folder / WEIGHTS_NAME
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    register_model(ModelSource("test-url-model", url=weights.as_uri(), sha256=digest), overwrite=True)
    path = resolve_checkpoint("test-url-model")
    assert path.is_file() and path.is_relative_to(tmp_path / "cache")
    parser = Parser.from_pretrained("test-url-model", device="cpu")
    assert (parser.parse(person_image).labels == tiny_parser.parse(person_image).labels).all()

    register_model(ModelSource("test-bad-sum", url=weights.as_uri(), sha256="0" * 64), overwrite=True)
    with pytest.raises(CheckpointError, match="not used"):
        resolve_checkpoint("test-bad-sum")
    assert not list((tmp_path / "cache" / "test-bad-sum").glob("*.safetensors"))


def test_registration_rules():
    assert "default" in available_models()
    with pytest.raises(ConfigError, match="exactly one of path and url"):
        register_model(ModelSource("x"))
    with pytest.raises(ConfigError, match="needs its sha256"):
        register_model(ModelSource("x", url="https://example.invalid/m.safetensors"))
    with pytest.raises(ConfigError, match="already registered"):
        register_model(ModelSource("default", path="."))


def test_unknown_name_lists_registered():
    with pytest.raises(CheckpointError, match="registered: .*default"):
        resolve_checkpoint("no-such-model")
