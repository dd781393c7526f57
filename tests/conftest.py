"""Shared fixtures: real data from ../shared (skipped with a reason when absent) and tiny models."""

from __future__ import annotations

import os
from pathlib import Path

# Idle OpenMP threads must not spin: on 2 shared cores a spinning pool slows small ops 100x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$TRYON_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    return Path(os.environ.get("TRYON_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def ccp_dir() -> Path:
    path = shared_data_dir() / "clothing-co-parsing"
    if not (path / "photos").is_dir():
        pytest.skip(f"real CCP data not found at {path} (set TRYON_SHARED_DATA); it is only on the project's machines")
    return path


@pytest.fixture(scope="session")
def real_video() -> Path:
    path = shared_data_dir() / "video" / "one-by-one-person-detection.mp4"
    if not path.is_file():
        pytest.skip(f"real clip not found at {path} (set TRYON_SHARED_DATA); it is only on the project's machines")
    return path


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(scope="session")
def tiny_parser():
    """A random-weight MobileNetV3 parser with a small input, on CPU, parsing whole frames by default
    (its test drawings are no people to the bundled person model)."""
    from tryon_sdk import Parser

    torch.manual_seed(0)
    return Parser.from_config(device="cpu", input_size=(64, 48), people=False)


@pytest.fixture
def person_image() -> np.ndarray:
    """A 121x87 synthetic 'person' (skin head, red top, blue trousers) on a grey wall, with noise
    (``synthetic.block_person_image``)."""
    from synthetic import block_person_image

    return block_person_image()


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for the module: tiny models gain nothing from threads, and on a busy
    2-core machine OpenMP spinning makes them up to 100x slower. Opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def calibrated_parser():
    """A tiny random-weight parser whose labels vary over the image (made by ``videos.calibrated_parser``:
    BatchNorm statistics re-estimated on synthetic frames), parsing whole frames (``people=False``)."""
    import videos

    return videos.calibrated_parser()


@pytest.fixture(scope="session")
def calibrated_checkpoint(calibrated_parser, tmp_path_factory) -> Path:
    """:func:`calibrated_parser` saved: a checkpoint folder for ``--model`` and ``Parser.from_pretrained``."""
    return calibrated_parser.save_pretrained(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_parser, tmp_path_factory) -> Path:
    """:func:`tiny_parser` saved (random weights, uncalibrated: nearly constant labels)."""
    return tiny_parser.save_pretrained(tmp_path_factory.mktemp("tiny-ckpt"))


@pytest.fixture
def registered_model(monkeypatch):
    """``registered_model(ModelSource(...))`` registers a model for this test only.

    The registry is a copy for the test's duration, so nothing registered here
    is seen by later tests.
    """
    from tryon_sdk.models import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    def register(source: "registry.ModelSource") -> str:
        registry.register_model(source, overwrite=True)
        return source.name

    return register


@pytest.fixture(scope="session")
def default_parser():
    """The bundled default model with default options, loaded once (as ``tryon-sdk parse`` and ``serve`` load it:
    the person stage on, the device chosen by default); it verifies the weights' checksum."""
    from tryon_sdk import Parser

    return Parser.from_pretrained()
