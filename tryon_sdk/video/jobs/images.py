"""The parse job for an image or a folder of images: PNGs per image and ``summary.json``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ...errors import InputError, VideoError
from ...outputs import PendingOutput
from ...parser import Parser
from ...result import ParseResult
from .commit import RunOutputs, commit_run
from ..io.reader import read_image
from ..io.writers import write_png
from .options import PipelineOptions
from .progress import progress
from .stages import alpha_u8
from ..stream import RunningMode, VideoSession
from .summary import Summary, class_share, model_entry, options_entry, people_json

__all__ = ["run_images"]


def _pending(options: PipelineOptions, outputs: tuple[str, ...], out: Path, files: RunOutputs, single: bool) -> dict[str, PendingOutput]:
    """``kind -> pending file (single image) or folder``, for overlay, labels and each ``alpha_<region>``."""
    kinds = [k for k in ("overlay", "labels") if k in outputs] + ([f"alpha_{r}" for r in options.regions] if "alpha" in outputs else [])
    targets: dict[str, PendingOutput] = {}
    for kind in kinds:
        stem = options.overlay_stem() if kind == "overlay" else kind
        targets[kind] = files.add(PendingOutput(out / (f"{stem}.png" if single else stem), is_dir=not single))
        if kind.startswith("alpha_"):
            files.names.setdefault("alpha", {})[kind[len("alpha_") :]] = targets[kind].final.name
        else:
            files.names[kind] = targets[kind].final.name
    return targets


def run_images(parser: Parser, paths: list[Path], out: Path, options: PipelineOptions, *, folder: Path | None) -> dict[str, Any]:
    """Parse ``paths`` (one image when ``folder`` is ``None``) into ``out``; returns the summary."""
    t_start = time.perf_counter()
    outputs = options.resolved_outputs()
    if folder is not None and not paths:
        raise InputError(f"{folder}: no images found (looked for {', '.join(sorted({'.png', '.jpg', '.jpeg'}))}, ...)")
    stream = options.stream_options(
        RunningMode.IMAGE, smoothing=None, return_probabilities="alpha" in outputs, compositor=options.compositor
    )
    files = RunOutputs()
    single = folder is None
    skipped: list[dict[str, Any]] = []
    frames: list[dict[str, Any]] = []
    num_classes = parser.config.num_classes
    bar = progress(options.progress, len(paths), folder.name if folder else paths[0].name)
    session = VideoSession(parser, stream)
    try:
        targets = _pending(options, outputs, out, files, single)

        def write_result(path: Path, index: int, result: ParseResult) -> None:
            for kind, pending in targets.items():
                dest = pending.tmp if single else pending.tmp / f"{path.stem}.png"
                if kind == "overlay":
                    img = session.render(result)
                elif kind == "labels":
                    img = result.labels
                else:
                    img = alpha_u8(result.region(kind[len("alpha_") :]))
                try:
                    write_png(dest, img)
                except OSError as exc:
                    raise VideoError(f"cannot write {dest}: {exc.strerror or exc}") from None
            frames.append(
                {"index": index, "file": path.name, "size": list(result.shape), "class_share": class_share(result.labels, num_classes),
                 "people": people_json(result, 1.0)}
            )  # fmt: skip

        for start in range(0, len(paths), options.batch_size):
            chunk = paths[start : start + options.batch_size]
            images, kept = [], []
            for i, path in enumerate(chunk):
                try:
                    images.append(read_image(path))
                    kept.append((start + i, path))
                except InputError as exc:
                    if single:
                        raise
                    skipped.append({"file": path.name, "reason": str(exc)})
            for (index, path), result in zip(kept, session.parse_many(images)):
                write_result(path, index, result)
            bar.update(len(chunk))
        if not frames:
            raise InputError(f"{folder}: none of the {len(paths)} images could be read")
        files.close()
        bar.finish()
        stats = session.stats
    except BaseException:
        files.discard()
        raise
    finally:
        bar.close()
        session.close(raise_errors=False)

    wall = time.perf_counter() - t_start
    summary = Summary(
        model=model_entry(parser),
        options=options_entry(options, outputs),
        class_names=list(parser.config.class_names),
        input={"kind": "image" if single else "images", "path": str(paths[0] if single else folder), "count": len(paths)},
        frames_expected=len(paths),
        frames_processed=len(frames),
        frames_skipped=len(skipped),
        frames_dropped=0,
        skipped=skipped,
        truncated=False,
        truncation=None,
        timings_s={"wall": round(wall, 4), "inference": round(stats.inference_s, 4), "postprocess": round(stats.postprocess_s, 4)},
        frames=frames,
    )
    source = paths[0] if single else folder
    return commit_run(out, files, summary, write_summary="summary" in outputs, overwrite=options.overwrite, source=source)  # type: ignore[arg-type]
