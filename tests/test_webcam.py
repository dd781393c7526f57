"""The webcam demo: latest-frame grabber, keys, and headless runs on a generated video."""

from __future__ import annotations

import sys
import threading
import time

import av
import numpy as np
import pytest

from tryon_sdk import webcam
from tryon_sdk.cli import main
from tryon_sdk.errors import VideoError
from tryon_sdk.parser import Parser
from tryon_sdk.webcam import DemoOptions, DemoState, LatestFrameGrabber, run_demo
from videos import make_video


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("webcam-src") / "clip.mp4", width=80, height=60, frames=12, fps=25)


def decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


class FakeCamera:
    """``cv2.VideoCapture`` stand-in: ``n`` BGR frames whose first pixel holds the frame index (mod 256)."""

    def __init__(self, n: int, size=(48, 64), gate: threading.Event | None = None, lockstep=None) -> None:
        self.n, self.size, self.i, self.gate, self.lockstep = n, size, 0, gate, lockstep
        self.released = False

    def read(self):
        if self.gate is not None:
            self.gate.wait()
        if self.lockstep is not None:  # like a camera that waits for the demo: no frame is dropped
            deadline = time.monotonic() + 10
            while not self.lockstep(self.i) and time.monotonic() < deadline:
                time.sleep(0.001)
        if self.i >= self.n:
            return False, None
        frame = np.full((*self.size, 3), 100, np.uint8)
        frame[0, 0] = (self.i % 256, 0, 255)  # BGR: red channel 255 checks the BGR -> RGB conversion
        self.i += 1
        return True, frame

    def release(self):
        self.released = True


# ------------------------------------------------------------------- grabber
def test_grabber_keeps_only_the_newest_frame():
    cam = FakeCamera(7)
    grabber = LatestFrameGrabber(cam).start()
    while not grabber.ended:
        time.sleep(0.001)
    frame = grabber.read(timeout=1)
    assert frame.index == 6 and frame.image[0, 0, 2] == 6  # the last frame, not a stale one
    assert frame.image[0, 0, 0] == 255  # RGB
    assert grabber.frames_grabbed == 7 and grabber.frames_dropped == 6
    assert grabber.read(timeout=1) is None and grabber.eof
    grabber.stop()
    assert cam.released


def test_grabber_hands_each_frame_out_once_and_in_order():
    gate = threading.Event()
    cam = FakeCamera(3, gate=gate)
    with LatestFrameGrabber(cam) as grabber:
        assert grabber.read(timeout=0.01) is None  # nothing captured yet
        gate.set()
        seen = []
        while (f := grabber.read(timeout=2)) is not None:
            seen.append(f.index)
    assert seen == sorted(set(seen)) and seen[-1] == 2


def test_grabber_paces_a_file_at_its_frame_rate():
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    grabber = LatestFrameGrabber(FakeCamera(5), fps=10.0, clock=lambda: now[0], sleep=sleep).start()
    while not grabber.ended:
        time.sleep(0.001)
    last = grabber.read(timeout=1)
    assert sleeps == pytest.approx([0.1] * 4)
    assert last.timestamp_ms == 400 and last.captured_at == pytest.approx(100.4)
    grabber.stop()


def test_grabber_mirrors_for_selfie_view():
    cam = FakeCamera(1)
    grabber = LatestFrameGrabber(cam, mirrored=True).start()
    frame = grabber.read(timeout=2)
    grabber.stop()
    assert frame.image[0, -1, 2] == 0 and frame.image[0, -1, 0] == 255  # the marker moved to the right edge


# ---------------------------------------------------------------------- keys
def test_keys_switch_composite_region_colour_and_smoothing():
    state = DemoState(DemoOptions(color="navy"))
    assert (state.composite, state.region, state.color, state.smoothing) == ("recolor", "upper_body", "navy", True)
    assert state.compositor().color == (0, 0, 128)
    assert state.handle_key(ord("r")) and state.region == "lower_body"
    assert state.compositor().region == "lower_body"
    assert state.handle_key(ord("c")) and state.color == "#1e90ff"
    assert state.handle_key(ord("s")) and state.smoothing is False
    assert state.handle_key(ord("m")) and state.composite == "overlay"
    assert type(state.compositor()).__name__ == "OverlayCompositor"
    assert state.handle_key(ord("m")) and state.composite == "none" and state.compositor() is None
    assert state.handle_key(ord("x"))  # unbound keys are ignored
    assert not state.handle_key(ord("q")) and not state.handle_key(27)


# ---------------------------------------------------------------- demo runs
def test_cli_webcam_runs_headless_on_a_file_and_writes_frames(video, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    code = main(["webcam", "--source", str(video), "--model", str(tiny_checkpoint), "--headless", "--output", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert f"writing the demo to {out}" in text and f"wrote {out}" in text
    frames = decode(out)
    assert 1 <= len(frames) <= 12
    assert frames[0].shape == (60, 80, 3)


def test_demo_without_display_records_to_the_default_file(video, tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.chdir(tmp_path)
    lines: list[str] = []
    stats = run_demo(DemoOptions(source=str(video), model=str(tiny_checkpoint), max_frames=3), log=lines.append)
    assert stats.headless and stats.output is not None and stats.output.name == webcam.DEFAULT_OUTPUT
    assert any("no display" in line for line in lines)
    assert stats.frames_shown == 3 == len(decode(tmp_path / webcam.DEFAULT_OUTPUT))
    assert stats.frames_parsed >= 3 and stats.frames_captured >= 3


def test_window_keys_switch_settings_mid_run(tiny_checkpoint, tmp_path, monkeypatch):
    keys = iter([ord("s"), ord("m"), ord("r"), ord("c"), ord("s")])
    shown: list[np.ndarray] = []

    class FakeWindow:
        def __init__(self):
            pass

        def show(self, rgb):
            shown.append(rgb)
            return next(keys, None)

        def close(self):
            pass

    monkeypatch.setattr(webcam.demo, "Window", FakeWindow)
    stats = run_demo(
        DemoOptions(headless=False, output=str(tmp_path / "rec.mp4"), hud=True),
        parser=Parser.from_pretrained(tiny_checkpoint, device="cpu"),
        capture=FakeCamera(8, size=(48, 64), lockstep=lambda i: len(shown) >= i),
        log=lambda line: None,
    )
    assert stats.frames_shown == len(shown) == 8  # every key was read and the run went on
    assert stats.frames_parsed == 8 and stats.dropped_by_grabber == 0  # parsed across the two smoothing restarts
    assert len(decode(stats.output)) == stats.frames_shown
    assert not stats.headless


def test_quit_key_stops_the_demo(tiny_checkpoint, monkeypatch):
    class QuitWindow:
        def show(self, rgb):
            return ord("q")

        def close(self):
            pass

    monkeypatch.setattr(webcam.demo, "Window", QuitWindow)
    stats = run_demo(DemoOptions(headless=False), parser=Parser.from_pretrained(tiny_checkpoint, device="cpu"),
                     capture=FakeCamera(500), log=lambda line: None)
    assert stats.frames_shown == 1 and stats.output is None


def test_missing_source_is_a_video_error(tiny_checkpoint, tmp_path):
    with pytest.raises(VideoError, match="no video file at"):
        run_demo(DemoOptions(source=str(tmp_path / "nope.mp4"), model=str(tiny_checkpoint), headless=True))
    assert main(["webcam", "--source", str(tmp_path / "nope.mp4"), "--headless"]) == 1
