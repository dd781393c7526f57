"""The people stage: bundled person and face models, detection, splitting, facing, and the one frame path.

Real photos come from CCP's validation split and the shared clips (skipped with a reason where absent).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tryon_sdk import StreamOptions, open_stream
from tryon_sdk.errors import CheckpointError, InputError
from tryon_sdk.people import models as people_models
from tryon_sdk.people.faces import Face, FaceDetector, blazeface_anchors
from tryon_sdk.people.facing import FacingOptions, HeadEvidence, observe_facing
from tryon_sdk.people.models import MODEL_NAMES, OnnxModel, model_info, open_session
from tryon_sdk.people.segmenter import PersonSegmenter
from tryon_sdk.people.stage import PeopleStage, head_box, split_by_heads

from mediapipe_inputs import reference_inputs

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def ccp_val(ccp_dir) -> list[np.ndarray]:
    from tryon_sdk.models.checkpoint import load_config
    from tryon_sdk.models.registry import resolve_checkpoint

    ids = load_config(resolve_checkpoint(None)).data_split["sources"][0]["val_ids"][:12]
    return [cv2.cvtColor(cv2.imread(str(ccp_dir / "photos" / f"{i}.jpg")), cv2.COLOR_BGR2RGB) for i in ids]


def _clip(path: Path, frames: range) -> list[np.ndarray]:
    import av

    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= frames.stop:
                break
            if i in frames:
                out.append(f.to_ndarray(format="rgb24"))
    return out


# ------------------------------------------------------------------------------------------- bundled models
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_onnx_models_reproduce_their_tflite_originals(name):
    """The converted graphs give what MediaPipe's TFLite files gave on the same input (max abs difference)."""
    ref = np.load(DATA / "mediapipe_tflite_reference.npz")
    model = OnnxModel(name)
    x = reference_inputs(model.input_shape, name)
    got = model(x)
    keys = [k for k in ref.files if k.startswith(name + "/")]
    assert keys and {k.split("/", 1)[1] for k in keys} == set(got)
    for k in keys:
        out = got[k.split("/", 1)[1]]
        assert np.abs(out - ref[k][0]).max() < 2e-4, k
    assert model_info(name)["max_abs_diff_vs_tflite"] < 2e-4  # what the conversion measured


def _copy_models(tmp_path: Path) -> Path:
    folder = tmp_path / "people"
    shutil.copytree(people_models.PEOPLE_MODELS_DIR, folder)
    return folder


