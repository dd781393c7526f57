"""Video jobs: an uploaded video parsed in the background into an overlay video and a zip of masks.

``POST /api/jobs`` saves the video in the job's own folder and queues the job; one job runs at
a time (decoding and encoding on the job thread, each batch of frames parsed on the shared
:class:`~tryon_sdk.serve.worker.ParseWorker`, so photo requests are served between batches).
While the worker parses a batch, the job thread draws and encodes the one before it.
A job parses the video as ``tryon-sdk parse`` does (a VIDEO session: temporal smoothing and
limb consistency; frames above 1280x720 at a 1280x720-pixel working size) and writes:

* ``overlay.mp4``: H.264 (yuv420p, ``+faststart``; the SDK's :class:`~tryon_sdk.video.io.writers.H264Writer`),
  at the input's timestamps and at the working size, showing the overlay or the recolour
  (``overlay.webm``, VP9, when the request asks for ``video_format=webm``);
* ``masks.zip``: ``labels/NNNNNN.png`` (ids 0..17, 8-bit single channel), ``alpha_<region>/NNNNNN.png``
  (255 = 1.0), ``agnostic_<category>/NNNNNN.png`` (255 = masked) and ``summary.json`` (people per frame).

A video found cut off or damaged while decoding fails the job (its status answers 422) and
leaves no files. Finished jobs keep their files until ``max_jobs`` newer ones have finished
or the server stops; then their folder is removed.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2

from ..errors import TryOnError
from .encode import mask_u8, png_bytes, to_json
from .errors import DamagedMedia, NotFound, http_status
from .options import ParseOptions, ServeOptions
from .photo import session_options, video_compositor

if TYPE_CHECKING:
    from ..result import ParseResult
    from ..video.io.reader import VideoInfo
    from .uploads import Upload
    from .worker import ParseWorker

__all__ = ["VideoJob", "JobRunner", "JOB_FILES"]

#: the files a finished job may have: name -> content type (the overlay in the format asked for, and the zip)
JOB_FILES: dict[str, str] = {"overlay.mp4": "video/mp4", "overlay.webm": "video/webm", "masks.zip": "application/zip"}

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass
class VideoJob:
    """One video job's state (read by status requests while the job thread updates it)."""

    id: str
    filename: str
    folder: Path
    options: ParseOptions
    status: str = QUEUED
    frames_done: int = 0
    frames_total: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    people: list[Any] = field(default_factory=list)
    warning: str | None = None
    error: str | None = None
    code: str | None = None
    http_status: int = 200
    created: float = field(default_factory=time.time)
    seconds: float | None = None

    @property
    def file_names(self) -> tuple[str, str]:
        """This job's files: its overlay video and the zip of masks."""
        return f"overlay.{self.options.video_format}", "masks.zip"

    def to_json(self) -> dict[str, Any]:
        """The answer of ``GET /api/jobs/{id}``."""
        total = self.frames_total
        progress = 1.0 if self.status == DONE else (min(1.0, self.frames_done / total) if total else None)
        out: dict[str, Any] = {
            "id": self.id,
            "filename": self.filename,
            "status": self.status,
            "progress": None if progress is None else round(progress, 4),
            "frames_done": self.frames_done,
            "frames_total": total,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "people": self.people,
            "warning": self.warning,
            "seconds": self.seconds,
            "files": {name: f"/api/jobs/{self.id}/files/{name}" for name in self.file_names} if self.status == DONE else {},
        }
        if self.status == FAILED:
            out.update(error=self.error, code=self.code)
        return out


