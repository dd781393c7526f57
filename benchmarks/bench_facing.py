"""Facing on real data: front views (CCP validation photos, the pose-squats clip) and back views (the room
clip's standing frames), each also mirrored, as ``Parser.parse`` reports it (face detector + head).

    .venv/bin/python benchmarks/bench_facing.py [--model CKPT] [--ccp 120] [--json]

Goals: ``front`` on >= 0.97 of the CCP photos and the squats frames, ``back`` on >= 0.95 of the room
clip's standing frames (:func:`bench_people.standing_runs`), mirrored frames alike. The test below
times ``Parser.parse`` on a standing frame with the face detector against without it (the face's cost).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_people import CCP, CLIP, load_clip, silhouettes, standing_runs  # noqa: E402

SQUATS = CLIP.parent / "pose-squats-front.mp4"


def _facing(parser, image: np.ndarray) -> str:
    people = parser.parse(image).people
    return people[0].facing if people else "none"


def facing_shares(parser, images: list[np.ndarray]) -> dict[str, dict[str, float]]:
    """Share of each facing of the largest person, on the images and on their mirrors."""
    out = {}
    for name, ims in (("plain", images), ("mirrored", [np.ascontiguousarray(im[:, ::-1]) for im in images])):
        got = [_facing(parser, im) for im in ims]
        out[name] = {f: got.count(f) / len(got) for f in sorted(set(got))}
    return out


def ccp_photos(n: int) -> list[np.ndarray]:
    """The first ``n`` CCP validation photos (the bundled model's seeded split), RGB."""
    import cv2

    from tryon_sdk.models.checkpoint import load_config
    from tryon_sdk.models.registry import resolve_checkpoint

    ids = load_config(resolve_checkpoint(None)).data_split["sources"][0]["val_ids"][:n]
    return [cv2.cvtColor(cv2.imread(str(CCP / "photos" / f"{i}.jpg")), cv2.COLOR_BGR2RGB) for i in ids]


def standing_frames(frames: np.ndarray) -> list[np.ndarray]:
    """The room clip's standing frames (every 5th of the runs of :func:`standing_runs`)."""
    runs = standing_runs(silhouettes(frames))
    return [frames[i] for r in runs for i in list(r)[::5]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--ccp", type=int, default=120)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    from tryon_sdk import Parser

    parser = Parser.from_pretrained(a.model)
    report = {
        "ccp_front": facing_shares(parser, ccp_photos(a.ccp)),
        "squats_front": facing_shares(parser, list(load_clip(SQUATS))),
        "clip_back_standing": facing_shares(parser, standing_frames(load_clip(CLIP))),
    }
    if a.json:
        print(json.dumps(report, indent=2))
    else:
        for k, v in report.items():
            print(k, " ".join(f"{m}: {d}" for m, d in v.items()))
    return 0


# ------------------------------------------------------------------------------------------ pytest-benchmark
@pytest.fixture(scope="module")
def standing_frame() -> np.ndarray:
    if not CLIP.is_file():
        pytest.skip(f"real clip not found at {CLIP} (set TRYON_SHARED_DATA)")
    frames = load_clip(CLIP)
    return standing_frames(frames[:200])[0]


@pytest.mark.parametrize("faces", [True, False], ids=["with-face-detector", "without"])
def test_parse_with_and_without_faces(benchmark, record, ratio, standing_frame, faces):
    from tryon_sdk import Parser
    from tryon_sdk.people.person import PeopleOptions

    parser = Parser.from_pretrained()
    stage = parser.people_stage()
    if not faces:
        stage.face_detector = None  # this parser's stage, its face detector left out
    result = benchmark(parser.parse, standing_frame)
    assert result.people and (result.people[0].facing == "back" or not faces)
    assert isinstance(stage.options, PeopleOptions)
    record(f"facing: Parser.parse 768x432, face detector {'on' if faces else 'off'}", benchmark)
    if faces:
        ratio(
            "facing: Parser.parse with / without the face detector",
            "facing: Parser.parse 768x432, face detector on",
            "facing: Parser.parse 768x432, face detector off",
            "the face's cost per frame",
        )


if __name__ == "__main__":
    sys.exit(main())
