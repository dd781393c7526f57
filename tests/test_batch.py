"""``tryon-sdk batch`` / ``tryon_sdk.batch.run``: discovery, manifest, resume, atomic outputs, workers, CCP photos."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tryon_sdk import Parser
from tryon_sdk.batch import BatchOptions, ModelSpec, discover, run
from tryon_sdk.batch.manifest import MANIFEST_NAME, read_manifest
from tryon_sdk.cli import main
from tryon_sdk.errors import ConfigError, InputError
from tryon_sdk.video.jobs.options import PipelineOptions
from tryon_sdk.video.jobs.pipeline import run_pipeline

from helpers import corrupt, write_images
from videos import make_video, synthetic_frame

REPO = Path(__file__).resolve().parents[1]


def manifest_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]


def labels_of(folder: Path) -> np.ndarray:
    return np.array(Image.open(folder / "labels.png"))


def final_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_dir() and not any(part.startswith(".") for part in p.relative_to(out).parts))


# ------------------------------------------------------------------------------------------ sources
def test_discover_folders_globs_and_lists(tmp_path):
    src = tmp_path / "src"
    write_images(src / "a", 2)
    write_images(src / "a" / "deep", 1, start=5)
    make_video(src / "clip.mp4", width=32, height=24, frames=2)
    (src / "notes.txt").write_text("not an input")
    write_images(src / ".hidden", 1)
    found = discover([src])
    assert [i.rel for i in found] == ["a/deep/img005.png", "a/img000.png", "a/img001.png", "clip.mp4"]
    assert [i.kind for i in found] == ["image", "image", "image", "video"]

    assert [i.rel for i in discover([str(src / "a" / "*.png")])] == ["img000.png", "img001.png"]
    assert [i.rel for i in discover([str(src / "**" / "img00[05].png")])] == ["a/deep/img005.png", "a/img000.png"]

    listing = tmp_path / "inputs.txt"
    listing.write_text(f"# photos\nsrc/a/img000.png\n\n{src / 'clip.mp4'}\nmissing.jpg\n")
    found = discover([listing, src / "a" / "img000.png"])  # the duplicate is dropped
    assert [i.rel for i in found] == ["src/a/img000.png", "src/clip.mp4", "missing.jpg"]

    # outputs inside a source are never inputs
    assert all("out" not in i.rel for i in discover([src], output=src / "out"))
    write_images(tmp_path / "other", 1)
    with pytest.raises(ConfigError, match="would both write"):
        discover([src / "a" / "img000.png", tmp_path / "other" / "img000.png"])
    with pytest.raises(InputError, match="no such file"):
        discover([tmp_path / "nope"])
    with pytest.raises(InputError, match="matches no files"):
        discover([str(tmp_path / "*.webp")])


# ------------------------------------------------------------------------------------- end to end
def test_batch_writes_what_parse_writes_and_records_failures(tmp_path, capsys, calibrated_checkpoint):
    src = tmp_path / "src"
    write_images(src, 3)
    write_images(src / "sub", 1, start=7)
    corrupt(src / "sub" / "broken.jpg")
    out = tmp_path / "out"
    rc = main(["batch", str(src), "-o", str(out), "--model", str(calibrated_checkpoint), "--workers", "1", "--no-progress"])
    stdout, stderr = capsys.readouterr()
    assert rc == 1
    assert "5 input(s): 4 ok, 0 skipped, 1 failed" in stdout and stdout.count("\n") == 1
    assert "failed:" in stderr and "broken.jpg" in stderr

    lines = manifest_lines(out)
    assert len(lines) == 5 and {k for line in lines for k in line} >= {"path", "status", "outputs", "frames", "seconds", "error"}
    by_rel = {line["rel"]: line for line in lines}
    assert by_rel["sub/broken.jpg"]["status"] == "failed" and "not a readable image" in by_rel["sub/broken.jpg"]["error"]
    ok = [line for line in lines if line["status"] == "ok"]
    assert len(ok) == 4 and all(line["frames"] == 1 and line["error"] is None for line in ok)
    assert set(by_rel["sub/img007.png"]["outputs"]) == {"sub/img007.png/labels.png", "sub/img007.png/overlay.png", "sub/img007.png/summary.json"}

    # each folder holds exactly what `tryon-sdk parse FILE` writes
    ref = tmp_path / "ref"
    assert main(["parse", str(src / "sub" / "img007.png"), "-o", str(ref), "--model", str(calibrated_checkpoint)]) == 0
    folder = out / "sub" / "img007.png"
    assert {p.name for p in folder.iterdir() if not p.name.startswith(".")} == {p.name for p in ref.iterdir()}
    np.testing.assert_array_equal(labels_of(folder), labels_of(ref))
    assert not (out / "sub" / "broken.jpg").exists()


def test_rerun_skips_complete_inputs_and_redoes_what_changed(tmp_path, calibrated_checkpoint):
    src = tmp_path / "src"
    paths = write_images(src, 4)
    out = tmp_path / "out"
    opts = BatchOptions(model=ModelSpec(str(calibrated_checkpoint)), workers=1, pipeline=PipelineOptions(outputs=("labels", "summary")))
    first = run([src], out, opts)
    assert (first.ok, first.failed) == (4, 0)

    again = run([src], out, opts)
    assert (again.ok, again.skipped) == (0, 4)
    assert [line["status"] for line in manifest_lines(out)] == ["skipped"] * 4

    # a folder renamed into place just before a kill, without its manifest line (and a torn last line):
    # its own record says it is complete
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    (out / MANIFEST_NAME).write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])
    assert run([src], out, opts).skipped == 4

    # a changed input, a removed output and other options are redone; the rest stays skipped
    Image.fromarray(synthetic_frame(9, 64, 48)).save(paths[0])
    os.utime(paths[0], ns=(time.time_ns(), time.time_ns() + 10**9))
    (out / "img001.png" / "labels.png").unlink()
    third = run([src], out, opts)
    assert {r.rel for r in third.records if r.status == "ok"} == {"img000.png", "img001.png"}
    other = BatchOptions(model=opts.model, workers=1, pipeline=PipelineOptions(outputs=("labels",)))
    assert run([src], out, other).ok == 4
    assert run([src], out, BatchOptions(model=opts.model, workers=1, pipeline=other.pipeline, overwrite=True)).ok == 4
    assert not (out / "img000.png" / "summary.json").exists()  # the folder is replaced whole


def test_interrupted_run_leaves_no_partial_output_and_resumes(tmp_path, calibrated_checkpoint, monkeypatch):
    """Ctrl-C while the third input's folder is being committed: nothing half-written in place; a rerun finishes."""
    from tryon_sdk import outputs as outputs_mod

    src = tmp_path / "src"
    write_images(src, 5)
    out = tmp_path / "out"
    opts = BatchOptions(model=ModelSpec(str(calibrated_checkpoint)), workers=1)
    commits = {"n": 0}
    real_commit = outputs_mod.PendingOutput.commit

    def failing_commit(self):
        if self.is_dir and self.final.parent == out:
            commits["n"] += 1
            if commits["n"] == 3:
                raise KeyboardInterrupt
        return real_commit(self)

    monkeypatch.setattr(outputs_mod.PendingOutput, "commit", failing_commit)
    with pytest.raises(KeyboardInterrupt):
        run([src], out, opts)
    monkeypatch.undo()
    assert [f.name for f in final_folders(out)] == ["img000.png", "img001.png"]
    assert not [p for p in out.iterdir() if ".partial-" in p.name]
    assert [line["status"] for line in manifest_lines(out)] == ["ok", "ok"]

    again = run([src], out, opts)
    assert {r.rel: r.status for r in again.records} == {
        "img000.png": "skipped", "img001.png": "skipped", "img002.png": "ok", "img003.png": "ok", "img004.png": "ok"
    }  # fmt: skip


