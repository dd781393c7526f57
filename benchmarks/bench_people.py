"""People-first parsing: cost per VIDEO frame, and the accuracy numbers of person-centric parsing.

Cost (pytest-benchmark, one run): a VIDEO session (smoothing + limbs) on real 768x432 frames of the
shared clip, people first (crop around the tracked person) vs the whole frame; goal: people first costs
no more per frame.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/pytest benchmarks/bench_people.py --benchmark-enable -q -s

Accuracy (a script; any checkpoint with ``--model``):

    .venv/bin/python benchmarks/bench_people.py clip [--model CKPT] [--mode video|image] [--roi on|off] [--frames 150] [--flip-tta]
    .venv/bin/python benchmarks/bench_people.py ccp [--model CKPT] [--roi on|off] [--images 120]

``clip``: everyone in ``one-by-one-person-detection.mp4`` is seen from behind, so the person's own left
limbs are left of the body's centre line. The centre line comes from a silhouette by background
subtraction (the clip's empty frames give the background), not from the parse. Frames where a person
stands still at the table (silhouette at least 3/4 of the frame high, its centre moving < 8 px over 10
frames) are taken in runs of 25 consecutive frames, one run per person, each run parsed by a fresh session
from 5 frames before it. Reported: share of limb pixels (within the silhouette's box, 20 px margin) on the
person's own side; flip equivariance (session on the mirrored frames vs mirrored output with sides
swapped), transient left/right swaps and mixed limbs (``tryon_sdk.video.evaluation.metrics``; also leaving out two
limbs touching side by side, each with its own side: ``mixed_within_limb_share``); the share of frames
with a person found and their facing.

``ccp``: per-class IoU of the sided classes (shoes, legs, arms) on the CCP validation photos (front views)
for the plain parse (what ``parser.parse`` returned before people first and sides from facing) and for an
IMAGE session (people first per ``--roi``, limb consistency with sides from facing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
CLIP = Path(os.environ.get("TRYON_SHARED_DATA", REPO.parent / "shared" / "data")) / "video" / "one-by-one-person-detection.mp4"
CCP = CLIP.parents[1] / "clothing-co-parsing"
SIDED = (9, 10, 12, 13, 14, 15)
RUN, WARMUP, PEOPLE_RUNS = 25, 5, 6


# ------------------------------------------------------------------------------------------------ clip truth
def load_clip(path: Path = CLIP) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def silhouettes(frames: np.ndarray) -> np.ndarray:
    """Person silhouettes (N x H x W bool) by background subtraction; background = median of empty frames."""
    import cv2

    small = frames[:, ::4, ::4].astype(np.int16)
    best = None
    for i in range(0, len(frames), 50):  # the reference empty frame is the one most frames match
        d = (np.abs(small - small[i]).max(-1) > 40).mean((1, 2))
        n = int((d < 0.005).sum())
        if best is None or n > best[0]:
            best = (n, d)
    empty = np.flatnonzero(best[1] < 0.005)
    bg = np.median(frames[empty[:: max(1, len(empty) // 60)]], axis=0).astype(np.int16)
    out = np.zeros(frames.shape[:3], bool)
    k5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    k15 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    for t, f in enumerate(frames):
        m = (np.abs(f.astype(np.int16) - bg).max(-1) > 40).astype(np.uint8)
        m = cv2.morphologyEx(cv2.morphologyEx(m, cv2.MORPH_OPEN, k5), cv2.MORPH_CLOSE, k15)
        n, lab, st, _ = cv2.connectedComponentsWithStats(m)
        if n > 1:
            out[t] = lab == 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))
    return out


def standing_runs(sil: np.ndarray, n_runs: int = PEOPLE_RUNS, length: int = RUN) -> list[range]:
    """Runs of ``length`` consecutive frames where one person stands still at the table, one per person."""
    H = sil.shape[1]
    cx = np.full(len(sil), np.nan)
    tall = np.zeros(len(sil), bool)
    for t, s in enumerate(sil):
        ys, xs = np.nonzero(s)
        if ys.size:
            cx[t] = xs.mean()
            tall[t] = ys.max() - ys.min() >= 0.75 * H
    still = tall & (np.abs(cx - np.roll(cx, 5)) < 8) & (np.abs(cx - np.roll(cx, -5)) < 8)
    runs, t = [], WARMUP
    while t < len(sil) and len(runs) < n_runs:
        if still[t : t + length].all():
            runs.append(range(t, t + length))
            t += length
            while t < len(sil) and tall[t]:  # the same person: skip to the next one
                t += 1
        else:
            t += 1
    return runs


def centre_line(s: np.ndarray) -> tuple[float, tuple[int, int, int, int]]:
    """Body centre line (mean x of the silhouette between 20% and 50% of its height) and its box."""
    ys, xs = np.nonzero(s)
    y0, y1 = ys.min(), ys.max()
    band = (ys >= y0 + 0.2 * (y1 - y0)) & (ys <= y0 + 0.5 * (y1 - y0))
    return float(xs[band].mean()), (int(xs.min()) - 20, int(y0) - 20, int(xs.max()) + 21, int(y1) + 21)


# ----------------------------------------------------------------------------------------------- measurements
def _roi(value: str):
    return {"on": True, "off": False, "auto": None}[value]


def measure_clip(parser, frames: np.ndarray, sil: np.ndarray, runs: list[range], mode: str, roi) -> dict:
    from tryon_sdk.video.stream import StreamOptions, open_stream
    from tryon_sdk.video.evaluation.measures import own_side_counts
    from tryon_sdk.video.evaluation.metrics import VideoMetrics

    good = total = 0
    found = swaps = regions = mixed = apart = 0
    flip_equal = flip_total = 0.0
    facings: dict[str, int] = {}
    per_run = []
    t0 = time.perf_counter()
    for run in runs:
        run_good = run_total = 0
        sessions = [open_stream(parser, StreamOptions(running_mode=mode, roi=roi)) for _ in range(2)]  # frames, mirrored frames
        metrics = VideoMetrics()  # one per run: a new person is not a swap
        seq = range(run.start - WARMUP, run.stop)
        for k, t in enumerate(seq):
            frame = frames[t]
            ts = 100 * k if mode == "video" else None
            out = sessions[0].parse(frame, ts)
            mir = sessions[1].parse(np.ascontiguousarray(frame[:, ::-1]), ts)
            if t < run.start:
                continue
            cx, box = centre_line(sil[t])
            g, n = own_side_counts(out.labels, cx, -1, region=box)
            good, total = good + g, total + n
            run_good, run_total = run_good + g, run_total + n
            metrics.update(out.labels, mirrored=mir.labels)
            found += bool(out.people)
            for p in out.people[:1]:
                facings[p.facing] = facings.get(p.facing, 0) + 1
        for s in sessions:
            s.close()
        res = metrics.result()
        per_run.append(round(run_good / run_total, 3) if run_total else None)
        swaps += res.total_transient_swaps
        regions, mixed = regions + res.limb_regions, mixed + res.mixed_regions
        apart += res.side_by_side_regions
        flip_equal += metrics._flip_equal
        flip_total += metrics._flip_total
    n_frames = sum(len(r) for r in runs)
    return {
        "mode": mode,
        "roi": {True: "on", False: "off", None: "auto"}[roi],
        "frames": n_frames,
        "runs": [[r.start, r.stop] for r in runs],
        "own_side_share": round(good / total, 4) if total else None,
        "own_side_share_per_run": per_run,
        "limb_pixels": total,
        "flip_equivariance": round(flip_equal / flip_total, 4) if flip_total else None,
        "transient_swaps": swaps,
        "mixed_limb_share": round(mixed / regions, 4) if regions else None,
        "mixed_within_limb_share": round((mixed - apart) / regions, 4) if regions else None,
        "frames_with_person": round(found / n_frames, 4),
        "facing_of_largest_person": facings,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def measure_ccp(parser, roi, n_images: int) -> dict:
    from training.data.ccp import load_ccp_sample, read_label_names

    from tryon_sdk.video.stream import StreamOptions, open_stream

    names = read_label_names(CCP)
    val_ids = parser.config.data_split["sources"][0]["val_ids"][:n_images] if parser.config.data_split else []
    if not val_ids:
        raise SystemExit("this checkpoint records no CCP validation split; give one that does")
    inter = {k: np.zeros(len(SIDED)) for k in ("plain", "session")}
    union = {k: np.zeros(len(SIDED)) for k in ("plain", "session")}
    with open_stream(parser, StreamOptions(running_mode="image", roi=roi)) as session:
        for image_id in val_ids:
            image, truth = load_ccp_sample(CCP, image_id, names)
            valid = truth != 255
            for key, lab in (("plain", parser.parse(image, roi=False).labels), ("session", session.parse(image).labels)):
                for j, c in enumerate(SIDED):
                    p, t = (lab == c) & valid, (truth == c) & valid
                    inter[key][j] += np.count_nonzero(p & t)
                    union[key][j] += np.count_nonzero(p | t)
    out = {"images": len(val_ids), "roi": {True: "on", False: "off", None: "auto"}[roi]}
    for key in ("plain", "session"):
        iou = inter[key] / np.maximum(union[key], 1)
        out[key] = {"mean_sided_iou": round(float(iou.mean()), 4), **{str(c): round(float(v), 4) for c, v in zip(SIDED, iou)}}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("clip", help="own-side share, flip equivariance, swaps on the shared clip")
    c.add_argument("--mode", choices=["video", "image"], default="video")
    c.add_argument("--frames", type=int, default=PEOPLE_RUNS * RUN, help="measured frames (runs of 25)")
    c2 = sub.add_parser("ccp", help="sided-class IoU on the CCP validation photos")
    c2.add_argument("--images", type=int, default=120)
    for p in (c, c2):
        p.add_argument("--model", default=None)
        p.add_argument("--roi", choices=["on", "off", "auto"], default="on")
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--flip-tta", action="store_true", help="average each parse with the mirrored one")
    a = ap.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.set_num_threads(a.threads)
    sys.path.insert(0, str(REPO))
    from tryon_sdk import Parser

    parser = Parser.from_pretrained(a.model, device="cpu", flip_tta=a.flip_tta)
    if a.what == "clip":
        frames = load_clip()
        sil = silhouettes(frames)
        runs = standing_runs(sil, max(1, a.frames // RUN))
        res = measure_clip(parser, frames, sil, runs, a.mode, _roi(a.roi))
    else:
        res = measure_ccp(parser, _roi(a.roi), a.images)
    res["model"] = a.model or "default"
    res["flip_tta"] = a.flip_tta
    print(json.dumps(res))
    return 0


# -------------------------------------------------------------------------------------------------- benchmarks
@pytest.fixture(scope="module")
def clip_frames() -> np.ndarray:
    if not CLIP.is_file():
        pytest.skip(f"real clip not found at {CLIP} (set TRYON_SHARED_DATA); it is only on the project's machines")
    import av

    with av.open(str(CLIP)) as c:  # 24 frames of a person standing at the table
        return np.stack([f.to_ndarray(format="rgb24") for i, f in zip(range(324), c.decode(video=0)) if i >= 300])


@pytest.fixture(scope="module")
def default_parser():
    import torch

    from tryon_sdk import Parser

    torch.set_num_threads(int(os.environ.get("TRYON_BENCH_THREADS", "2")))
    return Parser.from_pretrained(device="cpu")


class _Video:
    """One VIDEO session fed the frames over and over with increasing timestamps."""

    def __init__(self, parser, frames: np.ndarray, roi) -> None:
        from tryon_sdk.video.stream import StreamOptions, open_stream

        self.session = open_stream(parser, StreamOptions(running_mode="video", roi=roi))
        self.frames, self.t = frames, 0
        for _ in range(3):  # past the first detection, as in a running stream
            self()

    def __call__(self):
        frame = self.frames[self.t % len(self.frames)]
        self.t += 1
        return self.session.parse(frame, 100 * self.t)


@pytest.mark.parametrize("roi", [False, True], ids=["whole-frame", "people-first"])
def test_video_frame_768x432(benchmark, record, ratio, default_parser, clip_frames, roi):
    step = _Video(default_parser, clip_frames, roi)
    result = benchmark.pedantic(step, rounds=30, iterations=1, warmup_rounds=2)
    name = f"video frame 768x432, {'people first' if roi else 'whole frame'}"
    record(name, benchmark)
    if roi:
        ratio(
            "VIDEO per-frame cost: people first / whole frame",
            "video frame 768x432, people first",
            "video frame 768x432, whole frame",
            "<= 1.0",
        )
    assert result.labels.shape == (432, 768)
    if roi:
        assert result.people and result.people[0].track_id == 1  # one person, tracked from frame to frame


if __name__ == "__main__":
    raise SystemExit(main())
