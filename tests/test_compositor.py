"""Compositors: the protocol, overlay, recolor, the registry and the CLI flags."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest

from tryon_sdk.commands.compositing import add_compositor_arguments, compositor_from_args
from tryon_sdk.compositor import (
    COMPOSITORS,
    Compositor,
    OverlayCompositor,
    RecolorCompositor,
    cropped_region_alpha,
    make_compositor,
    parse_color,
    register_compositor,
)
from tryon_sdk.errors import ConfigError, InputError
from tryon_sdk.labels import PALETTE
from tryon_sdk.result import ParseResult

H, W = 120, 160
SHIRT = (slice(30, 100), slice(40, 120))  # rows, cols of the upper-clothes rectangle


def scene(seed: int = 0, colour=(200, 60, 50)) -> ParseResult:
    """A green background with a shaded, noisy shirt (label 4) and a face (label 11)."""
    rng = np.random.default_rng(seed)
    image = np.empty((H, W, 3), np.uint8)
    image[:] = (40, 160, 60)
    labels = np.zeros((H, W), np.uint8)
    labels[SHIRT] = 4
    labels[10:30, 65:95] = 11
    image[10:30, 65:95] = (230, 190, 160)
    yy, xx = np.mgrid[0:70, 0:80]
    shade = 0.55 + 0.45 * np.sin(xx / 5.0) * np.cos(yy / 7.0)  # folds
    shirt = np.asarray(colour, np.float32) * shade[..., None] + rng.normal(0, 5, (70, 80, 3))
    image[SHIRT] = np.clip(shirt, 0, 255).astype(np.uint8)
    return ParseResult(labels, None, image)


def masks(margin: int) -> tuple[np.ndarray, np.ndarray]:
    """(deep inside the shirt, far outside it) boolean masks, ``margin`` pixels from its edge."""
    shirt = np.zeros((H, W), np.uint8)
    shirt[SHIRT] = 1
    k = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    return cv2.erode(shirt, k).astype(bool), ~cv2.dilate(shirt, k).astype(bool)


def lightness(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float64)


def hue_degrees(rgb: np.ndarray) -> np.ndarray:
    """CIELAB hue angle (the space recolor works in; HSV hue drifts with lightness)."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360.0


def hue_distance(a: np.ndarray | float, b: float) -> np.ndarray:
    d = np.abs(np.asarray(a) - b) % 360.0
    return np.minimum(d, 360.0 - d)


# ---------------------------------------------------------------- protocol
def test_shipped_compositors_and_plain_functions_satisfy_the_protocol():
    def grey(frame, result):
        return np.repeat(frame.mean(-1, keepdims=True).astype(np.uint8), 3, -1)

    for c in (make_compositor("overlay"), make_compositor("recolor"), grey):
        assert isinstance(c, Compositor)
    assert {"overlay", "recolor"} <= set(COMPOSITORS)


@pytest.mark.parametrize("name", ["overlay", "recolor"])
def test_compositors_return_a_new_frame_and_leave_the_input_alone(name):
    result = scene()
    frame = result.image.copy()
    out = make_compositor(name)(frame, result)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert out is not frame and not np.shares_memory(out, frame)
    np.testing.assert_array_equal(frame, result.image)
    assert (out != frame).any()


@pytest.mark.parametrize("name", ["overlay", "recolor"])
def test_compositors_refuse_mismatched_frames(name):
    result = scene()
    c = make_compositor(name)
    with pytest.raises(InputError, match="sizes differ"):
        c(np.zeros((H + 2, W, 3), np.uint8), result)
    with pytest.raises(InputError, match="uint8"):
        c(result.image.astype(np.float32), result)


# ------------------------------------------------------------------ overlay
def test_overlay_blends_class_colours_and_keeps_background():
    result = scene()
    out = OverlayCompositor(alpha=0.5)(result.image, result)
    bg = result.labels == 0
    np.testing.assert_array_equal(out[bg], result.image[bg])
    inside, _ = masks(1)
    expected = np.round(result.image[inside] * 0.5 + PALETTE[4].astype(np.float32) * 0.5)
    np.testing.assert_allclose(out[inside], expected, atol=1)


