"""The examples run, write what they say, and the texture paste stays inside its region."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tryon_sdk.compositor import Compositor
from tryon_sdk.result import ParseResult
from tryon_sdk.video.io.writers import write_png
from videos import make_video

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def photo(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    image = cv2.resize(rng.integers(0, 256, (8, 6, 3), dtype=np.uint8), (90, 120), interpolation=cv2.INTER_CUBIC)
    write_png(tmp_path / "photo.png", image)
    return tmp_path / "photo.png"


def shirt_scene(h: int = 120, w: int = 160) -> ParseResult:
    image = np.full((h, w, 3), (70, 140, 70), np.uint8)
    labels = np.zeros((h, w), np.uint8)
    labels[30:100, 40:120] = 4
    image[30:100, 40:120] = (180, 180, 180)
    labels[5:28, 60:100] = 11
    image[5:28, 60:100] = (230, 190, 160)
    return ParseResult(labels, None, image)


# -------------------------------------------------------------- texture paste
def test_texture_paste_stays_inside_the_region():
    tp = load("texture_paste")
    result = shirt_scene()
    paste = tp.TexturePaste(tp.stripes((64, 64)), "upper_body", feather=2.0)
    assert isinstance(paste, Compositor)
    out = paste(result.image, result)
    alpha = result.region("upper_body", feather=2.0)
    outside = alpha == 0
    np.testing.assert_array_equal(out[outside], result.image[outside])
    assert (out[result.labels == 4] != result.image[result.labels == 4]).any(-1).mean() > 0.9
    face = result.labels == 11
    np.testing.assert_array_equal(out[face], result.image[face])


def test_texture_paste_follows_the_bounding_box():
    tp = load("texture_paste")
    result = shirt_scene()
    texture = tp.stripes((35, 40))
    out = tp.TexturePaste(texture, "upper_body", feather=0.0, shading=0.0)(result.image, result)
    # the shirt box is 70x80: the texture is stretched 2x onto it, flat (no shading) inside the garment
    expected = cv2.resize(texture, (80, 70), interpolation=cv2.INTER_LINEAR)
    diff = np.abs(out[33:97, 43:117].astype(int) - expected[3:67, 3:77].astype(int))
    assert np.median(diff) <= 2


def test_texture_paste_absent_region_returns_a_copy():
    tp = load("texture_paste")
    result = shirt_scene()
    out = tp.TexturePaste(tp.stripes(), "dress")(result.image, result)
    np.testing.assert_array_equal(out, result.image)
    assert out is not result.image


def test_texture_paste_example_on_a_photo_and_a_video(photo, tiny_checkpoint, tmp_path):
    tp = load("texture_paste")
    out = tmp_path / "pasted.png"
    assert tp.main([str(photo), "-o", str(out), "--model", str(tiny_checkpoint)]) == 0
    assert cv2.imread(str(out)).shape == (120, 90, 3)
    clip = make_video(tmp_path / "clip.mp4", width=64, height=48, frames=4, fps=10)
    assert tp.main([str(clip), "-o", str(tmp_path / "video-out"), "--model", str(tiny_checkpoint)]) == 0
    with av.open(str(tmp_path / "video-out" / "overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 4


# ------------------------------------------------------------------ quickstart
def test_quickstart_writes_overlay_alpha_and_agnostic_mask(photo, tiny_checkpoint, tmp_path, capsys):
    qs = load("quickstart")
    out = tmp_path / "qs"
    assert qs.main([str(photo), "-o", str(out), "--model", str(tiny_checkpoint), "--region", "lower_body"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["agnostic_image.png", "agnostic_upper_body.png", "alpha_lower_body.png", "overlay.png"]
    for name in names:
        assert cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED).shape[:2] == (120, 90)
    mask = cv2.imread(str(out / "agnostic_upper_body.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(mask)) <= {0, 255}
    assert "wrote 4 files" in capsys.readouterr().out


def test_quickstart_on_the_bundled_sample(tiny_checkpoint, tmp_path):
    qs = load("quickstart")
    assert qs.main(["-o", str(tmp_path / "qs"), "--model", str(tiny_checkpoint)]) == 0
    assert cv2.imread(str(tmp_path / "qs" / "overlay.png")).shape == (432, 768, 3)


# ----------------------------------------------------------------- webcam demo
def test_webcam_demo_example_headless(tiny_checkpoint, tmp_path, capsys):
    demo = load("webcam_demo")
    clip = make_video(tmp_path / "clip.mp4", width=64, height=48, frames=6, fps=20)
    out = tmp_path / "demo.mp4"
    argv = ["--source", str(clip), "--model", str(tiny_checkpoint), "--headless", "--output", str(out), "--max-frames", "2"]
    assert demo.main(argv) == 0
    assert out.is_file() and "writing the demo to" in capsys.readouterr().out
    assert demo.main(["--source", str(tmp_path / "missing.mp4"), "--headless"]) == 1
