"""Training loop: ``python -m training.train --recipe NAME_OR_JSON [--out DIR] [--resume] [key.sub=value ...]``.

* Data: in-memory uint8 caches (see :mod:`training.data.sources`), a seeded
  :class:`~torch.utils.data.DistributedSampler` order per epoch (weighted
  draws when sources have different weights), joint augmentation on the
  training device.
* Optimiser AdamW or SGD; poly or cosine decay after a linear warm-up, by
  step count or (``schedule.by = "time"``) by the fraction of the time budget
  used, so a run stopped by ``--max-minutes``/``--deadline`` still anneals.
* Mixed precision on CUDA (fp16 + GradScaler), optional bf16 autocast on CPU,
  gradient accumulation, DDP under ``torchrun`` (NCCL on GPU, gloo on CPU).
* Every random draw of step ``s`` comes from generators seeded with
  ``(seed, rank, s)``, so ``--resume`` continues exactly like an uninterrupted run.
* Validation every ``eval_every`` steps and, with ``eval_every_epoch``, after
  each epoch (``epoch_samples`` training samples; the training set's size for
  cached sources): mIoU and pixel accuracy go to the log and ``metrics.jsonl``.
* Rank 0 writes ``last/`` (resumable state, safetensors + JSON) every
  ``checkpoint_every`` steps or ``checkpoint_minutes``, ``best/`` (model format,
  best val mIoU), ``metrics.jsonl``, ``curves.png`` and finally ``export/``:
  the best model via :func:`tryon_sdk.models.checkpoint.save_checkpoint`.

The pieces live beside it: :mod:`training.schedule` (optimiser, LR schedule,
deadline), :mod:`training.distributed` (DDP, per-rank sample order),
:mod:`training.curves` (``metrics.jsonl``, ``curves.png``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch import nn

from tryon_sdk.models.checkpoint import save_checkpoint
from tryon_sdk.config import ModelConfig, default_normalization
from tryon_sdk.models.builders import build_model
from tryon_sdk.errors import ConfigError
from tryon_sdk.labels import NUM_CLASSES
from tryon_sdk.preprocess import Preprocess

from .augment import AugmentConfig, augment_batch, jitter_and_flip, normalize, to_float_batch
from .data.mixing import MixedStream, build_source
from .data.sources import ARRAY_SOURCES, load_arrays
from .evaluate import evaluate_arrays
from .pretrained import INITS, imagenet_source, init_backbone
from .curves import log_metrics, plot_curves
from .distributed import Dist, Sampler, training_device
from .degrade import DegradeConfig, degrade_batch
from .losses import CEDiceLoss, class_weights_from_masks, mirror_consistency_loss
from .rare import RARE_DEFAULT, rare_mask, rare_sample_weights
from .recipe import apply_overrides, load_recipe, section_config, validate_recipe
from .scenes import SceneConfig, background_strips, compose_scenes
from .schedule import lr_factor, make_optimizer, parse_deadline
from .views import ViewConfig, compose_groups, frame_crops
from .state import load_state, optimizer_from_flat, optimizer_to_flat, save_state

__all__ = ["train", "main"]


def _model_config(recipe: dict) -> ModelConfig:
    m = recipe["model"]
    backbone = m.get("backbone", "mobilenet_v3_large")
    mean, std = default_normalization(backbone)
    try:
        return ModelConfig(
            architecture=m.get("architecture", "lraspp"),
            backbone=backbone,
            input_size=tuple(m.get("input_size", (288, 192))),
            aux_loss=bool(m.get("aux_loss", False)),
            mean=mean,
            std=std,
        )
    except ConfigError as exc:
        raise ConfigError(f"recipe model section: {exc}") from exc


def initialise(model: nn.Module, cfg: ModelConfig, init: str) -> str:
    """Initialise ``model``: ``imagenet`` / ``none`` (backbone, :func:`init_backbone`) or ``checkpoint:PATH`` (every weight).

    ``PATH`` is a saved model folder (safetensors + config, e.g. ``tryon_sdk/weights/default``), tried as given and
    then relative to the repository root; its architecture, backbone and classes must match the recipe's.
    Returns a one-line description.
    """
    if not init.startswith("checkpoint:"):
        return init_backbone(model, cfg, init)
    from tryon_sdk.models.checkpoint import load_checkpoint, load_weights_into

    path = Path(init[len("checkpoint:"):])
    if not path.exists() and not path.is_absolute():
        path = Path(__file__).resolve().parents[1] / path
    state, ck = load_checkpoint(path)
    if (ck.architecture, ck.backbone) != (cfg.architecture, cfg.backbone):
        raise ConfigError(f"model.init {init!r}: the checkpoint is {ck.architecture}/{ck.backbone}, the recipe {cfg.architecture}/{cfg.backbone}")
    load_weights_into(model, state, cfg, source=str(path))
    return f"checkpoint {path} (sha256 {(ck.sha256 or '?')[:12]}, every weight)"



def train(recipe: dict[str, Any], out_dir: str | os.PathLike, *, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run a recipe; returns ``{"step", "best", "export", "stopped"}`` (rank 0) with paths and the best val metrics."""
    recipe = load_recipe(recipe)  # fill in defaults (idempotent)
    validate_recipe(recipe)
    d = Dist()
    out = Path(out_dir)
    device = training_device(recipe, d)
    d.setup(device)
    if recipe.get("num_threads"):
        torch.set_num_threads(int(recipe["num_threads"]))
    seed = int(recipe["seed"])
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(False)
    is_main = d.rank == 0
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.jsonl"

    cfg = _model_config(recipe)
    pad_color = Preprocess.from_config(cfg).pad_color  # samples fitted into a canvas are padded like the parser pads
    stream: MixedStream | None = None
    if all(src.get("source") in ARRAY_SOURCES for src in recipe["data"]["train"]):
        data = load_arrays(recipe["data"], pad_color=pad_color)
        tr_img, tr_msk, tr_w = data["train"]
        val = data["val"]
        weight_masks = tr_msk
        if recipe.get("sampling"):
            smp = recipe["sampling"]
            rare_cls = smp.get("rare_classes", list(RARE_DEFAULT))
            before = rare_mask(tr_msk, rare_cls, int(smp.get("min_pixels", 30)))
            share0 = float(tr_w[before].sum() / tr_w.sum())
            tr_w = rare_sample_weights(tr_w, tr_msk, rare_cls, float(smp.get("boost", 1.0)), int(smp.get("min_pixels", 30)))
            if d.rank == 0:
                print(f"sampling: {int(before.sum())}/{len(before)} training photos show {', '.join(map(str, rare_cls))}; "
                      f"their share of draws {share0:.2f} -> {float(tr_w[before].sum() / tr_w.sum()):.2f}", file=sys.stderr)
    else:  # Hub / folder sources, streamed and mixed
        if any(src.get("source") in ARRAY_SOURCES for src in recipe["data"]["train"]):
            raise ConfigError("cannot mix cached array sources (ccp via cache, npz) with streamed ones; use source 'ccp' in a streamed recipe without 'npz'")
        srcs = [build_source(src, seed) for src in recipe["data"]["train"]]
        stream = MixedStream(srcs, tuple(recipe["data"]["cache_size"]), seed, d.rank, d.world, pad_color=pad_color)
        val = stream.val_arrays()
        data = {"split": {"cache_size": list(recipe["data"]["cache_size"]), "sources": [{"name": x.name, "weight": x.weight, **x.split} for x in srcs]}}
        tr_img = tr_msk = tr_w = None
        weight_masks = val[1] if val is not None else None
    aug = AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in recipe.get("augment", {}).items()})

    torch.manual_seed(seed)
    model = build_model(cfg)
    init = recipe["model"].get("init", "imagenet")
    if not resume:
        init_note = initialise(model, cfg, init)
        if is_main:
            print(f"init: {init_note}", file=sys.stderr)
    model = model.to(device)
    scenes = SceneConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in recipe["scenes"].items()}) if recipe.get("scenes") else None
    views = section_config(ViewConfig, recipe["views"]) if recipe.get("views") else None
    degrade = section_config(DegradeConfig, recipe["degrade"]) if recipe.get("degrade") else None
    mirror = recipe.get("mirror") or {}
    mirror_w, mirror_n = float(mirror.get("weight", 0.0)), int(mirror.get("samples", 0) or recipe["batch_size"])
    strips = background_strips(torch.from_numpy(tr_img), torch.from_numpy(tr_msk)) if scenes is not None and stream is None else None
    channels_last = recipe.get("channels_last")
    channels_last = device.type == "cuda" if channels_last is None else bool(channels_last)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = make_optimizer(model.parameters(), recipe["optim"])
    base_lrs = [g["lr"] for g in opt.param_groups]

    cw = recipe["loss"].get("class_weights", "none")
    if cw == "balanced":
        if weight_masks is None:
            raise ConfigError("loss.class_weights 'balanced' needs training arrays or a validation split to count classes")
        weights = class_weights_from_masks(weight_masks)
    elif isinstance(cw, list):
        weights = torch.tensor(cw, dtype=torch.float32)
    elif cw in (None, "none"):
        weights = None
    else:
        raise ConfigError(f"loss.class_weights {cw!r}; valid: 'none', 'balanced' or a list of {NUM_CLASSES} numbers")
    criterion = CEDiceLoss(weights, dice_weight=float(recipe["loss"].get("dice_weight", 1.0))).to(device)

    step, epoch, pos, elapsed_prior, best = 0, 0, 0, 0.0, {"mean_iou": -1.0}
    if resume:
        tensors, meta = load_state(out / "last")
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        optimizer_from_flat(opt, tensors, meta["optimizer"])
        step, epoch, pos = meta["step"], meta["epoch"], meta["pos"]
        elapsed_prior, best = meta["elapsed"], meta["best"]
        if stream is not None:
            stream.load_state_dict(meta["stream"])
        if meta.get("recipe") and meta["recipe"].get("model") != recipe.get("model"):
            raise ConfigError("--resume with a different model section than the saved run")
    net: nn.Module = model
    if d.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    if stream is None:
        sampler = Sampler(len(tr_img), tr_w, seed, d)
        order = sampler.order(epoch)
        imgs_t = torch.from_numpy(tr_img)
        msks_t = torch.from_numpy(tr_msk)
    per_rank_batch = int(recipe["batch_size"])
    accum = int(recipe.get("accum_steps", 1))
    samples_per_step = per_rank_batch * accum * d.world
    if stream is None:
        epoch_samples = int(recipe.get("epoch_samples") or len(tr_img))
    elif recipe.get("epoch_samples"):
        epoch_samples = int(recipe["epoch_samples"])
    elif recipe.get("eval_every_epoch"):
        raise ConfigError("eval_every_epoch with streamed sources needs epoch_samples (training samples per epoch)")
    else:
        epoch_samples = 1 << 62
    last_eval_epoch, last_eval_step = step * samples_per_step // epoch_samples, -1
    total_steps = int(recipe["steps"])
    max_min = recipe.get("max_minutes")
    t_start = time.time()
    deadline = parse_deadline(recipe.get("deadline"))
    budget_end = min(
        t_start + (float(max_min) * 60 - elapsed_prior) if max_min else math.inf,
        deadline - 90 if deadline else math.inf,  # room for the final eval and export
    )
    by_time = recipe["schedule"].get("by", "steps") == "time" and math.isfinite(budget_end)
    total_budget = elapsed_prior + (budget_end - t_start)
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    amp_ctx = (
        torch.autocast("cuda", dtype=torch.float16) if use_amp
        else torch.autocast("cpu", dtype=torch.bfloat16) if recipe.get("cpu_bf16") else contextlib.nullcontext()
    )
    in_size = tuple(cfg.input_size)

    def next_indices() -> list[int]:
        nonlocal order, epoch, pos
        if pos + per_rank_batch > len(order):
            epoch += 1
            pos = 0
            order = sampler.order(epoch)
            if per_rank_batch > len(order):
                raise ConfigError(f"batch_size {per_rank_batch} is larger than the {len(order)} training samples per rank")
        idx = order[pos : pos + per_rank_batch]
        pos += per_rank_batch
        return idx

    def evaluate_now() -> dict[str, Any]:
        return evaluate_arrays(
            model, cfg, val[0], val[1], device=device, flip_tta=bool(recipe.get("eval_flip_tta")), channels_last=channels_last
        )

    def save_last() -> None:
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        otensors, ometa = optimizer_to_flat(opt)
        tensors.update(otensors)
        meta = {
            "step": step, "epoch": epoch, "pos": pos, "elapsed": elapsed_prior + time.time() - t_start,
            "best": best, "optimizer": ometa, "recipe": recipe, "world_size": d.world,
            "stream": stream.state_dict() if stream is not None else None,
        }
        save_state(out / "last", tensors, meta)

    def export_config(metrics: dict[str, Any]) -> ModelConfig:
        return cfg.replace(recipe=recipe, data_split=data["split"], metrics=metrics)

    bar = None
    if is_main and progress:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=step, unit="step", dynamic_ncols=True, mininterval=1 if sys.stderr.isatty() else 30)
    last_ckpt_t = time.time()
    stopped = "steps"
    model.train()
    t_step = time.time()
    while step < total_steps:
        elapsed = elapsed_prior + time.time() - t_start
        if d.any(time.time() >= budget_end):
            stopped = "time"
            break
        if recipe.get("stop_at_step") and step >= int(recipe["stop_at_step"]):
            stopped = "stop_at_step"  # split a run into chunks without changing its schedule
            break
        progress_frac = step / total_steps
        if by_time:
            progress_frac = max(progress_frac, elapsed / total_budget)
        f = lr_factor(step, progress_frac, recipe["schedule"])
        for g, lr0 in zip(opt.param_groups, base_lrs):
            g["lr"] = lr0 * f
        opt.zero_grad(set_to_none=True)
        loss_sum = mirror_sum = 0.0
        for micro in range(accum):
            gen = torch.Generator().manual_seed(((seed * 1_000_003 + step) * 131 + d.rank) * 17 + micro)
            torch.manual_seed(((seed * 7919 + step) * 131 + d.rank) * 17 + micro)  # dropout
            if stream is None:
                idx = torch.as_tensor(next_indices())
                xb, yb = imgs_t[idx], msks_t[idx]
            else:
                xb, yb = (torch.from_numpy(a) for a in stream.next_batch(per_rank_batch))
            x = to_float_batch(xb.to(device, non_blocking=True))
            y = yb.to(device, non_blocking=True)
            r_view = float(torch.rand(1, generator=gen)) if views is not None else 1.0
            if views is not None and r_view < views.p_framing + views.p_group:
                landscape = float(torch.rand(1, generator=gen)) < views.p_landscape
                if r_view < views.p_framing:
                    x, y = frame_crops(x.cpu(), y.cpu(), in_size, views, gen, landscape=landscape, fill=cfg.mean)
                else:
                    x, y = compose_groups(x.cpu(), y.cpu(), in_size, views, gen, landscape=landscape, fill=cfg.mean,
                                          scenes=scenes, photos=imgs_t if stream is None else None, strips=strips)
                x, y = jitter_and_flip(x.to(device), y.to(device), aug, gen)
            elif scenes is not None and float(torch.rand(1, generator=gen)) < scenes.p_scene:
                landscape = float(torch.rand(1, generator=gen)) < scenes.p_landscape
                x, y = compose_scenes(x.cpu(), y.cpu(), in_size, scenes, gen, landscape=landscape, pad_color=cfg.mean,
                                      photos=imgs_t if stream is None else None, strips=strips)
                x, y = jitter_and_flip(x.to(device), y.to(device), aug, gen)
            else:
                x, y = augment_batch(x, y, in_size, aug, gen, fill=cfg.mean)
            if degrade is not None:
                shade = torch.as_tensor(cfg.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
                bars = (y == 255) & ((x - shade).abs() < 1e-4).all(1)  # letterbox: the parser pads after the camera
                x = degrade_batch(x.cpu(), degrade, gen, keep=bars.cpu()).to(device)
            x = normalize(x, cfg.mean, cfg.std)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            sync = contextlib.nullcontext() if (not d.enabled or micro == accum - 1) else net.no_sync()
            with sync:
                k_m = min(mirror_n, x.shape[0]) if mirror_w > 0 else 0
                with amp_ctx:
                    outputs = net(torch.cat([x, x[:k_m].flip(-1)]) if k_m else x)
                n_b = x.shape[0]
                loss = criterion(outputs["out"][:n_b], y)
                if "aux" in outputs:
                    loss = loss + float(recipe["loss"].get("aux_weight", 0.4)) * criterion(outputs["aux"][:n_b], y)
                if k_m:
                    m_loss = mirror_consistency_loss(outputs["out"][:k_m], outputs["out"][n_b:])
                    loss = loss + mirror_w * m_loss
                    mirror_sum += float(m_loss.detach()) / accum
                scaler.scale(loss / accum).backward()
            loss_sum += float(loss.detach()) / accum
        scaler.step(opt)
        scaler.update()
        step += 1
        now = time.time()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum:.3f}", lr=f"{opt.param_groups[0]['lr']:.2e}", refresh=False)
        if is_main and (step % int(recipe["log_every"]) == 0 or step == 1):
            log_metrics(metrics_path, {"kind": "train", "step": step, "loss": loss_sum, "lr": opt.param_groups[0]["lr"],
                                "step_s": now - t_step, "elapsed_s": elapsed_prior + now - t_start, "epoch": epoch,
                                **({"mirror": mirror_sum} if mirror_w > 0 else {})})
        t_step = now
        epochs_done = step * samples_per_step // epoch_samples
        new_epoch = bool(recipe.get("eval_every_epoch")) and epochs_done > last_eval_epoch
        if val is not None and (new_epoch or (recipe.get("eval_every") and step % int(recipe["eval_every"]) == 0)):
            if is_main:
                best = _eval_and_keep(evaluate_now(), step, elapsed_prior + time.time() - t_start, best, metrics_path, out, model, export_config,
                                      epoch=step * samples_per_step / epoch_samples)
                model.train()
            last_eval_epoch, last_eval_step = epochs_done, step
            d.barrier()
        ck_steps = recipe.get("checkpoint_every")
        ck_min = recipe.get("checkpoint_minutes")
        if (ck_steps and step % int(ck_steps) == 0) or (ck_min and time.time() - last_ckpt_t >= float(ck_min) * 60):
            if is_main:
                save_last()
            last_ckpt_t = time.time()
            d.barrier()
    if bar is not None:
        bar.close()
    result: dict[str, Any] = {"step": step, "stopped": stopped}
    if is_main:
        if val is not None and last_eval_step != step:
            best = _eval_and_keep(evaluate_now(), step, elapsed_prior + time.time() - t_start, best, metrics_path, out, model, export_config,
                                  epoch=step * samples_per_step / epoch_samples)
        save_last()
        if val is None:  # nothing to select on: the last weights are the result
            save_checkpoint(model, export_config({"step": step}), out / "best")
        dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": None}[recipe.get("export_dtype", "float16")]
        from tryon_sdk.models.checkpoint import load_checkpoint

        state, best_cfg = load_checkpoint(out / "best")
        metrics = dict(best_cfg.metrics)
        metrics["wall_time_s"] = round(elapsed_prior + time.time() - t_start, 1)
        metrics["steps_run"] = step
        final_cfg = save_checkpoint(state, best_cfg.replace(metrics=metrics, sha256=None), out / "export", dtype=dtype)
        if metrics_path.is_file():
            plot_curves(metrics_path, out / "curves.png")
        result.update(best=best, export=str(out / "export"), sha256=final_cfg.sha256)
    d.barrier()
    if d.enabled:
        dist.destroy_process_group()
    return result