def test_overlay_of_one_region_leaves_other_classes():
    result = scene()
    out = OverlayCompositor(alpha=0.6, region="face")(result.image, result)
    shirt = result.labels == 4
    np.testing.assert_array_equal(out[shirt], result.image[shirt])
    assert (out[result.labels == 11] != result.image[result.labels == 11]).any()


# ------------------------------------------------------------------ recolor
@pytest.mark.parametrize("target", ["#1e90ff", "gold", "20,160,80", "navy"])
def test_recolor_changes_hue_inside_the_region_only(target):
    result = scene()
    out = RecolorCompositor("upper_body", target, feather=3.0)(result.image, result)
    inside, outside = masks(6)
    np.testing.assert_array_equal(out[outside], result.image[outside])
    want = hue_degrees(np.asarray([[parse_color(target)]], np.uint8))[0, 0]
    before = hue_distance(hue_degrees(result.image)[inside], want)
    after = hue_distance(hue_degrees(out)[inside], want)
    assert np.median(before) > 30
    assert np.median(after) < 2
    assert np.mean(after < 10) > 0.99


@pytest.mark.parametrize("target", ["#1e90ff", "navy", "white", "black"])
def test_recolor_keeps_the_luminance_structure(target):
    result = scene(seed=1)
    out = RecolorCompositor("upper_body", target)(result.image, result)
    inside, _ = masks(4)
    r = np.corrcoef(lightness(result.image)[inside], lightness(out)[inside])[0, 1]
    assert r >= 0.9, f"lightness correlation {r:.3f}"


def test_recolor_edges_are_feathered():
    result = scene()
    hard = RecolorCompositor("upper_body", "#1e90ff", feather=0.0, refine=False)(result.image, result)
    soft = RecolorCompositor("upper_body", "#1e90ff", feather=8.0, refine=False)(result.image, result)
    row = 60
    changed_hard = np.count_nonzero((hard[row] != result.image[row]).any(-1))
    changed_soft = np.count_nonzero((soft[row] != result.image[row]).any(-1))
    assert changed_hard == 80  # exactly the shirt's columns
    assert changed_soft > changed_hard  # the blend reaches past the hard edge
    # just outside the shirt the soft version moved part of the way
    edge = soft[row, 38].astype(int) - result.image[row, 38].astype(int)
    assert 0 < np.abs(edge).max() < np.abs(hard[row, 41].astype(int) - result.image[row, 41].astype(int)).max()


def test_recolor_strength_zero_is_identity_and_absent_region_is_a_copy():
    result = scene()
    np.testing.assert_array_equal(RecolorCompositor(strength=0.0)(result.image, result), result.image)
    out = RecolorCompositor("dress")(result.image, result)
    np.testing.assert_array_equal(out, result.image)
    assert out is not result.image


def test_recolor_uses_probabilities_when_present():
    result = scene()
    probs = np.zeros((18, H, W), np.float32)
    probs[0] = 1.0
    probs[:, SHIRT[0], SHIRT[1]] = 0.0
    probs[4, SHIRT[0], SHIRT[1]] = 0.25  # a faint shirt: only a quarter of the new colour
    probs[0, SHIRT[0], SHIRT[1]] = 0.75
    faint = ParseResult(result.labels, probs, result.image)
    full = RecolorCompositor(feather=0, refine=False)(result.image, result)
    part = RecolorCompositor(feather=0, refine=False)(result.image, faint)
    inside, _ = masks(2)
    moved_full = np.abs(full[inside].astype(float) - result.image[inside]).mean()
    moved_part = np.abs(part[inside].astype(float) - result.image[inside]).mean()
    assert moved_part == pytest.approx(0.25 * moved_full, rel=0.05)


@pytest.mark.parametrize("feather, refine", [(0.0, False), (3.0, False), (3.0, True), (8.0, True)])
def test_cropped_region_alpha_equals_the_full_frame_alpha(feather, refine):
    result = scene()
    full = result.region("upper_body", feather=feather, refine=refine)
    alpha, (y0, y1, x0, x1) = cropped_region_alpha(result, "upper_body", feather=feather, refine=refine)
    assert (y1 - y0) * (x1 - x0) < full.size  # it did crop
    embedded = np.zeros_like(full)
    embedded[y0:y1, x0:x1] = alpha
    np.testing.assert_allclose(embedded, full, atol=1e-5)
    assert cropped_region_alpha(result, "dress") is None