@pytest.mark.slow
def test_killed_process_resumes_without_redoing_anything(tmp_path, calibrated_checkpoint):
    """SIGKILL a ``tryon-sdk batch`` process after a few manifest lines; the rerun does each remaining input once."""
    src = tmp_path / "src"
    write_images(src, 40, size=(640, 480))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tryon_sdk", "batch", str(src), "-o", str(out), "--model", str(calibrated_checkpoint), "--workers", "1", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    manifest = out / MANIFEST_NAME
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if manifest.exists() and manifest.read_text().count("\n") >= 5:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    first = {r for r, rec in read_manifest(manifest).items() if rec.status == "ok"}
    assert 5 <= len(first) < 40
    done = final_folders(out)
    for folder in done:  # whatever is in place is complete
        assert labels_of(folder).shape == (480, 640)
        assert json.loads((folder / "summary.json").read_text())["frames_processed"] == 1
    opts = BatchOptions(model=ModelSpec(str(calibrated_checkpoint)), workers=1)
    again = run([src], out, opts)
    redone = {r.path for r in again.records if r.status == "ok"}
    skipped = {r.path for r in again.records if r.status == "skipped"}
    assert not redone & first and skipped >= first
    assert {str(src / f.name) for f in done} <= skipped  # a folder committed before its manifest line is not redone
    assert len(redone) + len(skipped) == 40 and again.failed == 0
    assert not [p for p in out.iterdir() if ".partial-" in p.name]


