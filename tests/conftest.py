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
    """A 121x87 synthetic 'person' (skin head, red top, blue trousers) on a grey wall, with noise."""
    rng = np.random.default_rng(1)
    img = np.full((121, 87, 3), 190, np.uint8)
    img[8:30, 33:54] = (224, 172, 140)
    img[30:70, 25:62] = (200, 30, 40)
    img[70:115, 28:59] = (30, 40, 150)
    noise = rng.integers(-6, 7, img.shape)
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


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
def checkpoint(tmp_path_factory) -> Path:
    """A saved tiny parser whose labels vary over the image (``videos.calibrated_parser``)."""
    from videos import calibrated_parser

    return calibrated_parser().save_pretrained(tmp_path_factory.mktemp("ckpt"))


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
def serve_parser():
    """The bundled default model, loaded once for the web demo's tests (as ``tryon-sdk serve`` loads it)."""
    from tryon_sdk import Parser

    return Parser.from_pretrained()
