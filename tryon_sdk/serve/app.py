"""The Starlette app of ``tryon-sdk serve``: the page, the HTTP API and the shared state behind them.

Routes (see ``docs/serve.md``)::

    GET  /                          the page (static/index.html, app.js, style.css; nothing external)
    GET  /api/info                  model, classes and colours, regions, limits, default options
    POST /api/parse                 multipart ``file`` (a photo) + options -> labels, overlay, alphas, ...
    POST /api/recolor               ``id`` (of a parsed photo), ``region``, ``color`` -> recolour + alpha
    POST /api/jobs                  multipart ``file`` (a video) + options -> 202 {id, status_url}
    GET  /api/jobs/{id}             status and progress; the files once done (422 if the video was damaged)
    GET  /api/jobs/{id}/files/NAME  overlay.mp4, masks.zip

Every error is JSON ``{"error": message, "code": code}`` with a 4xx status
(:mod:`tryon_sdk.serve.errors`). The model is loaded once by the caller and used only on
the :class:`~tryon_sdk.serve.worker.ParseWorker` thread; uploads live in a private
temporary folder and are removed once answered.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._version import __version__
from ..errors import ConfigError, InputError, TryOnError
from .errors import DamagedMedia, UnsupportedMedia, http_status
from .jobs import JOB_FILES, JobRunner
from .options import ParseOptions, ServeOptions
from .photo import palette_json, parse_photo, photo_json, recolor_json
from .results import ResultCache
from .uploads import IMAGE, VIDEO, BodyLimit, check_video, receive_upload, sniff
from .worker import ParseWorker

if TYPE_CHECKING:
    from ..parser import Parser

__all__ = ["create_app", "ServerState"]

log = logging.getLogger("tryon_sdk.serve")


class ServerState:
    """What every request shares: options, the parse worker, parsed photos, video jobs, the temporary folder."""

    def __init__(self, parser: "Parser", options: ServeOptions) -> None:
        self.options = options
        self.tmpdir = Path(tempfile.mkdtemp(prefix="tryon-serve-"))
        self.worker = ParseWorker(parser)
        self.cache = ResultCache(int(options.cache_mb * 2**20))
        self.jobs = JobRunner(self.worker, options, self.tmpdir)
        self._closed = False

    @property
    def parser(self) -> "Parser":
        return self.worker.parser

    def close(self) -> None:
        """Stop the jobs and the worker; remove every temporary file."""
        if self._closed:
            return
        self._closed = True
        self.jobs.close()
        self.worker.close()
        self.cache.clear()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _state(request: Request) -> ServerState:
    return request.app.state.server


# --------------------------------------------------------------------------- pages
def _static_text(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


async def index(request: Request) -> Response:
    return HTMLResponse(_static_text("index.html"), headers={"Cache-Control": "no-store"})


async def info(request: Request) -> Response:
    from ..regions import AGNOSTIC_CATEGORIES, REGIONS

    state = _state(request)
    parser = state.parser
    config = parser.config
    opts = state.options
    return JSONResponse(
        {
            "version": __version__,
            "model": {
                "architecture": config.architecture,
                "backbone": config.backbone,
                "input_size": list(config.input_size),
                "runtime": getattr(parser.engine, "name", type(parser.engine).__name__),
                "device": str(parser.device),
            },
            "classes": palette_json(tuple(config.class_names)),
            "regions": list(REGIONS),
            "agnostic": list(AGNOSTIC_CATEGORIES),
            "defaults": asdict(ParseOptions()),
            "limits": {
                "max_upload_mb": opts.max_upload_mb,
                "max_video_frames": opts.max_video_frames,
                "max_pixels": opts.max_pixels,
            },
        }
    )


# --------------------------------------------------------------------------- photos
async def parse(request: Request) -> Response:
    from ..video.io.reader import read_image

    state = _state(request)
    t0 = time.perf_counter()
    with await receive_upload(request, state.tmpdir, state.options.max_upload_bytes) as upload:
        options = ParseOptions.from_fields(upload.fields)
        if sniff(upload, state.options.max_pixels) == VIDEO:
            raise UnsupportedMedia(f"{upload.filename} is a video: POST it to /api/jobs (a background job)")
        t_upload = time.perf_counter()

        def work() -> dict[str, Any]:
            try:
                image = read_image(upload.path)
            except InputError as exc:
                raise DamagedMedia(f"{upload.filename}: {str(exc).split(': ', 1)[-1]}") from None
            t_parse = time.perf_counter()
            result = parse_photo(state.parser, image, options)
            t_json = time.perf_counter()
            body = photo_json(state.cache.put(result), result, options)
            body["timings_ms"] = {"parse": round(1000 * (t_json - t_parse), 1), "encode": round(1000 * (time.perf_counter() - t_json), 1)}
            return body

        body = await state.worker.call(work)
    body["timings_ms"].update(upload=round(1000 * (t_upload - t0), 1), total=round(1000 * (time.perf_counter() - t0), 1))
    return JSONResponse(body)


async def recolor(request: Request) -> Response:
    from ..compositor import parse_color
    from ..regions import region_classes

    state = _state(request)
    async with request.form(max_files=0, max_fields=16) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    defaults = ParseOptions()
    result_id = fields.get("id", "").strip()
    if not result_id:
        raise ConfigError("no id: send the id that POST /api/parse answered")
    region = fields.get("region", defaults.region).strip()
    color = fields.get("color", defaults.color).strip()
    region_classes(region)
    parse_color(color)
    try:
        feather = float(fields.get("feather", defaults.feather))
    except ValueError:
        raise ConfigError(f"feather must be a number, got {fields.get('feather')!r}") from None
    ParseOptions(region=region, color=color, feather=feather)  # the same checks as /api/parse
    result = state.cache.get(result_id)
    body = await state.worker.call(recolor_json, result_id, result, region, color, feather)
    return JSONResponse(body)


# --------------------------------------------------------------------------- videos
async def create_job(request: Request) -> Response:
    state = _state(request)
    with await receive_upload(request, state.tmpdir, state.options.max_upload_bytes) as upload:
        options = ParseOptions.from_fields(upload.fields)
        if sniff(upload, state.options.max_pixels) == IMAGE:
            raise UnsupportedMedia(f"{upload.filename} is a photo: POST it to /api/parse")
        info = await run_in_threadpool(check_video, upload)
        job = state.jobs.start(upload, info, options)
    status_url = f"/api/jobs/{job.id}"
    return JSONResponse({**job.to_json(), "status_url": status_url}, status_code=202, headers={"Location": status_url})


async def job_status(request: Request) -> Response:
    job = _state(request).jobs.get(request.path_params["job_id"])
    body = job.to_json()
    return JSONResponse(body, status_code=job.http_status if body["status"] == "failed" else 200)


async def job_file(request: Request) -> Response:
    state = _state(request)
    job_id, name = request.path_params["job_id"], request.path_params["name"]
    path = state.jobs.file(job_id, name)
    job = state.jobs.get(job_id)
    stem = Path(job.filename).stem or "video"
    disposition = "inline" if name.startswith("overlay.") else "attachment"
    return FileResponse(path, media_type=JOB_FILES[name], filename=f"{stem}-{name}", content_disposition_type=disposition)


# --------------------------------------------------------------------------- errors
def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status)


async def on_tryon_error(request: Request, exc: Exception) -> Response:
    status, code = http_status(exc)  # type: ignore[arg-type]
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    return _error(status, code, str(exc))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    names = {404: "not_found", 405: "method_not_allowed"}
    message = {404: f"no such page or endpoint: {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
    status = exc.status_code
    return _error(status, names.get(status, "bad_request"), message.get(status, str(exc.detail)))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.url.path)
    return _error(500, "error", f"the server failed: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- the app
def create_app(parser: "Parser", options: ServeOptions | None = None) -> Starlette:
    """The web demo for ``parser`` (loaded once, shared by every request). Close it by leaving its
    lifespan (``uvicorn`` does; ``with TestClient(app)`` does) or with ``app.state.server.close()``."""
    options = options or ServeOptions()
    state = ServerState(parser, options)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(state.close)

    static = StaticFiles(packages=[(__package__, "static")])
    routes = [
        Route("/", index),
        Route("/api/info", info),
        Route("/api/parse", parse, methods=["POST"]),
        Route("/api/recolor", recolor, methods=["POST"]),
        Route("/api/jobs", create_job, methods=["POST"]),
        Route("/api/jobs/{job_id}", job_status),
        Route("/api/jobs/{job_id}/files/{name}", job_file),
        Mount("/static", app=static, name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimit, max_bytes=options.max_upload_bytes)],
        exception_handlers={TryOnError: on_tryon_error, HTTPException: on_http_error, Exception: on_unexpected},
        lifespan=lifespan,
    )
    app.state.server = state
    return app
