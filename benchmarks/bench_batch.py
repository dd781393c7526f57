"""``tryon-sdk batch`` throughput: images/s with 1 and 2 local worker processes and on a local Ray runtime.

Photos: the first ``N`` (``$TRYON_BENCH_BATCH_IMAGES``, 4 in the suite's smoke run; 200 to measure) CCP
photos (550 x ~830) when ``../shared/data`` has them, else generated 550x830 images. Each configuration
parses the same photos into a fresh folder (labels + summary, the bundled model, ONNX Runtime on the
CPU); the wall time includes starting the workers and loading their models, as a user sees it, and
so does the rate printed and recorded. Run it for real with::

    TRYON_BENCH_BATCH_IMAGES=200 OMP_WAIT_POLICY=PASSIVE pytest benchmarks/bench_batch.py --benchmark-enable -s
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tryon_sdk.batch import BatchOptions, run
from tryon_sdk.video.jobs.options import PipelineOptions

from shared_clip import timed

IMAGES = int(os.environ.get("TRYON_BENCH_BATCH_IMAGES", "4"))
CCP_PHOTOS = Path(os.environ.get("TRYON_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "clothing-co-parsing" / "photos"
CONFIGS = {"1 worker": {"workers": 1}, "2 workers": {"workers": 2}, "ray local, 2 actors": {"ray": "local", "workers": 2}}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A text file listing the photos (the CCP photos are read where they lie)."""
    listing = tmp_path_factory.mktemp("photos") / "photos.txt"
    found = sorted(CCP_PHOTOS.glob("*.jpg"))[:IMAGES] if CCP_PHOTOS.is_dir() else []
    if len(found) < IMAGES:
        rng = np.random.default_rng(0)
        folder = listing.parent
        found = []
        for i in range(IMAGES):
            p = folder / f"{i:04d}.jpg"
            Image.fromarray(rng.integers(0, 255, (830, 550, 3), dtype=np.uint8)).save(p)
            found.append(p)
    listing.write_text("\n".join(map(str, found)) + "\n")
    return listing


@pytest.mark.parametrize("config", list(CONFIGS))
def test_batch_images_per_second(photos, config, tmp_path, benchmark, record):
    if "ray" in CONFIGS[config]:
        pytest.importorskip("ray", reason="the ray extra is not installed")
    runs = iter(range(10**6))
    walls: list[float] = []

    def once() -> None:
        options = BatchOptions(pipeline=PipelineOptions(outputs=("labels", "summary")), **CONFIGS[config])
        t0 = time.perf_counter()
        report = run([photos], tmp_path / f"out{next(runs)}", options)
        walls.append(time.perf_counter() - t0)
        assert report.ok == IMAGES and report.failed == 0

    benchmark.pedantic(once, rounds=1, iterations=1)
    wall = min(walls)
    print(f"\nbatch, {config}: {IMAGES} images in {wall:.1f} s = {IMAGES / wall:.2f} images/s (start-up included)")
    record(f"batch {IMAGES} images, {config} (start-up included)", timed(wall))