# ------------------------------------------------------------------ colours
@pytest.mark.parametrize(
    "text, rgb",
    [("#1e90ff", (30, 144, 255)), ("1E90FF", (30, 144, 255)), ("#19f", (17, 153, 255)),
     ("30, 144, 255", (30, 144, 255)), ("Navy", (0, 0, 128)), ((1, 2, 3), (1, 2, 3)),
     # names are the CSS colours: "red" is not crimson, "green" is not forestgreen
     ("red", (255, 0, 0)), ("crimson", (220, 20, 60)), ("green", (0, 128, 0)), ("orange", (255, 165, 0)),
     ("rebeccapurple", (102, 51, 153))],
)
def test_parse_color(text, rgb):
    assert parse_color(text) == rgb


@pytest.mark.parametrize("bad", ["#12345", "blurple", "1,2", "300,0,0", (1, 2), "a,b,c"])
def test_parse_color_errors_list_the_formats(bad):
    with pytest.raises(ConfigError, match="#rrggbb.*navy"):
        parse_color(bad)


# ------------------------------------------------------------------ registry
def test_make_compositor_errors_list_names_and_options():
    with pytest.raises(ConfigError, match="unknown compositor 'sepia'; valid: overlay, recolor"):
        make_compositor("sepia")
    with pytest.raises(ConfigError, match="no option 'colour'; valid: region, color, feather"):
        make_compositor("recolor", colour="red")
    with pytest.raises(ConfigError, match="unknown region 'torso'; valid: upper_body"):
        make_compositor("recolor", region="torso")
    with pytest.raises(ConfigError, match=r"alpha must be in \[0, 1\]"):
        make_compositor("overlay", alpha=2)


def test_register_compositor(monkeypatch):
    monkeypatch.setattr("tryon_sdk.compositor.COMPOSITORS", dict(COMPOSITORS))

    class Invert:
        def __init__(self, region: str = "person"):
            self.region = region

        def __call__(self, frame, result):
            return 255 - frame

    register_compositor("invert", Invert)
    c = make_compositor("invert", region="face")
    result = scene()
    np.testing.assert_array_equal(c(result.image, result), 255 - result.image)
    with pytest.raises(ConfigError, match="already registered"):
        register_compositor("invert", Invert)


# ----------------------------------------------------------------------- CLI
def cli(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_compositor_arguments(p)
    return p.parse_args(list(argv))


def test_cli_flags_build_the_compositor():
    c = compositor_from_args(cli("--composite", "recolor", "--region", "lower_body", "--color", "#1e90ff", "--feather", "5"))
    assert isinstance(c, RecolorCompositor)
    assert (c.region, c.color, c.feather) == ("lower_body", (30, 144, 255), 5.0)
    o = compositor_from_args(cli("--composite", "overlay", "--overlay-alpha", "0.3"))
    assert isinstance(o, OverlayCompositor) and o.alpha == 0.3
    assert compositor_from_args(cli()) is None


def test_cli_flag_errors():
    with pytest.raises(ConfigError, match="--color need --composite NAME; valid names: overlay, recolor"):
        compositor_from_args(cli("--color", "red"))
    with pytest.raises(ConfigError, match="--composite overlay does not take --color"):
        compositor_from_args(cli("--composite", "overlay", "--color", "red"))
    with pytest.raises(ConfigError, match="unknown compositor 'blur'"):
        compositor_from_args(cli("--composite", "blur"))


def test_cli_flags_leave_options_the_command_already_has():
    p = argparse.ArgumentParser()
    p.add_argument("--region", default="person")
    add_compositor_arguments(p)
    args = p.parse_args(["--composite", "recolor", "--region", "arms"])
    assert compositor_from_args(args).region == "arms"


def test_flags_fit_the_parse_command():
    from tryon_sdk.commands import parse as parse_command

    p = argparse.ArgumentParser()
    parse_command.add_arguments(p)
    add_compositor_arguments(p)
    args = p.parse_args(["in.mp4", "-o", "out", "--regions", "upper_body,arms", "--composite", "recolor",
                         "--region", "upper_body", "--color", "#1e90ff"])
    assert args.regions == ("upper_body", "arms")
    c = compositor_from_args(args)
    assert isinstance(c, RecolorCompositor) and c.color == (30, 144, 255) and c.region == "upper_body"
