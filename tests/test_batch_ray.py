"""``--ray``: the same job on Ray Data (a local Ray runtime, started once for this module: it is slow to start)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tryon_sdk.batch import BatchOptions, ModelSpec, run
from tryon_sdk.video.jobs.options import PipelineOptions

from helpers import corrupt

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_runtime():
    # workers import this checkout's tryon_sdk (not another installed copy)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    yield
    ray.shutdown()


def test_ray_gives_the_labels_local_workers_give(tmp_path, ccp_dir, ray_runtime):
    """24 CCP photos + a corrupt file on two Ray actors: 24 ok, 1 failed, labels identical to a local run."""
    photos = sorted((ccp_dir / "photos").glob("*.jpg"))[:24]
    bad = corrupt(tmp_path / "corrupt.jpg")
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(map(str, [*photos, bad])) + "\n")
    pipe = PipelineOptions(outputs=("labels",))
    local = run([listing], tmp_path / "local", BatchOptions(pipeline=pipe, workers=1))
    report = run([listing], tmp_path / "ray", BatchOptions(pipeline=pipe, ray="local", workers=2))
    assert (local.ok, local.failed) == (report.ok, report.failed) == (24, 1)
    assert report.executor == "ray"
    lines = [json.loads(line) for line in (tmp_path / "ray" / "manifest.jsonl").read_text().splitlines()]
    assert sorted(line["status"] for line in lines) == ["failed"] + ["ok"] * 24  # written by the driver
    for photo in photos:
        got = np.array(Image.open(tmp_path / "ray" / photo.name / "labels.png"))
        np.testing.assert_array_equal(got, np.array(Image.open(tmp_path / "local" / photo.name / "labels.png")), err_msg=photo.name)
    again = run([listing], tmp_path / "ray", BatchOptions(pipeline=pipe, ray="local", workers=2))
    assert (again.ok, again.skipped, again.failed) == (0, 24, 1)


def test_missing_ray_is_a_one_line_config_error(tmp_path, monkeypatch):
    import sys

    from tryon_sdk.errors import ConfigError

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"pip install 'tryon-sdk\[ray\]'"):
        run([tmp_path], tmp_path / "o", BatchOptions(ray="local", model=ModelSpec()))
