"""Offline parsing of a video, an image or a folder of images into files.

A video goes through a bounded job (:mod:`tryon_sdk.video.jobs.job`, stages in
:mod:`tryon_sdk.video.jobs.stages`), one thread per stage::

    Decode --(frames)--> ParseFrames: engine batches, smoothing, argmax, limb consistency
        (the stage's own VideoSession) --(results)--> Render: labels, alphas and the overlay
        at the frame's size, all uint8 --(rendered frames)--> Write: overlay / labels / alpha encoders

so memory stays flat however long the video is, and bounded however large
its frames are: full-size ``C x H x W`` float probabilities exist only in the
parse stage (two engine calls' worth, at most :data:`PROBABILITY_BYTES`) and,
when alphas are asked for, in the results waiting for the render stage (at most
an eighth of :data:`PROBABILITY_BYTES`, or one frame's); the other queues hold uint8
frames, bounded by :data:`QUEUE_BYTES`, and every queue by
:attr:`PipelineOptions.queue_size` frames. Frames with more than
:attr:`PipelineOptions.work_pixels` pixels (default 1280x720) are parsed at a
working size with that many pixels (the network itself sees ~300 px): labels
are scaled back up to the frame (nearest), alphas bilinearly, and the overlay
is drawn on the full frame. Measured peak RSS with the default outputs
(``benchmarks/bench_memory.py``): see the README. Images are parsed by
:mod:`tryon_sdk.video.jobs.images`; outputs are committed by :mod:`tryon_sdk.video.jobs.commit`
(all at once; on an error or Ctrl-C nothing is left half-written and older
outputs stay as they were).

**Incomplete input.** A video that ends before what its container promised
(cut off, damaged at the tail; see :class:`~tryon_sdk.video.io.reader.VideoReader`)
is parsed as far as it goes and its summary says ``"truncated": true`` with
``frames_expected`` and ``frames_processed``. Such a partial result never
replaces a complete earlier one: when the folder holds a result whose summary
does not say it was truncated (or outputs without a summary), the partial one
is written to ``<outdir>/incomplete/`` instead, unless ``overwrite`` is set.

============  ==========================================  =============================
output        video input                                 image / folder input
============  ==========================================  =============================
overlay       ``overlay.mp4`` (H.264 yuv420p, input pts,   ``overlay.png`` / ``overlay/``
              audio copied); named after the compositor:
              ``recolor.mp4`` with the recolor compositor
labels        ``labels.mkv`` (FFV1 gray8, ids 0..17) or    ``labels.png`` / ``labels/``
              ``labels/`` PNG sequence
alpha         ``alpha_<region>.mkv`` (gray8, 255 = 1.0)    ``alpha_<region>.png`` / folder
              or ``alpha_<region>/`` PNG sequence
summary       ``summary.json``                             ``summary.json``
============  ==========================================  =============================
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Iterator

from ...errors import InputError, VideoError
from ...outputs import FrameSink, PendingOutput
from ...parser import Parser
from ...result import ParseResult
from .commit import RunOutputs, commit_run, prepare_output_dir
from .images import run_images
from ..io.reader import DecodedFrame, VideoReader, is_image_path, list_images
from ..io.writers import GrayVideoWriter, H264Writer, PngSequenceWriter
from .job import batched, run_stages
from .options import (
    INCOMPLETE_DIR,
    MASK_FORMATS,
    OUTPUT_KINDS,
    PROBABILITY_BYTES,
    QUEUE_BYTES,
    WORK_PIXELS,
    PipelineOptions,
    engine_batch,
    queue_depth,
    work_size,
)
from .progress import progress
from .stages import Decode, ParseFrames, Render, Write
from ..stream import RunningMode, VideoSession
from .summary import Summary, model_entry, options_entry, summary_json

__all__ = [
    "PipelineOptions",
    "OUTPUT_KINDS",
    "MASK_FORMATS",
    "WORK_PIXELS",
    "INCOMPLETE_DIR",
    "PROBABILITY_BYTES",
    "QUEUE_BYTES",
    "run_pipeline",
    "prepare_output_dir",
    "iter_video_results",
    "summary_json",
    "work_size",
]

def run_pipeline(
    parser: Parser,
    source: str | os.PathLike,
    outdir: str | os.PathLike,
    options: PipelineOptions | None = None,
) -> dict[str, Any]:
    """Parse ``source`` (video file, image, or folder of images) into ``outdir``; returns the summary.

    Raises :class:`VideoError` / :class:`InputError` / :class:`ConfigError` when the job cannot be done;
    undecodable frames and unreadable images are skipped and counted instead. A video that turns
    out to be incomplete is parsed as far as it goes (``summary["truncated"]``; see the module
    docstring for where its result goes); ``summary["output_dir"]`` says where the files are.
    """
    options = options or PipelineOptions()
    options.validate()
    src = Path(source)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    out = prepare_output_dir(outdir)
    if src.is_dir():
        return run_images(parser, list_images(src), out, options, folder=src)
    if is_image_path(src):
        return run_images(parser, [src], out, options, folder=None)
    return _run_video(parser, src, out, options)


def _open_sinks(
    files: RunOutputs, src: Path, out: Path, options: PipelineOptions, outputs: tuple[str, ...], info: Any, num_classes: int
) -> Write:
    """The sink stage: encoders writing ``files`` under temporary names (added to ``files`` as they open)."""
    regions = options.regions if "alpha" in outputs else ()

    def gray_output(name: str) -> FrameSink:
        if options.mask_format == "video":
            p = PendingOutput(out / f"{name}.mkv")
            w: FrameSink = GrayVideoWriter(p.tmp, time_base=info.time_base, fps=info.fps)
        else:
            p = PendingOutput(out / name, is_dir=True)
            w = PngSequenceWriter(p.tmp)
        files.add(p, w)
        return w

    overlay_w = labels_w = None
    alpha_w: dict[str, FrameSink] = {}
    if "overlay" in outputs:
        p = PendingOutput(out / f"{options.overlay_stem()}.mp4")
        overlay_w = H264Writer(
            p.tmp,
            fps=info.fps,
            time_base=info.time_base,
            audio_from=src if info.has_audio else None,
            audio_start_s=info.start_time_s + options.start if options.start else None,
            crf=options.crf,
            preset=options.preset,
        )
        files.add(p, overlay_w)
        files.names["overlay"] = p.final.name
    if "labels" in outputs:
        labels_w = gray_output("labels")
        files.names["labels"] = files.pending[-1].final.name
    for name in regions:
        alpha_w[name] = gray_output(f"alpha_{name}")
        files.names.setdefault("alpha", {})[name] = files.pending[-1].final.name
    return Write(overlay_w, labels_w, alpha_w, num_classes)


def _run_video(parser: Parser, src: Path, out: Path, options: PipelineOptions) -> dict[str, Any]:
    t_start = time.perf_counter()
    outputs = options.resolved_outputs()
    reader = VideoReader(src, start=options.start, end=options.end, max_frames=options.max_frames)
    info = reader.info
    num_classes = parser.config.num_classes
    need_probs = "alpha" in outputs
    regions = options.regions if need_probs else ()

    # Memory: every queue sized by what its items weigh at this frame size.
    full = (info.height, info.width)
    work = work_size(full, options.work_pixels)
    frame_bytes = full[0] * full[1] * 3 + (work[0] * work[1] * 3 if work != full else 0)
    prob_bytes = num_classes * work[0] * work[1] * 4
    rendered_bytes = full[0] * full[1] * (3 * ("overlay" in outputs) + 1 + len(regions))
    most = options.queue_size or 2 * engine_batch(options.batch_size, prob_bytes)
    depths = [
        queue_depth(frame_bytes, QUEUE_BYTES, most),  # decoded frames
        # results: with alphas asked for, each keeps its probabilities until it is rendered
        queue_depth(prob_bytes, PROBABILITY_BYTES // 8, most) if need_probs else queue_depth(frame_bytes, QUEUE_BYTES, most),
        queue_depth(rendered_bytes, QUEUE_BYTES, most),  # rendered frames
    ]
    bar = progress(options.progress, reader.frames_expected, src.name)
    stream = options.stream_options(RunningMode.VIDEO, return_probabilities=need_probs, compositor=options.compositor)
    decode = Decode(reader, options.work_pixels)
    parse = ParseFrames(parser, stream, lambda image: engine_batch(options.batch_size, num_classes * image.shape[0] * image.shape[1] * 4), bar)
    render = Render(regions, options.compositor, "overlay" in outputs)
    files = RunOutputs()
    try:  # from the first file opened on, any exit but success removes every file of this run
        write = _open_sinks(files, src, out, options, outputs, info, num_classes)
        run_stages(decode, [parse, render, write], depths, name="tryon-parse")
        if reader.frames_read == 0:
            where = " in the selected range" if (options.start or options.end) else ""
            raise VideoError(f"{src}: no decodable video frames{where}")
        files.close()
        bar.finish()
    except BaseException:
        files.discard()
        raise
    finally:
        bar.close()

    stats = parse.stats
    wall = time.perf_counter() - t_start
    summary = Summary(
        model=model_entry(parser),
        options=options_entry(options, outputs),
        class_names=list(parser.config.class_names),
        input={"kind": "video", **info.to_dict()},
        work_size=list(work),
        frames_expected=reader.frames_expected,
        frames_processed=len(write.frames),
        frames_skipped=reader.skipped_count,
        frames_dropped=stats.frames_dropped if stats else 0,
        skipped=reader.skipped,
        truncated=reader.truncated,
        truncation=reader.truncation,
        timings_s={
            "wall": round(wall, 4),
            "decode": round(decode.seconds, 4),
            "inference": round(stats.inference_s if stats else 0.0, 4),
            "postprocess": round(stats.postprocess_s if stats else 0.0, 4),
            "render": round(render.seconds, 4),
            "encode": round(write.seconds, 4),
        },
        fps=round(len(write.frames) / wall, 3) if wall > 0 else None,
        frames=write.frames,
    )
    return commit_run(out, files, summary, write_summary="summary" in outputs, overwrite=options.overwrite, source=src)


def iter_video_results(
    parser: Parser, source: str | os.PathLike, options: PipelineOptions | None = None
) -> Iterator[tuple[DecodedFrame, ParseResult]]:
    """Decode and parse a video frame by frame without writing anything (for evaluation and scripts)."""
    options = options or PipelineOptions()
    options.validate()
    reader = VideoReader(source, start=options.start, end=options.end, max_frames=options.max_frames)
    with VideoSession(parser, options.stream_options(RunningMode.VIDEO)) as session:
        for batch in batched(reader, lambda _: options.batch_size):
            yield from zip(batch, session.parse_many([f.image for f in batch], [f.timestamp_ms for f in batch]))
