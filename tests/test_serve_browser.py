"""The web demo in a real browser: headless Chromium (Selenium) against ``tryon-sdk serve``'s app on uvicorn.

Skipped, with the reason, only where no Chromium / chromedriver can be found (``.ci/run`` installs them).
A screenshot of the page for the docs: ``TRYON_SERVE_SCREENSHOT=docs/images/serve.png pytest tests/test_serve_browser.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install -e '.[serve]')")

from serve_browser import find_browser, headless_chromium, running_server, wait_for_download  # noqa: E402
from videos import faststart_mp4, head, make_video  # noqa: E402

PHOTO = "photos/0001.jpg"
# headless Chromium against a live server: 10-15 s for the module on 2 cores, its tests sharing the browser
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_url(default_parser):
    from tryon_sdk.serve.app import create_app
    from tryon_sdk.serve.options import ServeOptions

    find_browser()  # skip before starting anything
    with running_server(create_app(default_parser, ServeOptions(max_upload_mb=5))) as url:
        yield url


@pytest.fixture(scope="module")
def browser(base_url, tmp_path_factory):
    downloads = tmp_path_factory.mktemp("downloads")
    with headless_chromium(downloads) as driver:
        driver.downloads = downloads
        driver.get(base_url)
        yield driver


def wait_state(driver, *states: str, timeout: float = 120.0) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: d.find_element("tag name", "body").get_attribute("data-state") in states)
    state = driver.find_element("tag name", "body").get_attribute("data-state")
    if state == "error" and "error" not in states:
        raise AssertionError(driver.find_element("id", "error").text)
    return state


def upload(driver, path: Path) -> None:
    field = driver.find_element("id", "file")
    driver.execute_script("arguments[0].value = '';", field)
    field.send_keys(str(path))


def natural_size(driver, element_id: str) -> tuple[int, int]:
    return tuple(driver.execute_script(f"const i = document.getElementById('{element_id}'); return [i.naturalWidth, i.naturalHeight];"))


def test_photo_parse_recolor_and_download_match_the_cli(browser, ccp_dir, tmp_path):
    from selenium.webdriver.support.ui import Select

    from tryon_sdk.cli import main

    photo = ccp_dir / PHOTO
    wait_state(browser, "ready")
    upload(browser, photo)
    assert wait_state(browser, "parsed", "error") == "parsed"
    width, height = Image.open(photo).size
    for element in ("original", "overlay", "recolor", "alpha"):
        assert natural_size(browser, element) == (width, height), element
    people = browser.find_elements("css selector", "#people tr.person")
    assert len(people) >= 1
    facing = browser.find_element("css selector", "#people tr.person td[data-key=facing]").text
    assert facing in ("front", "back", "side", "unknown")

    # recolour another region in another colour: the picture and the alpha follow at once
    before = browser.find_element("id", "recolor").get_attribute("src")
    Select(browser.find_element("id", "region")).select_by_value("lower_body")
    browser.execute_script(
        "const c = document.getElementById('color'); c.value = '#dc143c'; c.dispatchEvent(new Event('change'));"
    )
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 60).until(lambda d: d.find_element("tag name", "body").get_attribute("data-recolors") == "2")
    assert wait_state(browser, "recolored") == "recolored"
    assert browser.find_element("id", "recolor").get_attribute("src") != before
    assert browser.find_element("id", "recolor-caption").text == "lower_body → #dc143c"
    assert browser.find_element("id", "alpha-caption").text == "lower_body"

    shot = os.environ.get("TRYON_SERVE_SCREENSHOT")
    if shot:
        save_screenshot(browser, Path(shot))

    # the labels the page downloads are those tryon-sdk parse writes for the photo, pixel for pixel
    browser.find_element("id", "download-labels").click()
    got = wait_for_download(browser.downloads, "0001-labels.png")
    assert main(["parse", str(photo), "-o", str(tmp_path / "cli")]) == 0
    with Image.open(got) as g, Image.open(tmp_path / "cli" / "labels.png") as ref:
        assert g.mode == ref.mode == "L" and g.size == (width, height)
        np.testing.assert_array_equal(np.asarray(g), np.asarray(ref))
    assert len(np.unique(np.asarray(Image.open(got)))) > 3
    browser.find_element("id", "download-agnostic-upper_body").click()
    mask = np.asarray(Image.open(wait_for_download(browser.downloads, "0001-agnostic_upper_body.png")))
    assert mask.shape == (height, width) and set(np.unique(mask)) <= {0, 255} and mask.any()


def save_screenshot(driver, path: Path) -> None:
    """The page as shown, down to its footer, as a small PNG (256-colour palette, dithered)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_suffix(".raw.png")
    driver.save_screenshot(str(raw))
    bottom = driver.execute_script("return Math.ceil(document.querySelector('footer').getBoundingClientRect().bottom)")
    scale = driver.execute_script("return window.devicePixelRatio") or 1
    with Image.open(raw) as im:
        im = im.convert("RGB")
        im = im.crop((0, 0, im.width, min(im.height, int(bottom * scale))))
        im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
    raw.unlink()


@pytest.mark.parametrize("video_format", ["mp4", "webm"])
def test_a_video_runs_as_a_job_and_its_overlay_plays_in_the_page(browser, base_url, tmp_path, video_format):
    """H.264 MP4 (what this Chromium picks) and the VP9 WebM fallback (``?video=webm``) both play."""
    browser.get(f"{base_url}/?video={video_format}")
    wait_state(browser, "ready")
    clip = make_video(tmp_path / "walk.mp4", width=160, height=120, frames=10, steady=True)
    upload(browser, clip)
    assert wait_state(browser, "job-done", "error") == "job-done"
    assert browser.find_element("id", "progress").get_attribute("value") == "1"
    assert "10 frames" in browser.find_element("id", "progress-text").text
    # the H.264 overlay really decodes and plays in this browser
    played = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const v = document.getElementById('result');
        const report = () => done({ready: v.readyState, width: v.videoWidth, height: v.videoHeight,
                                   error: v.error && v.error.code, time: v.currentTime});
        const go = () => { v.play().catch(() => {}); setTimeout(report, 700); };
        if (v.error) report(); else if (v.readyState >= 2) go();
        else { v.addEventListener('loadeddata', go, {once: true}); v.addEventListener('error', report, {once: true}); }
        """
    )
    assert played["error"] is None, played
    assert played["ready"] >= 2 and (played["width"], played["height"]) == (160, 120), played
    assert played["time"] > 0, played
    links = {a.get_attribute("download") for a in browser.find_elements("css selector", "#video-downloads a")}
    assert links == {f"walk-overlay.{video_format}", "walk-masks.zip"}
    if video_format == "mp4":  # the page picks H.264 where the browser plays it
        assert browser.execute_script("return document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.640028\"')")


def test_bad_uploads_are_explained_in_the_page(browser, tmp_path):
    cut = head(faststart_mp4(tmp_path / "full.mp4", frames=30, width=64, height=48), 0.4)
    upload(browser, cut)
    assert wait_state(browser, "error") == "error"
    assert "full-cut.mp4 is incomplete" in browser.find_element("id", "error").text
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    upload(browser, text)
    assert wait_state(browser, "error") == "error"
    assert "not an image or a video" in browser.find_element("id", "error").text
    big = tmp_path / "huge.jpg"
    big.write_bytes(b"\xff" * (6 * 2**20))
    upload(browser, big)
    assert wait_state(browser, "error") == "error"
    assert "5 MB" in browser.find_element("id", "error").text
