"""Per-frame cost of temporal smoothing and limb consistency at 512x384 on CPU.

Goal: smoothing (no flow) + limbs <= 3 ms per frame.

    .venv/bin/pytest benchmarks/bench_temporal.py --benchmark-enable -q -s
    .venv/bin/python benchmarks/bench_temporal.py [--threads 1]   # without pytest-benchmark

Frames cycle through a short synthetic clip (a walking, arm-swinging person
with flicker noise and a transient swap), so the probabilities are not hot in
the cache, as in a real pipeline. The argmax between the two steps is not
timed: it belongs to the pipeline and costs far more than both at this size
(see the printout).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from synthetic import person_sequence  # noqa: E402

from tryon_sdk.limbs import LimbConsistency  # noqa: E402
from tryon_sdk.video.temporal.smoothing import SmoothingOptions, TemporalSmoother  # noqa: E402

SIZE = (384, 512)
N_FRAMES = 6


def _clip():
    return person_sequence(N_FRAMES, SIZE, seed=0, flicker=1.5, speckles=3, vx=3.0, swing=0.6, swaps=[(3, 1)])


class _Cycle:
    """Calls a per-frame step on frames 0, 1, ..., N-1, 0, ... carrying the state."""

    def __init__(self, step: Callable[[int, object], object]) -> None:
        self.step, self.t, self.state = step, 0, None

    def __call__(self) -> None:
        self.state = self.step(self.t % N_FRAMES, self.state)
        self.t += 1


def smoothing_case(clip, flow: bool, in_place: bool = False) -> _Cycle:
    smoother = TemporalSmoother(SmoothingOptions(use_flow=flow))
    probs = [p.clone() for p in clip.probs]

    def step(t, state):
        p = probs[t]
        return smoother.step(p, state, timestamp_ms=None, frame=clip.frames[t], out=p if in_place else None)[1]

    return _Cycle(step)


def limbs_case(clip) -> _Cycle:
    fixer = LimbConsistency()
    return _Cycle(lambda t, state: fixer.step(clip.labels[t], state)[1])


def _report(name: str, benchmark) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        s = stats.stats
        print(f"\n{name}: mean {s.mean * 1e3:.2f} ms/frame, min {s.min * 1e3:.2f} ms/frame at {SIZE[1]}x{SIZE[0]}")


@pytest.fixture(scope="module")
def clip():
    return _clip()


def test_smoothing_no_flow(benchmark, clip):
    benchmark(smoothing_case(clip, flow=False))
    _report("smoothing, no flow", benchmark)


def test_smoothing_no_flow_in_place(benchmark, clip):
    benchmark(smoothing_case(clip, flow=False, in_place=True))
    _report("smoothing, no flow, out=probs", benchmark)


def test_smoothing_flow(benchmark, clip):
    benchmark(smoothing_case(clip, flow=True))
    _report("smoothing, DIS flow", benchmark)


def test_limbs(benchmark, clip):
    benchmark(limbs_case(clip))
    _report("limb consistency", benchmark)


def _time(fn: Callable[[], None], repeats: int = 60) -> tuple[float, float]:
    for _ in range(N_FRAMES):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3, float(np.min(times)) * 1e3


def main() -> None:
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    clip = _clip()
    print(f"{SIZE[1]}x{SIZE[0]}, 18 classes, torch threads {torch.get_num_threads()}; ms/frame median (min)")
    results = {}
    for name, case in (
        ("smoothing, no flow", smoothing_case(clip, flow=False)),
        ("smoothing, no flow, out=probs", smoothing_case(clip, flow=False, in_place=True)),
        ("smoothing, DIS flow", smoothing_case(clip, flow=True)),
        ("limb consistency", limbs_case(clip)),
    ):
        results[name] = _time(case)
        print(f"  {name:32s} {results[name][0]:6.2f} ({results[name][1]:.2f})")
    total = results["smoothing, no flow"][0] + results["limb consistency"][0]
    print(f"  {'smoothing + limbs (no flow)':32s} {total:6.2f}   goal <= 3 ms")
    argmax = _time(lambda: clip.probs[0].argmax(0))
    print(f"  {'(pipeline argmax, not included)':32s} {argmax[0]:6.2f} ({argmax[1]:.2f})")


if __name__ == "__main__":
    main()
