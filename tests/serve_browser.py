"""Helpers of the web demo's browser test: a real uvicorn server in a thread, headless Chromium via Selenium."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
DRIVERS = ("chromedriver",)
INSTALL = "apt-get install -y chromium chromium-driver (Debian), as .ci/run does"


def find_browser() -> tuple[str, str]:
    """``(browser, driver)`` executables, or a skip saying what is missing."""
    browser = os.environ.get("TRYON_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = os.environ.get("TRYON_CHROMEDRIVER") or next(filter(None, map(shutil.which, DRIVERS)), None)
    if not browser or not driver:
        missing = " and ".join(n for n, v in (("a Chromium browser", browser), ("chromedriver", driver)) if not v)
        pytest.skip(f"no browser test: {missing} not found ({INSTALL}; or set TRYON_CHROMIUM / TRYON_CHROMEDRIVER)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("no browser test: selenium is not installed (pip install -e '.[dev]')")
    return browser, driver


@contextmanager
def running_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="tryon-serve-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def headless_chromium(downloads: Path, size: tuple[int, int] = (1280, 860)) -> Iterator["object"]:
    """A headless Chromium driven by Selenium, saving downloads into ``downloads``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = find_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--autoplay-policy=no-user-gesture-required", f"--window-size={size[0]},{size[1]}"):  # fmt: skip
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False, "safebrowsing.enabled": False}
    )
    try:
        driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    except Exception as exc:  # noqa: BLE001 - a browser that cannot start here is a skip, with why
        pytest.skip(f"no browser test: headless Chromium did not start ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver
    finally:
        driver.quit()


def wait_for_download(folder: Path, name: str, timeout: float = 30.0) -> Path:
    """The downloaded file once Chromium has finished writing it."""
    path = folder / name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and not any(p.suffix == ".crdownload" for p in folder.iterdir()):
            return path
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded into {folder} (there: {sorted(p.name for p in folder.iterdir())})")
