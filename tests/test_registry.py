import hashlib

import numpy as np
import pytest

from tryon_sdk import CheckpointError, ConfigError, Parser
from tryon_sdk.models.checkpoint import WEIGHTS_NAME
from tryon_sdk.models.registry import ModelSource, available_models, register_model, resolve_checkpoint


def test_url_model_is_downloaded_once_and_checked(calibrated_checkpoint, registered_model, tmp_path, monkeypatch, person_image):
    monkeypatch.setenv("TRYON_SDK_CACHE", str(tmp_path / "cache"))
    weights = calibrated_checkpoint / WEIGHTS_NAME
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    name = registered_model(ModelSource("test-url-model", url=weights.as_uri(), sha256=digest))
    path = resolve_checkpoint(name)
    assert path.is_file() and path.is_relative_to(tmp_path / "cache")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left beside it
    mtime = path.stat().st_mtime_ns
    assert resolve_checkpoint(name) == path and path.stat().st_mtime_ns == mtime  # not downloaded again
    got = Parser.from_pretrained(name, device="cpu", people=False).parse(person_image, return_probabilities=True)
    want = Parser.from_pretrained(calibrated_checkpoint, device="cpu", people=False).parse(person_image, return_probabilities=True)
    assert len(np.unique(want.labels)) > 1
    np.testing.assert_array_equal(got.probabilities, want.probabilities)

    bad = registered_model(ModelSource("test-bad-sum", url=weights.as_uri(), sha256="0" * 64))
    with pytest.raises(CheckpointError, match="not used"):
        resolve_checkpoint(bad)
    assert list((tmp_path / "cache" / "test-bad-sum").iterdir()) == []  # neither the file nor a temporary


def test_models_registered_in_a_test_are_gone_after_it(registered_model):
    assert "test-url-model" not in available_models() and "test-bad-sum" not in available_models()
    registered_model(ModelSource("test-scoped", path="."))
    assert "test-scoped" in available_models()


def test_registration_rules(registered_model):
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
