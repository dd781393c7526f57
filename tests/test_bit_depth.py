"""16-bit images (greyscale and RGB, PIL and OpenCV) parse like the 8-bit picture they hold.

The 16-bit images are made from a real 8-bit photo (a Clothing Co-Parsing photo when
``../shared/data`` has it, else the bundled sample's drawn person): ``v16 = v8 * 257``
plus dither that a correct 16 -> 8-bit scaling removes again (|dither| < 128).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tryon_sdk import TryOnWarning
from tryon_sdk.cli import main
from tryon_sdk.inputs import to_rgb_uint8
from tryon_sdk.video.io.reader import read_image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photo8() -> np.ndarray:
    """``HxWx3`` uint8 RGB: a real CCP photo, halved (speed), or the sample figure."""
    shared = Path(os.environ.get("TRYON_SHARED_DATA", REPO.parent / "shared" / "data"))  # as tests/conftest.py
    path = shared / "clothing-co-parsing" / "photos" / "0001.jpg"
    if path.is_file():
        img = np.array(Image.open(path).convert("RGB"))
        return np.ascontiguousarray(cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA))
    from tryon_sdk.video.io.sample import sample_frames

    return next(sample_frames(1, size=(384, 256)))[0]


def to16(img8: np.ndarray) -> np.ndarray:
    dither = np.random.default_rng(0).integers(-100, 101, img8.shape)
    return np.clip(img8.astype(np.int64) * 257 + dither, 0, 65535).astype(np.uint16)


def test_16bit_grey_pil_modes_scale_by_their_range(photo8, tmp_path):
    grey8 = cv2.cvtColor(photo8, cv2.COLOR_RGB2GRAY)
    grey16 = to16(grey8)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")  # a real 16-bit greyscale PNG
    with Image.open(tmp_path / "grey16.png") as im:
        assert im.mode == "I;16"
        images = {
            "I;16 file": im.copy(),
            "I;16B": Image.fromarray(grey16.astype(">u2")),
            "I": Image.fromarray(grey16.astype(np.int32)),
        }
    expected = np.repeat(grey8[..., None], 3, axis=2)
    for name, image in images.items():
        with pytest.warns(TryOnWarning, match="16-bit|mode 'I'"):
            got = to_rgb_uint8(image)
        np.testing.assert_array_equal(got, expected, err_msg=name)
    # the CLI's reader: the same picture, not a white frame
    np.testing.assert_array_equal(read_image(tmp_path / "grey16.png"), expected)


def test_mode_i_outside_16_bits_is_refused():
    from tryon_sdk import InputError

    with pytest.raises(InputError, match="outside 0..65535"):
        to_rgb_uint8(Image.fromarray(np.full((4, 4), 70000, np.int32)))


def test_16bit_grey_parses_like_the_8bit_photo(photo8, tmp_path, default_parser):
    grey8 = cv2.cvtColor(photo8, cv2.COLOR_RGB2GRAY)
    Image.fromarray(to16(grey8)).save(tmp_path / "grey16.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TryOnWarning)
        ref = default_parser.parse(grey8).labels
        with Image.open(tmp_path / "grey16.png") as im:
            got = default_parser.parse(im).labels
    assert (ref > 0).mean() > 0.05  # the model finds a person: the comparison means something
    assert (got == ref).mean() > 0.999


def test_16bit_rgb_from_opencv_and_the_cli_parse_like_the_8bit_photo(photo8, tmp_path, default_parser, capsys):
    cv2.imwrite(str(tmp_path / "rgb16.png"), to16(photo8)[..., ::-1])  # 16-bit RGB PNG
    cv2.imwrite(str(tmp_path / "rgb8.png"), photo8[..., ::-1])
    rgb16 = cv2.imread(str(tmp_path / "rgb16.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert rgb16.dtype == np.uint16 and rgb16.max() > 255
    with pytest.warns(TryOnWarning, match="16-bit"):
        np.testing.assert_array_equal(to_rgb_uint8(rgb16), photo8)
    ref = default_parser.parse(photo8).labels
    with pytest.warns(TryOnWarning, match="16-bit"):
        got = default_parser.parse(rgb16).labels
    np.testing.assert_array_equal(got, ref)

    for name in ("rgb8", "rgb16"):
        assert main(["parse", str(tmp_path / f"{name}.png"), "-o", str(tmp_path / name), "--outputs", "labels"]) == 0
    capsys.readouterr()
    lab8 = cv2.imread(str(tmp_path / "rgb8" / "labels.png"), cv2.IMREAD_UNCHANGED)
    lab16 = cv2.imread(str(tmp_path / "rgb16" / "labels.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(lab16, lab8)  # the file reader scales 16-bit colour as the API does


def test_16bit_colour_png_is_read_by_its_full_range_and_upright(photo8, tmp_path):
    from tryon_sdk.video.io.reader import read_image

    cv2.imwrite(str(tmp_path / "rgb16.png"), to16(photo8)[..., ::-1])
    np.testing.assert_array_equal(read_image(tmp_path / "rgb16.png"), photo8)
    rgba = np.concatenate([to16(photo8), np.full(photo8.shape[:2] + (1,), 65535, np.uint16)], axis=2)
    cv2.imwrite(str(tmp_path / "rgba16.png"), rgba[..., [2, 1, 0, 3]])
    np.testing.assert_array_equal(read_image(tmp_path / "rgba16.png"), photo8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_arrays_read_by_opencv_matches_pillows(orientation):
    from PIL import Image, ImageOps

    from tryon_sdk.video.io.images import _upright_exif

    arr = (np.arange(5 * 7 * 3) % 251).astype(np.uint8).reshape(5, 7, 3)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.info["exif"] = exif.tobytes()
    im.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(_upright_exif(arr, orientation), expected)
