"""One photo through the web demo's API (``POST /api/parse``, Starlette TestClient) against ``Parser.parse``.

The API does more than the parse: it receives the upload, reads the file, parses it in an
IMAGE session as ``tryon-sdk parse`` does (limb consistency, probabilities kept for soft
alphas and recolours), and answers PNGs as base64 JSON (labels, overlay, a recolour, the
region's alpha, three agnostic masks). The ratio says what all that costs over the bare parse
of the same photo (the bundled default model, CPU). Photo: CCP ``photos/0001.jpg`` (550x832)
when ``../shared/data`` has it, else the bundled sample drawing. The two alternate ``ROUNDS``
times and the fastest of each is kept, so both see the same machine load::

    OMP_WAIT_POLICY=PASSIVE pytest benchmarks/bench_serve.py --benchmark-enable -q -s

Collected in the test suite as a smoke run (one untimed round each).
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="the serve extra is not installed (pip install -e '.[serve]')")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from starlette.testclient import TestClient  # noqa: E402

from tryon_sdk import Parser  # noqa: E402
from tryon_sdk.serve.app import create_app  # noqa: E402
from tryon_sdk.video.io.reader import read_image  # noqa: E402

from shared_clip import timed  # noqa: E402

ROUNDS = int(os.environ.get("TRYON_BENCH_ROUNDS", "5"))
CCP_PHOTO = (
    Path(os.environ.get("TRYON_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    / "clothing-co-parsing"
    / "photos"
    / "0001.jpg"
)


@pytest.fixture(scope="module")
def photo() -> tuple[str, bytes]:
    if CCP_PHOTO.is_file():
        return CCP_PHOTO.name, CCP_PHOTO.read_bytes()
    from tryon_sdk.video.io.sample import sample_frames

    image, _ = next(sample_frames(1))
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="JPEG", quality=92)
    return "sample.jpg", buf.getvalue()


def test_api_parse_vs_parser_parse(request, photo, record, ratio, tmp_path):
    name, data = photo
    parser = Parser.from_pretrained(device="cpu")
    path = tmp_path / name
    path.write_bytes(data)
    image = read_image(path)
    opt = request.config.getoption
    smoke = opt("benchmark_disable", False) and not opt("benchmark_enable", False)
    rounds = 1 if smoke else ROUNDS  # the untimed smoke run checks the code path once

    with TestClient(create_app(parser)) as client:

        def api() -> dict:
            r = client.post("/api/parse", files={"file": (name, data, "image/jpeg")})
            assert r.status_code == 200, r.text
            return r.json()

        def parse() -> None:
            parser.parse(image)

        body = api()  # warm-up, and the check that both parse the same photo
        assert (body["height"], body["width"]) == image.shape[:2] == parser.parse(image).labels.shape
        best = {"api": float("inf"), "parse": float("inf")}
        server_parse = float("inf")
        for _ in range(rounds):
            for key, fn in (("parse", parse), ("api", api)):
                t0 = time.perf_counter()
                out = fn()
                best[key] = min(best[key], time.perf_counter() - t0)
                if key == "api":
                    server_parse = min(server_parse, out["timings_ms"]["parse"] / 1000)
    size = f"{image.shape[1]}x{image.shape[0]}"
    api_label = f"POST /api/parse, one {size} photo (TestClient)"
    session_label = "the API's IMAGE-session parse of it (server timing)"
    parse_label = f"Parser.parse, the same {size} photo"
    record(api_label, timed(best["api"]))
    record(session_label, timed(server_parse))
    record(parse_label, timed(best["parse"]))
    ratio("API photo latency / Parser.parse", api_label, parse_label, "report")
    ratio("API's session parse / Parser.parse", session_label, parse_label, "report")
    print(f"\n{api_label}: {best['api'] * 1e3:.0f} ms; {session_label}: {server_parse * 1e3:.0f} ms; "
          f"{parse_label}: {best['parse'] * 1e3:.0f} ms; ratio {best['api'] / best['parse']:.2f}")  # fmt: skip
