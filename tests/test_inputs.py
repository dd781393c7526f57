"""Every kind of bad or unusual input: converted with a warning, or a typed error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tryon_sdk import InputError, TryOnWarning
from tryon_sdk.inputs import to_rgb_uint8


@pytest.fixture
def rgb():
    return (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)


def test_rgb_uint8_passes_unchanged(rgb):
    out = to_rgb_uint8(rgb)
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda x: x[:, :, 0], "grayscale"),
        (lambda x: x[:, :, :1], "grayscale"),
        (lambda x: np.dstack([x, np.full(x.shape[:2], 7, np.uint8)]), "alpha channel was dropped"),
        (lambda x: x.astype(np.uint16) * 257, "16-bit"),
    ],
    ids=["gray-2d", "gray-1ch", "rgba", "uint16"],
)
def test_converted_with_warning(rgb, make, message):
    with pytest.warns(TryOnWarning, match=message):
        out = to_rgb_uint8(make(rgb))
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    if message == "grayscale":
        assert (out[..., 0] == rgb[..., 0]).all() and (out[..., 2] == rgb[..., 0]).all()
    else:
        np.testing.assert_array_equal(out, rgb)


def test_pil_modes(rgb):
    np.testing.assert_array_equal(to_rgb_uint8(Image.fromarray(rgb)), rgb)
    with pytest.warns(TryOnWarning, match="mode 'L'"):
        assert to_rgb_uint8(Image.fromarray(rgb[:, :, 0])).shape == (20, 30, 3)


def test_torch_chw_hwc_and_float(rgb):
    chw = torch.from_numpy(rgb).permute(2, 0, 1)
    np.testing.assert_array_equal(to_rgb_uint8(chw), rgb)
    np.testing.assert_array_equal(to_rgb_uint8(torch.from_numpy(rgb)), rgb)
    np.testing.assert_array_equal(to_rgb_uint8(chw.float() / 255), rgb)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.zeros((10, 0, 3), np.uint8), "empty"),
        (np.array([], np.uint8), "empty"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (np.full((4, 4, 3), 2.0, np.float32), r"values in \[0, 1\]"),
        (np.zeros((4, 4, 3), np.int64), "unsupported image dtype int64"),
        (np.zeros((4, 4, 3), bool), "unsupported image dtype bool"),
        (np.zeros((4, 4, 2), np.uint8), "1, 3 or 4 channels"),
        (np.zeros((2, 4, 4, 3), np.uint8), "got shape"),
        ("photo.jpg", "got str"),
        ([[1, 2], [3, 4]], "got list"),
    ],
    ids=["zero-h", "zero-w", "empty", "nan", "float-range", "int64", "bool", "2ch", "4d", "str", "list"],
)
def test_rejected(bad, message):
    with pytest.raises(InputError, match=message):
        to_rgb_uint8(bad)


def test_parser_rejects_bad_input_with_typed_error(tiny_parser):
    with pytest.raises(InputError, match="NaN"):
        tiny_parser.parse(np.full((8, 8, 3), np.nan, np.float32))
    with pytest.raises(ValueError):  # InputError is also a ValueError
        tiny_parser.parse(np.zeros((0, 0, 3), np.uint8))


def test_read_only_arrays_raise_no_warning(tiny_parser):
    """``np.asarray(PIL image)`` is read-only; torch would warn on every call if it reached torch.from_numpy."""
    import warnings

    from tryon_sdk.video.stream import RunningMode, StreamOptions, VideoSession

    image = np.asarray(Image.fromarray((np.random.default_rng(1).random((40, 30, 3)) * 255).astype(np.uint8)))
    assert not image.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        out = to_rgb_uint8(image)
        assert out.flags.writeable
        np.testing.assert_array_equal(out, image)
        tiny_parser.parse(image)
        tiny_parser.parse_batch([image, image])
        with VideoSession(tiny_parser, StreamOptions(RunningMode.VIDEO)) as s:
            s.parse(image, 0)
            s.parse_many([image, image], [40, 80])
    assert not image.flags.writeable  # the caller's array is left alone
