"""The training loop end to end on a tiny synthetic set: loss falls, exact resume, export, evaluate, DDP (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tryon_sdk.models.checkpoint import load_checkpoint
from tryon_sdk.errors import ConfigError
from training.recipe import apply_overrides, available_recipes, load_recipe
from training.schedule import lr_factor
from training.train import train

from synthetic import synthetic_people

from .conftest import REPO, tiny_recipe


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory) -> Path:
    from training.data.cache import build_cache

    images, masks = synthetic_people(24, 96, 64, seed=0)
    path = tmp_path_factory.mktemp("cache") / "tiny.npz"
    return build_cache([f"{i:04d}" for i in range(24)], lambda k: (images[int(k)], masks[int(k)]), (96, 64), path, meta={"name": "synthetic"}, progress=False, pad_color=(0, 0, 0))


@pytest.fixture(scope="module")
def trained(tiny_cache, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("run")
    result = train(tiny_recipe(tiny_cache), out, progress=False)
    return out, result


def _rows(run: Path, kind: str) -> list[dict]:
    return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


@pytest.mark.slow
def test_twenty_steps_loss_falls(trained):
    run, result = trained
    losses = [r["loss"] for r in _rows(run, "train")]
    assert result["step"] == 20 and len(losses) == 20
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses
    assert all(np.isfinite(losses))


@pytest.mark.slow
def test_export_is_a_loadable_model_with_provenance(trained):
    run, result = trained
    state, cfg = load_checkpoint(run / "export")
    assert result["export"] == str(run / "export")
    assert cfg.architecture == "lraspp" and tuple(cfg.input_size) == (64, 48)
    assert cfg.recipe["name"] == "tiny" and cfg.recipe["steps"] == 20
    src = cfg.data_split["sources"][0]
    assert src["name"] == "synthetic" and len(src["val_ids"]) == 4 and len(src["train_ids"]) == 20
    assert set(src["val_ids"]).isdisjoint(src["train_ids"])
    assert cfg.metrics["val"]["mean_iou"] == pytest.approx(result["best"]["mean_iou"])
    assert cfg.metrics["steps_run"] == 20
    from safetensors import safe_open

    with safe_open(str(run / "export" / "model.safetensors"), "pt") as f:
        assert f.get_tensor(next(iter(f.keys()))).dtype in (torch.float16, torch.int64)
    assert (run / "curves.png").stat().st_size > 1000
    assert (run / "best" / "model.safetensors").is_file() and (run / "last" / "state.json").is_file()


@pytest.mark.slow
def test_resume_gives_the_same_next_steps(tiny_cache, tmp_path):
    recipe = tiny_recipe(tiny_cache, steps=6, eval_every=0, checkpoint_every=3)
    full = tmp_path / "full"
    train(recipe, full, progress=False)
    part = tmp_path / "part"
    train({**recipe, "stop_at_step": 3}, part, progress=False)
    assert json.loads((part / "last" / "state.json").read_text())["step"] == 3
    train(recipe, part, resume=True, progress=False)
    a = {r["step"]: r for r in _rows(full, "train")}
    b = {r["step"]: r for r in _rows(part, "train")}
    for s in (4, 5, 6):
        assert b[s]["loss"] == pytest.approx(a[s]["loss"], rel=1e-5, abs=1e-6), (s, a[s]["loss"], b[s]["loss"])
        assert b[s]["lr"] == pytest.approx(a[s]["lr"], rel=1e-9)
    from training.state import load_state

    sa, ma = load_state(full / "last")
    sb, mb = load_state(part / "last")
    assert ma["step"] == mb["step"] == 6 and sa.keys() == sb.keys()
    assert all(torch.allclose(sa[k].float(), sb[k].float(), atol=1e-5) for k in sa)  # weights and optimizer moments


@pytest.mark.slow
def test_evaluate_cli_matches_torchmetrics(trained, tiny_cache, tmp_path, capsys):
    tm = pytest.importorskip("torchmetrics")
    from tryon_sdk.models.builders import build_model
    from tryon_sdk.models.checkpoint import load_weights_into
    from training.data.cache import load_cache
    from training.evaluate import main, predict_logits

    run, _ = trained
    report_path = tmp_path / "report.json"
    assert main(["--checkpoint", str(run / "export"), "--dataset", str(tiny_cache), "--out", str(report_path)]) == 0
    assert "mean IoU" in capsys.readouterr().out
    rep = json.loads(report_path.read_text())
    state, cfg = load_checkpoint(run / "export")
    model = build_model(cfg)
    load_weights_into(model, state, cfg)
    model.eval()
    images, masks, _, _ = load_cache(tiny_cache)
    pred = predict_logits(model, cfg, torch.from_numpy(images), masks.shape[1:]).argmax(1)
    target = torch.from_numpy(masks).long()
    jac = tm.classification.MulticlassJaccardIndex(num_classes=18, ignore_index=255, average="none")(pred, target)
    acc = tm.classification.MulticlassAccuracy(num_classes=18, ignore_index=255, average="micro")(pred, target)
    present = sorted(set(torch.unique(target).tolist()) - {255})
    assert rep["present"] == present
    assert rep["mean_iou"] == pytest.approx(float(jac[present].mean()), abs=1e-6)
    assert rep["pixel_accuracy"] == pytest.approx(float(acc), abs=1e-6)
    for i in present:
        assert rep["per_class_iou"][cfg.class_names[i]] == pytest.approx(float(jac[i]), abs=1e-6)


@pytest.mark.slow
def test_two_process_gloo_run(tiny_cache, tmp_path):
    recipe = tiny_recipe(tiny_cache, steps=4, eval_every=2, checkpoint_every=2, batch_size=2)
    recipe_path = tmp_path / "tiny.json"
    recipe_path.write_text(json.dumps(recipe))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train", "--recipe", str(recipe_path), "--out", str(tmp_path / "ddp"), "--device", "cpu", "--no-progress"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((tmp_path / "ddp" / "last" / "state.json").read_text())
    assert meta["world_size"] == 2 and meta["step"] == 4
    assert len(_rows(tmp_path / "ddp", "eval")) == 2
    load_checkpoint(tmp_path / "ddp" / "export")


def test_schedule_and_recipe_errors():
    sched = {"name": "poly", "power": 1.0, "warmup_steps": 10, "warmup_start": 0.0}
    assert lr_factor(0, 0.0, sched) == 0.0 and lr_factor(5, 0.0, sched) == 0.5
    assert lr_factor(10, 0.5, sched) == pytest.approx(0.5)
    assert lr_factor(10, 0.5, {**sched, "name": "cosine"}) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="valid: poly, cosine, constant"):
        lr_factor(20, 0.5, {"name": "step"})
    assert {"ccp_lite0_cpu", "atr_imat_deeplabv3_r101"} <= set(available_recipes())
    with pytest.raises(ConfigError, match="unknown recipe"):
        load_recipe("nope")
    r = apply_overrides(load_recipe("ccp_lite0_cpu"), ["optim.lr=0.01", "model.input_size=[256,160]", "steps=5"])
    assert r["optim"]["lr"] == 0.01 and r["model"]["input_size"] == [256, 160] and r["steps"] == 5
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(r, ["stepz=3"])
    with pytest.raises(ConfigError, match="valid: adamw, sgd"):
        train(apply_overrides(load_recipe({"data": {"train": [{"source": "npz", "path": "x.npz"}]}}), ["optim.name=\"lamb\""]), "/nonexistent/never", progress=False)


def test_weighted_array_sources_follow_their_weights(tmp_path):
    from training.data.cache import build_cache
    from training.data.sources import load_arrays
    from training.distributed import Dist, Sampler

    paths = []
    for name, n in (("a", 30), ("b", 10)):
        images, masks = synthetic_people(n, 24, 16, seed=len(name))
        paths.append(build_cache([f"{i}" for i in range(n)], lambda k, im=images, m=masks: (im[int(k)], m[int(k)]), (24, 16), tmp_path / f"{name}.npz", progress=False, pad_color=(0, 0, 0)))
    data = load_arrays({"train": [{"source": "npz", "path": str(paths[0]), "weight": 1.0}, {"source": "npz", "path": str(paths[1]), "weight": 1.0}],
                        "cache_size": [24, 16], "split": {"val_count": 2, "seed": 0}}, pad_color=(0, 0, 0))
    images, masks, weights = data["train"]
    assert len(images) == 28 + 8 and data["val"][0].shape == (4, 24, 16, 3)
    assert [s["val_count"] for s in data["split"]["sources"]] == [2, 2]
    order = Sampler(len(images), weights, seed=0, d=Dist()).order(0) + Sampler(len(images), weights, seed=0, d=Dist()).order(1)
    from_b = np.mean([i >= 28 for i in order])
    assert 0.3 < from_b < 0.7  # equal source weights: ~half the draws from the 8-image source (uniform would give 0.22)
    uniform = Sampler(len(images), np.ones(len(images)), seed=0, d=Dist()).order(0)
    assert sorted(uniform) == list(range(len(images)))  # one epoch = a permutation (DistributedSampler)


def test_validation_after_every_epoch_is_logged(tiny_npz, tmp_path, capsys):
    """20 training samples in batches of 4: epochs end at steps 5 and 10, each with a logged validation."""
    recipe = tiny_recipe(tiny_npz, steps=10, eval_every=0, eval_every_epoch=True, checkpoint_every=0)
    train(recipe, tmp_path / "run", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [(r["step"], r["epoch"]) for r in evals] == [(5, 1.0), (10, 2.0)]
    assert all(0 <= r["mean_iou"] <= 1 and 0 <= r["pixel_accuracy"] <= 1 for r in evals)
    assert "eval step 5 (epoch 1.00): val mIoU" in capsys.readouterr().err