def _eval_and_keep(rep: dict, step: int, elapsed: float, best: dict, metrics_path: Path, out: Path, model: nn.Module, export_config,
                   epoch: float) -> dict:
    rec = {"kind": "eval", "step": step, "epoch": round(epoch, 3), "elapsed_s": elapsed, "mean_iou": rep["mean_iou"],
           "pixel_accuracy": rep["pixel_accuracy"], "per_class_iou": rep["per_class_iou"]}
    log_metrics(metrics_path, rec)
    print(f"eval step {step} (epoch {epoch:.2f}): val mIoU {rep['mean_iou']:.4f}, pixel accuracy {rep['pixel_accuracy']:.4f}", file=sys.stderr)
    if rep["mean_iou"] > best.get("mean_iou", -1.0):
        best = {"mean_iou": rep["mean_iou"], "pixel_accuracy": rep["pixel_accuracy"], "step": step}
        metrics = {"val": {k: rep[k] for k in ("mean_iou", "pixel_accuracy", "per_class_iou")}, "step": step, "elapsed_s": round(elapsed, 1)}
        save_checkpoint(model, export_config(metrics), out / "best")
    return best


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    p.add_argument("--recipe", required=True, help="bundled name (training/recipes/*.json), a .json path or inline JSON")
    p.add_argument("--out", default=None, help="run folder (default runs/<recipe name>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after this much training time (all runs of this folder)")
    p.add_argument("--deadline", default=None, help="stop before this UTC time (HH:MM or ISO), leaving room to export")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--init", choices=INITS, default=None, help="backbone initialisation (overrides the recipe's model.init)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved recipe and the initialisation, then stop")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("overrides", nargs="*", help="key.sub=value, e.g. optim.lr=3e-3 steps=2000")
    a = p.parse_args(argv)
    recipe = apply_overrides(load_recipe(a.recipe), a.overrides)
    if a.max_minutes is not None:
        recipe["max_minutes"] = a.max_minutes
    if a.deadline is not None:
        recipe["deadline"] = a.deadline
    if a.device is not None:
        recipe["device"] = a.device
    if a.init is not None:
        recipe["model"]["init"] = a.init
    validate_recipe(recipe)
    if a.dry_run:
        m = recipe["model"]
        init = m.get("init", "imagenet")
        print(json.dumps(recipe, indent=1))
        print(f"model: {m.get('architecture')}/{m.get('backbone')}, input {m.get('input_size')}")
        print(f"init: {imagenet_source(m['backbone']) if init == 'imagenet' else init if init.startswith('checkpoint:') else 'none (random initialisation, from scratch)'}")
        return 0
    out = a.out or os.path.join("runs", recipe["name"])
    result = train(recipe, out, resume=a.resume, progress=not a.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
