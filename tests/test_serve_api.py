"""The web demo's HTTP API (``tryon-sdk serve``) through Starlette's TestClient, with the bundled model.

Labels must be those ``tryon-sdk parse`` writes, pixel for pixel; every bad upload a 4xx JSON
``{error, code}``; temporary uploads gone once answered; one model, parses queued on one thread.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (pip install -e '.[dev]')")

from starlette.testclient import TestClient  # noqa: E402

from tryon_sdk.cli import main  # noqa: E402
from tryon_sdk.serve import app as app_module  # noqa: E402
from tryon_sdk.serve.app import create_app  # noqa: E402
from tryon_sdk.serve.options import ServeOptions  # noqa: E402
from tryon_sdk.video.io.reader import read_image  # noqa: E402

from videos import faststart_mp4, head, make_video  # noqa: E402

LIMIT_MB = 1.0


@pytest.fixture(scope="module")
def client(default_parser):
    app = create_app(default_parser, ServeOptions(max_upload_mb=LIMIT_MB, max_video_frames=8))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def tmpdir_of(client) -> Path:
    return client.app.state.server.tmpdir


def png(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def leftover_uploads(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("upload-*"))


def post_photo(client, path: Path, **fields: str):
    with open(path, "rb") as f:
        return client.post("/api/parse", files={"file": (path.name, f, "image/jpeg")}, data=fields)


def wait_job(client, status_url: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(status_url)
        if r.json()["status"] in ("done", "failed"):
            return r
        time.sleep(0.1)
    raise AssertionError(f"job {status_url} did not finish")


@pytest.fixture(scope="module")
def drawn_photo(tmp_path_factory) -> Path:
    """A JPEG of the bundled sample drawing (for the tests that need a photo, not a real one)."""
    from tryon_sdk.video.io.sample import sample_frames

    image, _ = next(sample_frames(1, size=(240, 160)))
    path = tmp_path_factory.mktemp("drawn") / "drawn.jpg"
    Image.fromarray(image).save(path, quality=92)
    return path


# ----------------------------------------------------------------------------------- photos
@pytest.fixture(scope="module")
def parsed(client, ccp_dir):
    """One CCP photo through POST /api/parse (recolour region lower_body)."""
    photo = ccp_dir / "photos" / "0001.jpg"
    r = post_photo(client, photo, region="lower_body", color="crimson", regions="lower_body,person")
    assert r.status_code == 200, r.text
    return photo, r.json()


def test_parse_answers_labels_identical_to_the_cli(parsed, tmp_path, tmpdir_of):
    photo, body = parsed
    assert main(["parse", str(photo), "-o", str(tmp_path)]) == 0
    ref = Image.open(tmp_path / "labels.png")
    labels = png(body["labels_png"])
    assert labels.mode == "L" and labels.size == (body["width"], body["height"]) == ref.size
    np.testing.assert_array_equal(np.asarray(labels), np.asarray(ref))
    ids = np.unique(np.asarray(labels))
    assert ids.max() <= 17 and len(ids) > 3
    assert leftover_uploads(tmpdir_of) == []


def test_labels_identical_to_the_cli_without_real_data_too(client, drawn_photo, tmp_path):
    r = post_photo(client, drawn_photo, regions="", agnostic="")
    assert r.status_code == 200 and r.json()["alphas"] == {} and r.json()["agnostic"] == {}
    assert main(["parse", str(drawn_photo), "-o", str(tmp_path)]) == 0
    np.testing.assert_array_equal(np.asarray(png(r.json()["labels_png"])), np.asarray(Image.open(tmp_path / "labels.png")))


def test_parse_answers_people_overlay_alphas_and_agnostic_masks(parsed):
    photo, body = parsed
    w, h = Image.open(photo).size
    assert (body["width"], body["height"]) == (w, h)
    assert body["people"] and body["people"][0]["facing"] in ("front", "back", "side", "unknown")
    assert {"box", "area", "facing"} <= set(body["people"][0])
    x0, y0, x1, y1 = body["people"][0]["box"]
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    overlay = png(body["overlay_png"])
    assert overlay.mode == "RGB" and overlay.size == (w, h)
    assert set(body["alphas"]) == {"lower_body", "person"}
    person = np.asarray(png(body["alphas"]["person"]))
    labels = np.asarray(png(body["labels_png"]))
    assert person.shape == (h, w) and person.dtype == np.uint8
    assert np.mean((person > 127) == (labels > 0)) > 0.95  # the soft, edge-refined alpha follows the labels
    assert set(body["agnostic"]) == {"upper_body", "lower_body", "dresses"}
    mask = np.asarray(png(body["agnostic"]["upper_body"]))
    assert set(np.unique(mask)) <= {0, 255} and (mask[labels == 4] == 255).mean() > 0.95
    assert body["class_share"]["Background"] > 0.3


def test_recolor_repaints_only_the_region(client, parsed):
    photo, body = parsed
    r = client.post("/api/recolor", data={"id": body["id"], "region": "upper_body", "color": "#1e90ff"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["region"], out["color"]) == ("upper_body", "#1e90ff")
    image = read_image(photo).astype(int)
    recolored = np.asarray(png(out["recolor_png"])).astype(int)
    alpha = np.asarray(png(out["alpha_png"]))
    labels = np.asarray(png(body["labels_png"]))
    import cv2

    near = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    assert np.abs(recolored - image)[~near].max() <= 1  # untouched outside the region (PNG is lossless)
    inside = (alpha == 255) & (labels == 4)
    assert inside.sum() > 1000
    before, after = image[inside].mean(0), recolored[inside].mean(0)
    assert after[2] - after[0] > before[2] - before[0] + 20  # bluer than it was
    # the photo's own answer had the lower body in crimson: a different picture
    assert out["recolor_png"] != body["recolor_png"]


# ----------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "name, data, status, code, words",
    [
        ("notes.txt", b"just some text, not a picture", 415, "unsupported_media", "not an image or a video"),
        ("empty.jpg", b"", 400, "empty_file", "empty"),
    ],
)
def test_bad_uploads_answer_4xx_json(client, tmpdir_of, name, data, status, code, words):
    r = client.post("/api/parse", files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    assert r.json()["code"] == code and words in r.json()["error"] and name in r.json()["error"]
    assert leftover_uploads(tmpdir_of) == []


def test_a_truncated_photo_is_422(client, drawn_photo, tmpdir_of):
    data = drawn_photo.read_bytes()
    r = client.post("/api/parse", files={"file": ("cut.jpg", data[: len(data) // 3], "image/jpeg")})
    assert r.status_code == 422 and r.json()["code"] == "damaged_media" and "truncated" in r.json()["error"]
    assert leftover_uploads(tmpdir_of) == []


def test_an_oversized_upload_is_413_declared_or_streamed(client, tmpdir_of):
    big = b"\xff" * int((LIMIT_MB + 0.5) * 2**20)
    r = client.post("/api/parse", files={"file": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 413 and r.json()["code"] == "too_large" and f"{LIMIT_MB:g} MB" in r.json()["error"]

    def chunks():  # no Content-Length: the limit is enforced while the body is read
        yield b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jpg\"\r\n\r\n"
        for _ in range(int(LIMIT_MB * 8) + 8):
            yield b"\xff" * 2**17
        yield b"\r\n--xyz--\r\n"

    r = client.post("/api/parse", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    assert leftover_uploads(tmpdir_of) == []


def test_options_and_ids_are_checked(client, drawn_photo):
    photo = drawn_photo
    for fields, words in [({"region": "sleeves"}, "unknown region 'sleeves'"), ({"color": "blurple"}, "cannot read colour"),
                          ({"roi": "maybe"}, "roi must be"), ({"colour": "red"}, "unknown field(s) colour")]:  # fmt: skip
        r = post_photo(client, photo, **fields)
        assert r.status_code == 400 and r.json()["code"] == "bad_option" and words in r.json()["error"], r.text
    r = client.post("/api/parse", data={"region": "hair"})
    assert r.status_code == 400 and r.json()["code"] == "missing_file"
    r = client.post("/api/recolor", data={"id": "0123456789abcdef"})
    assert r.status_code == 404 and "upload the photo again" in r.json()["error"]
    r = client.post("/api/recolor", data={"id": "0123456789abcdef", "region": "wings"})
    assert r.status_code == 400 and "unknown region 'wings'" in r.json()["error"]
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/parse").status_code == 405 and client.get("/api/parse").json()["code"] == "method_not_allowed"


def test_each_endpoint_refuses_the_other_kind_of_media(client, drawn_photo, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    r = client.post("/api/parse", files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 415 and "/api/jobs" in r.json()["error"]
    r = client.post("/api/jobs", files={"file": ("drawn.jpg", drawn_photo.read_bytes(), "image/jpeg")})
    assert r.status_code == 415 and "/api/parse" in r.json()["error"]


def test_a_truncated_video_is_422_at_upload(client, tmp_path, tmpdir_of):
    cut = head(faststart_mp4(tmp_path / "full.mp4", frames=30, width=64, height=48), 0.4)
    r = client.post("/api/jobs", files={"file": ("cut.mp4", cut.read_bytes(), "video/mp4")})
    assert r.status_code == 422 and r.json()["code"] == "damaged_media"
    assert "cut.mp4 is incomplete" in r.json()["error"] and "of the 30 frames" in r.json()["error"]
    assert leftover_uploads(tmpdir_of) == [] and not list(tmpdir_of.glob("job-*/input*"))


def test_a_video_found_cut_while_decoding_fails_its_job_with_422(client, tmp_path, monkeypatch):
    from tryon_sdk.video.io.reader import probe_video

    monkeypatch.setattr(app_module, "check_video", lambda upload: probe_video(upload.path))  # no packet scan
    cut = head(faststart_mp4(tmp_path / "full.mp4", frames=30, width=64, height=48), 0.25)  # < 8 frames left
    r = client.post("/api/jobs", files={"file": ("cut.mp4", cut.read_bytes(), "video/mp4")})
    assert r.status_code == 202
    status = wait_job(client, r.json()["status_url"])
    assert status.status_code == 422 and status.json()["status"] == "failed"
    assert status.json()["code"] == "damaged_media" and "cut.mp4 is incomplete" in status.json()["error"]
    assert status.json()["files"] == {}
    job_dir = client.app.state.server.tmpdir / f"job-{r.json()['id']}"
    assert not job_dir.exists() or list(job_dir.iterdir()) == []


# ----------------------------------------------------------------------------------- video jobs
def test_a_video_job_matches_the_cli_frame_by_frame(client, tmp_path, tmpdir_of):
    clip = make_video(tmp_path / "walk.mp4", width=96, height=72, frames=10, steady=True)
    r = client.post("/api/jobs", files={"file": ("walk.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["status_url"] == f"/api/jobs/{r.json()['id']}"
    seen = []
    deadline = time.monotonic() + 120
    while (s := client.get(r.json()["status_url"]).json())["status"] not in ("done", "failed") and time.monotonic() < deadline:
        seen.append(s["frames_done"])
        time.sleep(0.05)
    assert s["status"] == "done", s
    assert seen == sorted(seen) and s["progress"] == 1.0
    # max_video_frames=8: the first 8 frames, and said so
    assert s["frames_done"] == s["frames_total"] == 8 and "first 8 frames" in s["warning"]

    video = client.get(s["files"]["overlay.mp4"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert client.get(s["files"]["overlay.mp4"], headers={"Range": "bytes=0-99"}).status_code == 206  # seekable
    (tmp_path / "overlay.mp4").write_bytes(video.content)
    with av.open(str(tmp_path / "overlay.mp4")) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 96, 72)
        assert sum(1 for _ in c.decode(stream)) == 8

    masks = client.get(s["files"]["masks.zip"])
    assert masks.status_code == 200 and "attachment" in masks.headers["content-disposition"]
    zf = zipfile.ZipFile(io.BytesIO(masks.content))
    names = set(zf.namelist())
    assert {f"labels/{i:06d}.png" for i in range(8)} <= names and "summary.json" in names
    assert {f"alpha_upper_body/{i:06d}.png" for i in range(8)} <= names
    assert {f"agnostic_dresses/{i:06d}.png" for i in range(8)} <= names
    assert len(json.loads(zf.read("summary.json"))["frames"]) == 8

    out = tmp_path / "cli"
    assert main(["parse", str(clip), "-o", str(out), "--mask-format", "png", "--max-frames", "8"]) == 0
    for i in range(8):
        got = np.asarray(Image.open(io.BytesIO(zf.read(f"labels/{i:06d}.png"))))
        np.testing.assert_array_equal(got, np.asarray(Image.open(out / "labels" / f"{i:06d}.png")))
    assert leftover_uploads(tmpdir_of) == []
    assert not list(tmpdir_of.glob("job-*/input*"))  # the uploaded video is removed once parsed


def test_a_video_job_can_answer_vp9_webm_instead(client, tmp_path):
    clip = make_video(tmp_path / "walk.mp4", width=96, height=72, frames=4)
    r = client.post("/api/jobs", files={"file": ("walk.mp4", clip.read_bytes(), "video/mp4")}, data={"video_format": "webm"})
    s = wait_job(client, r.json()["status_url"]).json()
    assert s["status"] == "done" and set(s["files"]) == {"overlay.webm", "masks.zip"}
    video = client.get(s["files"]["overlay.webm"])
    assert video.headers["content-type"] == "video/webm"
    assert client.get(f"/api/jobs/{s['id']}/files/overlay.mp4").status_code == 404
    (tmp_path / "overlay.webm").write_bytes(video.content)
    with av.open(str(tmp_path / "overlay.webm")) as c:
        assert c.streams.video[0].codec_context.name == "vp9" and sum(1 for _ in c.decode(video=0)) == 4
    r = client.post("/api/jobs", files={"file": ("walk.mp4", clip.read_bytes(), "video/mp4")}, data={"video_format": "avi"})
    assert r.status_code == 400 and "video_format must be one of mp4, webm" in r.json()["error"]


# ----------------------------------------------------------------------------------- sharing
def test_concurrent_requests_queue_on_one_worker_thread(default_parser, monkeypatch, tmp_path):
    """Several uploads at once on the real server: all answered, the model never used by two threads at once."""
    import httpx

    from serve_browser import running_server

    active, most, threads = 0, 0, set()
    lock = threading.Lock()
    real = app_module.parse_photo

    def watched(*args, **kwargs):
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
            threads.add(threading.current_thread().name)
        try:
            time.sleep(0.05)
            return real(*args, **kwargs)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(app_module, "parse_photo", watched)
    rng = np.random.default_rng(0)
    photo = tmp_path / "small.png"
    Image.fromarray(rng.integers(0, 255, (96, 64, 3), dtype=np.uint8)).save(photo)
    answers: list[httpx.Response] = []
    app = create_app(default_parser)
    with running_server(app) as url:

        def send() -> None:
            with httpx.Client(base_url=url, timeout=120) as http:
                answers.append(http.post("/api/parse", files={"file": ("small.png", photo.read_bytes(), "image/png")}))

        workers = [threading.Thread(target=send) for _ in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        tmpdir = app.state.server.tmpdir
        assert leftover_uploads(tmpdir) == []
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.json()["labels_png"] for a in answers}) == 1
    assert most == 1 and len(threads) == 1 and threads.pop().startswith("tryon-serve-parse")
    assert not tmpdir.exists()  # the server removed its temporary folder when it stopped


# ----------------------------------------------------------------------------------- the command
def test_the_command_binds_loopback_and_serves_the_page(default_parser, monkeypatch):
    import uvicorn

    from tryon_sdk.commands import serve as serve_cmd

    calls = {}
    monkeypatch.setattr(serve_cmd, "load_parser", lambda args: default_parser)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    assert main(["serve", "--port", "8123", "--max-upload-mb", "3"]) == 0
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8123
    with TestClient(calls["app"]) as c:
        page = c.get("/")
        assert page.status_code == 200 and "tryon_sdk" in page.text
        assert "http" not in page.text.replace("http-equiv", "")  # nothing loaded from elsewhere
        script = c.get("/static/app.js")
        assert script.status_code == 200 and "/api/parse" in script.text and "https://" not in script.text
        assert c.get("/static/style.css").status_code == 200
        info = c.get("/api/info").json()
        assert info["limits"]["max_upload_mb"] == 3 and len(info["classes"]) == 18 and "upper_body" in info["regions"]


def test_without_the_serve_extra_the_command_says_what_to_install(monkeypatch, capsys):
    from tryon_sdk.commands import serve as serve_cmd

    monkeypatch.setattr(serve_cmd, "missing_dependencies", lambda: ["starlette", "uvicorn"])
    assert main(["serve"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'tryon-sdk[serve]'" in err


@pytest.mark.slow
def test_the_sdk_never_imports_the_web_stack():
    code = (
        "import sys, tryon_sdk, tryon_sdk.cli; tryon_sdk.cli.build_parser(); from tryon_sdk import Parser; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'multipart', 'python_multipart') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"port": 70000}, r"port must be in \[0, 65535\]"),
        ({"port": "80"}, "port must be an integer"),
        ({"max_upload_mb": 0}, r"max_upload_mb must be in \(0.0, inf\]"),
        ({"max_jobs": 0}, "max_jobs must be an integer >= 1"),
        ({"cache_mb": -1}, r"cache_mb must be in \[0.0, inf\]"),
    ],
)
def test_serve_options_name_the_bad_value(bad, message):
    from tryon_sdk.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        ServeOptions(**bad)
    assert ServeOptions(port=0, cache_mb=0).port == 0  # 0: any free port; no cache