class JobRunner:
    """Queues video jobs (one at a time) and keeps the finished ones' files."""

    def __init__(self, worker: "ParseWorker", options: ServeOptions, root: Path) -> None:
        self.worker, self.options, self.root = worker, options, root
        self._jobs: dict[str, VideoJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tryon-serve-job")
        self._stopping = threading.Event()

    def start(self, upload: "Upload", info: "VideoInfo", options: ParseOptions) -> VideoJob:
        """Move ``upload`` into a new job's folder and queue the job."""
        import secrets

        job_id = secrets.token_hex(8)
        folder = self.root / f"job-{job_id}"
        folder.mkdir()
        src = folder / f"input{upload.path.suffix}"
        shutil.move(upload.path, src)
        job = VideoJob(job_id, upload.filename, folder, options, width=info.width, height=info.height,
                       fps=round(float(info.fps), 3) if info.fps else None)  # fmt: skip
        with self._lock:
            self._jobs[job_id] = job
        self._pool.submit(self._run, job, src)
        return job

    def get(self, job_id: str) -> VideoJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no video job {job_id!r} here (finished jobs are kept until newer ones replace them)")
        return job

    def file(self, job_id: str, name: str) -> Path:
        """A finished job's file (see :data:`JOB_FILES`)."""
        job = self.get(job_id)
        if name not in job.file_names:
            raise NotFound(f"job {job_id} has no file {name!r}; its files: {', '.join(job.file_names)}")
        if job.status != DONE:
            raise NotFound(f"job {job_id} is {job.status}: its files are ready once it is done")
        return job.folder / name

    def close(self) -> None:
        """Stop the running job at its next batch, drop the queued ones, and remove every job's folder."""
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for job in self._jobs.values():
                shutil.rmtree(job.folder, ignore_errors=True)
            self._jobs.clear()

    # ------------------------------------------------------------------ the job thread
    def _run(self, job: VideoJob, src: Path) -> None:
        t0 = time.perf_counter()
        job.status = RUNNING
        try:
            self._parse_video(job, src)
            job.status = DONE
        except BaseException as exc:  # noqa: BLE001 - every failure becomes the job's answer
            for name in JOB_FILES:
                (job.folder / name).unlink(missing_ok=True)
            job.error = str(exc) if isinstance(exc, TryOnError) else f"the job failed: {type(exc).__name__}: {exc}"
            job.http_status, job.code = http_status(exc) if isinstance(exc, TryOnError) else (500, "error")
            job.status = FAILED
        finally:
            src.unlink(missing_ok=True)
            job.seconds = round(time.perf_counter() - t0, 3)
            self._evict()

    def _evict(self) -> None:
        with self._lock:
            finished = [j for j in self._jobs.values() if j.status in (DONE, FAILED)]
            for job in sorted(finished, key=lambda j: j.created)[: max(0, len(finished) - self.options.max_jobs)]:
                shutil.rmtree(job.folder, ignore_errors=True)
                del self._jobs[job.id]

    def _parse_video(self, job: VideoJob, src: Path) -> None:
        from ..video.jobs.summary import incomplete_note
        from ..video.jobs.job import batched
        from ..video.jobs.options import WORK_PIXELS, work_size
        from ..video.io.reader import VideoReader
        from ..video.jobs.stages import alpha_u8
        from ..compositor import render_frame
        from ..video.stream import RunningMode, open_stream
        from ..video.io.writers import H264Writer

        opts = job.options
        limit = self.options.max_video_frames
        reader = VideoReader(src, max_frames=limit)
        info = reader.info
        job.frames_total = reader.frames_expected
        work_h, work_w = work_size((info.height, info.width), WORK_PIXELS)
        stream = session_options(opts, RunningMode.VIDEO, compositor=video_compositor(opts))
        regions = opts.alpha_regions()
        categories = opts.agnostic_categories()
        frames: list[dict[str, Any]] = []
        overlay = job.folder / job.file_names[0]
        if opts.video_format == "webm":
            from .webm import WebMWriter

            writer: Any = WebMWriter(overlay, fps=info.fps, time_base=info.time_base)
        else:
            writer = H264Writer(overlay, fps=info.fps, time_base=info.time_base, crf=23)
        session = open_stream(self.worker.parser, stream)
        pending: Future | None = None  # the batch on the worker while this thread writes the one before
        try:
            with zipfile.ZipFile(job.folder / "masks.zip", "w", zipfile.ZIP_STORED) as zf:

                def write(batch: list, parsed: Future) -> None:
                    results: list[ParseResult] = parsed.result()
                    for frame, result in zip(batch, results):
                        n = frame.index
                        writer.write(render_frame(stream.compositor, result.image, result), frame.pts)
                        zf.writestr(f"labels/{n:06d}.png", png_bytes(result.labels))
                        for r in regions:
                            zf.writestr(f"alpha_{r}/{n:06d}.png", png_bytes(alpha_u8(result.region(r))))
                        for c in categories:
                            zf.writestr(f"agnostic_{c}/{n:06d}.png", png_bytes(mask_u8(result.agnostic_mask(c))))
                        frames.append({"index": n, "time_s": round(frame.time_s, 6), "people": to_json(list(result.people))})
                    job.people = frames[-1]["people"]
                    job.frames_done += len(batch)

                last: list = []
                for batch in batched(reader, lambda _: self.options.batch_size):
                    if self._stopping.is_set():
                        raise TryOnError("the server is stopping")
                    images = [
                        f.image if (work_h, work_w) == f.image.shape[:2]
                        else cv2.resize(f.image, (work_w, work_h), interpolation=cv2.INTER_AREA)
                        for f in batch
                    ]  # fmt: skip
                    parsed = self.worker.submit(session.parse_many, images, [f.timestamp_ms for f in batch])
                    if pending is not None:
                        write(last, pending)
                    last, pending = batch, parsed
                if pending is not None:
                    write(last, pending)
                    pending = None
                if reader.frames_read == 0:
                    raise DamagedMedia(f"{job.filename}: no decodable video frames")
                if reader.truncated:
                    report = {"frames_processed": reader.frames_read, "frames_expected": reader.frames_expected,
                              "frames_skipped": reader.skipped_count, "truncation": reader.truncation}  # fmt: skip
                    raise DamagedMedia(incomplete_note(job.filename, report) + "; upload the whole file")
                if reader.frames_read >= limit and (info.estimated_frames() or limit + 1) > limit:
                    job.warning = f"parsed the first {limit} frames only (this server's --max-video-frames)"
                job.frames_total = reader.frames_read
                summary = {
                    "input": {"filename": job.filename, **to_json(info.to_dict())},
                    "work_size": [work_h, work_w],
                    "frames": frames,
                    "regions": list(regions),
                    "agnostic": list(categories),
                    "warning": job.warning,
                }
                summary["input"].pop("path", None)
                zf.writestr("summary.json", json.dumps(summary, indent=1))
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            if pending is not None:  # the session is the worker's until its last batch is done
                wait([pending])
            session.close(raise_errors=False)