def test_videos_and_images_mixed(tmp_path, calibrated_checkpoint):
    src = tmp_path / "src"
    write_images(src, 1)
    (src / "clips").mkdir()
    make_video(src / "clips" / "a.mp4", width=48, height=32, frames=4)
    out = tmp_path / "out"
    report = run([src], out, BatchOptions(model=ModelSpec(str(calibrated_checkpoint)), workers=1, pipeline=PipelineOptions(outputs=("labels", "summary"))))
    assert report.ok == 2
    video = next(r for r in report.records if r.rel == "clips/a.mp4")
    assert video.frames == 4 and set(video.outputs) == {"clips/a.mp4/labels.mkv", "clips/a.mp4/summary.json"}


def test_bad_options_and_a_locked_output_folder(tmp_path, calibrated_checkpoint):
    src = tmp_path / "src"
    write_images(src, 1)
    with pytest.raises(ConfigError, match="layout"):
        run([src], tmp_path / "o", BatchOptions(layout="cityscapes"))
    with pytest.raises(ConfigError, match="workers"):
        run([src], tmp_path / "o", BatchOptions(workers=0))
    import fcntl

    out = tmp_path / "busy"
    out.mkdir()
    with open(out / ".tryon-batch.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match="another batch job"):
            run([src], out, BatchOptions(model=ModelSpec(str(calibrated_checkpoint)), workers=1))


@pytest.mark.slow
def test_two_worker_processes_give_the_same_labels(tmp_path, calibrated_checkpoint):
    src = tmp_path / "src"
    write_images(src, 6)
    corrupt(src / "bad.png")
    one, two = tmp_path / "one", tmp_path / "two"
    spec = ModelSpec(str(calibrated_checkpoint))
    pipe = PipelineOptions(outputs=("labels",))
    assert run([src], one, BatchOptions(model=spec, workers=1, pipeline=pipe)).ok == 6
    report = run([src], two, BatchOptions(model=spec, workers=2, pipeline=pipe))
    assert (report.ok, report.failed, report.workers) == (6, 1, 2)
    for folder in final_folders(one):
        np.testing.assert_array_equal(labels_of(folder), labels_of(two / folder.name))


# ------------------------------------------------------------------------------- real CCP photos
@pytest.mark.slow
def test_ccp_photos_with_a_corrupt_file(tmp_path, capsys, ccp_dir):
    """24 CCP photos + 1 corrupt file: 24 ok, 1 failed, labels as `parse` writes them; a rerun skips them, fast."""
    photos = sorted((ccp_dir / "photos").glob("*.jpg"))[:24]
    bad = corrupt(tmp_path / "corrupt.jpg")
    listing = tmp_path / "inputs.txt"
    listing.write_text("\n".join(map(str, [*photos, bad])) + "\n")
    out = tmp_path / "out"
    args = ["batch", str(listing), "-o", str(out), "--outputs", "labels,summary", "--workers", "1", "--no-progress"]
    t0 = time.perf_counter()
    assert main(args) == 1
    first_s = time.perf_counter() - t0
    stdout, _ = capsys.readouterr()
    assert "24 ok, 0 skipped, 1 failed" in stdout
    lines = manifest_lines(out)
    assert sorted(line["status"] for line in lines) == ["failed"] + ["ok"] * 24
    failed = next(line for line in lines if line["status"] == "failed")
    assert failed["path"] == str(bad) and "not a readable image" in failed["error"]

    parser = Parser.from_pretrained()  # what `tryon-sdk parse FILE` runs, with the same job code
    for photo in photos:
        ref = tmp_path / "ref" / photo.name
        run_pipeline(parser, photo, ref, PipelineOptions(outputs=("labels",)))
        np.testing.assert_array_equal(labels_of(out / photo.name), labels_of(ref), err_msg=photo.name)

    t0 = time.perf_counter()
    assert main(args) == 1
    again_s = time.perf_counter() - t0
    stdout, _ = capsys.readouterr()
    assert "0 ok, 24 skipped, 1 failed" in stdout
    assert again_s < 0.7 * first_s, (again_s, first_s)
