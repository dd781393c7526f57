"""Peak memory (RSS) of ``tryon-sdk parse`` on generated 4K and 1080p clips, default outputs.

Goal: peak RSS <= 2.5 GB at 3840x2160 and <= 1.5 GB at 1920x1080, and flat
over a long video (the RSS of the second half of the run does not climb).

Each run is a fresh ``python -m tryon_sdk parse`` subprocess (the default
model, default outputs: overlay, labels, summary; smoothing and limb
consistency on). Its peak RSS comes from ``wait4`` (the kernel's high-water
mark); ``/proc/PID/status`` is sampled every 0.2 s for the curve. The clip
is the bundled sample's drawn person (:mod:`tryon_sdk.video.io.sample`) rendered at
the full size with light noise, H.264. Numbers, not assertions: they print
with the machine's figures and go into the benchmark's ``extra_info``::

    OMP_WAIT_POLICY=PASSIVE pytest benchmarks/bench_memory.py --benchmark-enable -s

``TRYON_BENCH_MEMORY_FRAMES`` (default 36) sets the clip length and
``TRYON_BENCH_MEMORY_SIZES`` (default ``2160x3840,1080x1920``) the sizes. The
untimed smoke run (``--benchmark-disable``, what ``pytest`` runs) uses one
small clip so that it stays fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tryon_sdk.video.io.sample import render_person

REPO = Path(__file__).resolve().parents[1]
FRAMES = int(os.environ.get("TRYON_BENCH_MEMORY_FRAMES", "36"))
SIZES = [
    tuple(int(v) for v in s.split("x"))
    for s in os.environ.get("TRYON_BENCH_MEMORY_SIZES", "2160x3840,1080x1920").split(",")
    if s.strip()
]
GOALS_GB = {(2160, 3840): 2.5, (1080, 1920): 1.5}


def make_clip(path: Path, height: int, width: int, frames: int, fps: int = 10) -> Path:
    """The sample's walking figure at ``height x width``, H.264 (ultrafast), ``frames`` long."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "23"})
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.codec_context.time_base = Fraction(1, fps)
        noise = rng.integers(-4, 5, (height, width, 3), dtype=np.int16)
        for i in range(frames):
            img, _ = render_person(height, width, t=i * 0.6, cx=width * (0.3 + 0.4 * i / max(1, frames - 1)))
            img = np.clip(img.astype(np.int16) + np.roll(noise, i, axis=1), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    return path


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure_parse(src: Path, out: Path, *extra: str) -> dict:
    """Run ``tryon-sdk parse`` in a subprocess: peak RSS (MB), the RSS curve's halves, wall time."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    cmd = [sys.executable, "-m", "tryon_sdk", "parse", str(src), "-o", str(out), "--no-progress", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    samples: list[tuple[float, float]] = []
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        rss = _rss_mb(proc.pid)
        if rss is not None:
            samples.append((time.perf_counter() - t0, rss))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    stdout, stderr = proc.stdout.read().decode(), proc.stderr.read().decode()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, stderr
    rss = [r for _, r in samples]
    half = len(rss) // 2
    return {
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "first_half_max_mb": round(max(rss[:half] or [0.0]), 1),
        "second_half_max_mb": round(max(rss[half:] or [0.0]), 1),
        "wall_s": round(wall, 2),
        "stdout": stdout.strip(),
    }


def _run(tmp_path: Path, sizes: list[tuple[int, int]], frames: int) -> dict[str, dict]:
    results = {}
    for h, w in sizes:
        src = make_clip(tmp_path / f"clip_{w}x{h}.mp4", h, w, frames)
        results[f"{w}x{h}"] = measure_parse(src, tmp_path / f"out_{w}x{h}")
    return results


def test_peak_rss_by_resolution(tmp_path, benchmark):
    if benchmark.disabled:  # the smoke run: check the harness on one small clip
        results = _run(tmp_path, [(144, 256)], 6)
        assert results["256x144"]["peak_rss_mb"] > 0
        benchmark.pedantic(lambda: None, rounds=1, iterations=1)
        return
    results = _run(tmp_path, SIZES, FRAMES)
    lines = [f"peak RSS of `tryon-sdk parse` (default outputs, {FRAMES} frames, {os.cpu_count()} CPUs):"]
    for (h, w), (name, r) in zip(SIZES, results.items()):
        goal = GOALS_GB.get((h, w))
        lines.append(
            f"  {name:>10s}: peak {r['peak_rss_mb'] / 1024:.2f} GB (goal <= {goal} GB)" if goal else f"  {name:>10s}: peak {r['peak_rss_mb'] / 1024:.2f} GB"
        )
        lines.append(
            f"  {'':>10s}  max RSS first half {r['first_half_max_mb']:.0f} MB, second half {r['second_half_max_mb']:.0f} MB, "
            f"wall {r['wall_s']:.1f} s"
        )
        benchmark.extra_info[name] = {k: v for k, v in r.items() if k != "stdout"}
    print("\n" + "\n".join(lines))
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
