"""``--layout viton-hd`` / ``dresscode``: the ATR -> LIP table, and files read back the way those projects read them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tryon_sdk.agnostic import garment_agnostic_mask
from tryon_sdk.batch import BatchOptions, ModelSpec, run
from tryon_sdk.batch.layouts import ATR_TO_LIP, LIP_LABELS, to_lip
from tryon_sdk.labels import ATR_CLASSES
from tryon_sdk.labels import CLASS_INDEX as C
from tryon_sdk.video.jobs.options import PipelineOptions

from helpers import corrupt, write_images
from synthetic import frontal_person


def test_atr_to_lip_table_by_name():
    same = {"Background", "Hat", "Hair", "Sunglasses", "Upper-clothes", "Skirt", "Pants", "Dress", "Left-shoe", "Right-shoe",
            "Face", "Left-leg", "Right-leg", "Left-arm", "Right-arm", "Scarf"}  # fmt: skip
    for atr_id, name in enumerate(ATR_CLASSES):
        if name in same:
            assert LIP_LABELS[ATR_TO_LIP[atr_id]] == name, name
    assert ATR_TO_LIP[C["Bag"]] == 0 and LIP_LABELS[10] == "Neck" and len(LIP_LABELS) == 20


def test_to_lip_finds_the_neck_and_gives_the_belt_its_garment():
    labels = frontal_person()
    labels[165:175, 90:150] = C["Belt"]
    lip = to_lip(labels)
    assert (lip[40:55, 110:130] == 13).all()  # face
    assert (lip[68:74, 113:127] == 10).all()  # the neck (painted Face) below the chin
    belt = labels == C["Belt"]
    assert set(np.unique(lip[belt])) <= {5, 9}  # upper-clothes above it, pants below
    assert (lip[166, 100] == 5) and (lip[174, 100] == 9)
    assert (lip[labels == C["Left-shoe"]] == 18).all() and (lip[labels == C["Right-arm"]] == 15).all()


def test_viton_hd_and_dresscode_files_read_back(tmp_path, calibrated_checkpoint):
    src = tmp_path / "src"
    write_images(src / "sub", 2, size=(96, 128))
    corrupt(src / "bad.jpg")
    spec = ModelSpec(str(calibrated_checkpoint))
    ref = tmp_path / "ref"
    run([src], ref, BatchOptions(model=spec, workers=1, pipeline=PipelineOptions(outputs=("labels", "summary"))))

    out = tmp_path / "viton"
    report = run([src], out, BatchOptions(model=spec, workers=1, layout="viton-hd"))
    assert (report.ok, report.failed) == (2, 1)
    for i in range(2):
        name = f"sub_img{i:03d}"
        labels = np.array(Image.open(ref / "sub" / f"img{i:03d}.png" / "labels.png"))
        people = json.loads((ref / "sub" / f"img{i:03d}.png" / "summary.json").read_text())["frames"][0]["people"]
        boxes = [tuple(p["box"]) for p in people] or None
        parse = Image.open(out / "image-parse-v3" / f"{name}.png")
        assert parse.mode == "P"
        np.testing.assert_array_equal(np.array(parse), to_lip(labels, boxes))  # as VITON-HD's loader reads it
        mask = np.array(Image.open(out / "agnostic-mask" / f"{name}_mask.png")) > 127
        np.testing.assert_array_equal(mask, garment_agnostic_mask(labels, "upper_body", boxes=boxes))
        agn = np.array(Image.open(out / "image-parse-agnostic-v3.2" / f"{name}.png"))
        assert not np.isin(agn, (5, 6, 7, 10)).any()
        image = np.array(Image.open(out / "image" / f"{name}.jpg"))
        assert image.shape == (128, 96, 3) and np.array(Image.open(out / "agnostic-v3.2" / f"{name}.jpg")).shape == image.shape
    rec = next(r for r in report.records if r.status == "ok")
    assert len(rec.outputs) == 5 and all((out / o).is_file() for o in rec.outputs)
    assert run([src], out, BatchOptions(model=spec, workers=1, layout="viton-hd")).skipped == 2

    out = tmp_path / "dresscode"
    assert run([src], out, BatchOptions(model=spec, workers=1, layout="dresscode")).ok == 2
    labels = np.array(Image.open(ref / "sub" / "img001.png" / "labels.png"))
    for cat in ("upper_body", "lower_body", "dresses"):
        label_map = Image.open(out / cat / "label_maps" / "sub_img001_4.png")
        assert label_map.mode == "P"
        np.testing.assert_array_equal(np.array(label_map), labels)  # DressCode's 18 labels are ATR's
        assert (out / cat / "images" / "sub_img001_0.jpg").is_file()
        assert np.array(Image.open(out / cat / "masks" / "sub_img001_mask.png")).dtype == np.uint8


def test_layouts_take_images_only(tmp_path, calibrated_checkpoint):
    from videos import make_video

    make_video(tmp_path / "clip.mp4", width=32, height=24, frames=2)
    report = run([tmp_path / "clip.mp4"], tmp_path / "o", BatchOptions(model=ModelSpec(str(calibrated_checkpoint)), workers=1, layout="dresscode"))
    assert report.failed == 1 and "images only" in report.records[0].error


@pytest.mark.parametrize("bad", ["dressy"])
def test_unknown_category(tmp_path, bad):
    from tryon_sdk.errors import ConfigError

    with pytest.raises(ConfigError, match="category"):
        run([tmp_path], tmp_path / "o", BatchOptions(layout="dresscode", categories=(bad,)))