def test_tampered_truncated_or_missing_model_is_a_checkpoint_error_naming_the_file(tmp_path):
    folder = _copy_models(tmp_path)
    path = folder / "face_detection_short_range.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="face_detection_short_range.onnx.*checksum"):
        open_session("face_detection_short_range", folder=folder)
    path.write_bytes(bytes(data[: len(data) // 3]))  # truncated
    with pytest.raises(CheckpointError, match="checksum"):
        open_session("face_detection_short_range", folder=folder)
    path.unlink()
    with pytest.raises(CheckpointError, match="face_detection_short_range.onnx is missing"):
        open_session("face_detection_short_range", folder=folder)
    (folder / "models.json").write_text("{not json")
    people_models._manifest.cache_clear()
    with pytest.raises(CheckpointError, match="manifest"):
        open_session("selfie_segmentation", folder=folder)
    people_models._manifest.cache_clear()


def test_manifest_lists_every_bundled_model_with_its_checksum():
    manifest = json.loads((people_models.PEOPLE_MODELS_DIR / "models.json").read_text())
    assert set(manifest) == set(MODEL_NAMES)
    assert (people_models.PEOPLE_MODELS_DIR / "LICENSE").read_text().startswith(" " * 10)  # Apache-2.0 text
    for entry in manifest.values():
        assert len(entry["sha256"]) == 64 and (people_models.PEOPLE_MODELS_DIR / entry["file"]).is_file()


def test_bad_frames_are_input_errors():
    with pytest.raises(InputError, match="uint8"):
        PersonSegmenter()([np.zeros((10, 10, 3), np.float32)])
    with pytest.raises(InputError, match="uint8"):
        FaceDetector()([np.zeros((10, 10), np.uint8)])


# ---------------------------------------------------------------------------------------------- geometry
def test_blazeface_anchors_cover_the_input():
    a = blazeface_anchors()
    assert a.shape == (896, 2) and a.min() > 0 and a.max() < 1
    assert np.allclose(a[:2], [[1 / 32, 1 / 32]] * 2)  # stride 8: two anchors per cell


def test_head_box_is_the_top_of_the_mask():
    mask = np.zeros((200, 100), bool)
    cv2.ellipse(mask.view(np.uint8), (50, 30), (14, 18), 0, 0, 360, 1, -1)  # head
    mask[48:200, 20:80] = True  # body, wider than the head
    (x0, y0, x1, y1), width = head_box(mask)
    assert 24 <= width <= 32
    assert abs((x0 + x1) / 2 - 50) < 2 and y0 < 30 < y1 and x1 - x0 == pytest.approx(y1 - y0)


def test_split_by_heads_parts_two_people_touching_side_by_side():
    mask = np.zeros((160, 200), bool)
    for cx in (55, 145):
        cv2.circle(mask.view(np.uint8), (cx, 25), 15, 1, -1)
        mask[40:160, cx - 35 : cx + 35] = True  # shoulders touch in the middle
    parts = split_by_heads(mask)
    assert len(parts) == 2 and 80 <= parts[0][1] <= 120
    one = np.zeros((160, 100), bool)
    cv2.circle(one.view(np.uint8), (50, 25), 15, 1, -1)
    one[40:160, 15:85] = True
    assert split_by_heads(one) == [(0, 100)]


# ------------------------------------------------------------------------------------------------ facing
def _face(score: float, turn: float = 0.0) -> Face:
    kp = np.array([[40, 50], [60, 50], [50 + 20 * turn, 60], [50, 70], [30, 55], [70, 55]], np.float32)
    return Face(score, (30.0, 35.0, 70.0, 80.0), kp)


def test_observe_facing_trusts_the_face_detector_over_the_labels():
    opt = FacingOptions()
    painted_face = HeadEvidence(share=0.4, head_pixels=500)  # the parser paints the back of a head as Face
    assert observe_facing(_face(0.92), None, opt)[0] == 1
    assert observe_facing(_face(0.40), painted_face, opt)[0] == -1
    assert observe_facing(_face(0.92, turn=1.0), None, opt)[0] == 0  # a profile
    assert observe_facing(_face(0.72), HeadEvidence(0.3, 500), opt)[0] == 1  # doubtful: the labels decide
    assert observe_facing(_face(0.74), None, opt)[0] == 1 and observe_facing(_face(0.71), None, opt)[0] == -1
    assert observe_facing(None, HeadEvidence(0.02, 500), opt)[0] == -1
    assert observe_facing(None, None, opt) == (None, 0.0)
    sure, unsure = observe_facing(_face(0.97), None, opt)[1], observe_facing(_face(0.77), None, opt)[1]
    assert 0.5 <= unsure < sure <= 1.0


def test_face_detector_on_real_front_heads(ccp_val):
    stage = PeopleStage(input_size=(288, 192))
    people = stage(ccp_val[:6])
    faces = [ps[0].face for ps in people]
    assert all(f is not None and f.score > 0.75 for f in faces)
    for f, ps in zip(faces, people):
        x0, y0, x1, y1 = ps[0].box
        eyes = f.keypoints[:2]
        assert x0 <= eyes[:, 0].min() and eyes[:, 0].max() <= x1 and y0 <= eyes[:, 1].min() < y1
        assert f.keypoints[0, 0] < f.keypoints[1, 0]  # the person's right eye is on the image's left


# ------------------------------------------------------------------------------------------------ finding
def test_people_side_by_side_and_at_half_body_are_found(default_parser, ccp_val):
    stage = default_parser.people_stage()
    h = min(im.shape[0] for im in ccp_val[:3]) // 2
    photos = [cv2.resize(im, (int(im.shape[1] * h / im.shape[0]), h)) for im in ccp_val[:3]]
    group = np.hstack(photos)
    edges = np.cumsum([0] + [p.shape[1] for p in photos])
    found = default_parser.parse(group).people  # the person model, with the engine's coarse pass for whom it misses
    assert len(found) == 3
    centres = sorted((f.box.x0 + f.box.x1) / 2 for f in found)
    assert all(edges[i] < c < edges[i + 1] for i, c in enumerate(centres))  # one person in each photo
    half = ccp_val[3][: ccp_val[3].shape[0] * 2 // 5]  # head and shoulders
    (person,) = stage([half])[0]
    assert person.score > 0.8 and person.face is not None and person.face.score > 0.75


def test_empty_room_has_nobody(real_video):
    stage = PeopleStage(input_size=(288, 192))
    frames = _clip(real_video, range(0, 20, 5))  # the clip opens on the empty room
    assert all(not ps for ps in stage(frames))


# ----------------------------------------------------------------------------------------- one frame path
def test_parse_image_session_and_cli_image_job_give_identical_labels(default_parser, ccp_dir, tmp_path):
    from tryon_sdk.cli import main

    src = tmp_path / "in"
    src.mkdir()
    photo = ccp_dir / "photos" / "0003.jpg"
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    shutil.copy(photo, src / "a.jpg")  # the job reads a folder; the copy lives under pytest's tmp only
    parsed = default_parser.parse(image)
    with open_stream(default_parser, StreamOptions(running_mode="image")) as session:
        np.testing.assert_array_equal(session.parse(image).labels, parsed.labels)
    assert main(["parse", str(src), "-o", str(tmp_path / "out"), "--outputs", "labels", "--mask-format", "png"]) == 0
    written = sorted((tmp_path / "out").rglob("*.png"))
    assert written
    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(written[0])), parsed.labels)
    assert default_parser.parse(image, sides="network").labels.shape == parsed.labels.shape


def test_parse_gives_own_sides_on_back_views(default_parser, real_video):
    """Seen from behind, the person's own left limbs are on the image's left of the body's centre line."""
    frames = _clip(real_video, range(0, 140))
    background = np.median(np.stack(frames[:15]), axis=0)
    limbs = {"left": (9, 12, 14), "right": (10, 13, 15)}
    own = total = 0
    for f in frames[90:140:5]:  # a person standing at the table, back to the camera
        sil = (np.abs(f.astype(np.int16) - background).max(-1) > 40)
        if sil.sum() < 0.02 * sil.size:
            continue
        centre = np.nonzero(sil)[1].mean()
        result = default_parser.parse(f)
        assert result.people and result.people[0].facing == "back"
        lab = result.labels
        xs = np.arange(lab.shape[1])[None].repeat(lab.shape[0], 0)
        left = np.isin(lab, limbs["left"])
        right = np.isin(lab, limbs["right"])
        own += int((left & (xs < centre)).sum() + (right & (xs >= centre)).sum())
        total += int(left.sum() + right.sum())
    assert total > 1000 and own / total > 0.9
