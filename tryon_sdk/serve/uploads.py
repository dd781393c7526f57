"""Uploads: the request body limit, the uploaded file on disk, and what kind of media it is.

* :class:`BodyLimit` (ASGI middleware) answers 413 for a declared ``Content-Length`` above the
  limit before reading anything, and stops a body that grows past it while it is read.
* :func:`receive_upload` saves the ``file`` part under the server's temporary folder (its
  original suffix kept: decoders look at it); the caller removes it once it has answered
  (:class:`Upload` is a context manager).
* :func:`sniff` tells an image from a video from anything else; :func:`check_video` refuses a
  video that is plainly cut off before any work is queued for it (a scan of its packets, no
  decoding: the job's own decoder catches the rest, e.g. a last packet cut in half).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ..errors import VideoError
from .errors import DamagedMedia, EmptyUpload, MissingUpload, UnsupportedMedia, UploadTooLarge

if TYPE_CHECKING:
    from starlette.requests import Request

    from ..video.io.reader import VideoInfo

__all__ = ["BodyLimit", "Upload", "receive_upload", "sniff", "check_video", "image_size", "too_large_message"]

IMAGE, VIDEO = "image", "video"
_CHUNK = 1 << 20


def too_large_message(limit_bytes: int) -> str:
    return f"the upload is larger than this server's limit of {limit_bytes / 2**20:g} MB (tryon-sdk serve --max-upload-mb)"


class BodyLimit:
    """ASGI middleware: request bodies of at most ``max_bytes`` (413 JSON above it)."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            body = json.dumps({"error": too_large_message(self.max_bytes), "code": UploadTooLarge.code}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
            await send({"type": "http.response.start", "status": UploadTooLarge.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise UploadTooLarge(too_large_message(self.max_bytes))
            return message

        await self.app(scope, limited, send)


@dataclass
class Upload:
    """An uploaded file saved on disk, with the request's other form fields; removed on ``close``."""

    path: Path
    filename: str
    content_type: str
    size: int
    fields: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Upload":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _suffix(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 6 else ""


async def receive_upload(request: "Request", tmpdir: Path, max_bytes: int) -> Upload:
    """The request's ``file`` part, saved under ``tmpdir``, and its text fields.

    Raises :class:`MissingUpload`, :class:`EmptyUpload` or :class:`UploadTooLarge`.
    """
    from starlette.datastructures import UploadFile

    async with request.form(max_files=1, max_fields=64) as form:
        part = form.get("file")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not isinstance(part, UploadFile):
            raise MissingUpload("no file: send it as the multipart form field 'file'")
        filename = Path(part.filename or "upload").name
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=_suffix(filename), dir=tmpdir)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                await part.seek(0)
                shutil.copyfileobj(part.file, out, _CHUNK)
                size = out.tell()
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    upload = Upload(path, filename, part.content_type or "", size, fields)
    if size == 0:
        upload.close()
        raise EmptyUpload(f"{filename}: the file is empty")
    if size > max_bytes:
        upload.close()
        raise UploadTooLarge(too_large_message(max_bytes))
    return upload


def image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from an image file's header, ``None`` when Pillow does not know the format."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def sniff(upload: Upload, max_pixels: int) -> str:
    """``"image"`` or ``"video"``; :class:`UnsupportedMedia` for anything else, :class:`UploadTooLarge` above ``max_pixels``."""
    size = image_size(upload.path)
    if size is not None:
        _check_pixels(upload.filename, size, max_pixels)
        return IMAGE
    from ..video.io.reader import probe_video

    try:
        info = probe_video(upload.path)
    except VideoError:
        raise UnsupportedMedia(
            f"{upload.filename}: not an image or a video that can be read (photos: JPEG, PNG, WebP, ...; videos: MP4, MOV, WebM, MKV, ...)"
        ) from None
    _check_pixels(upload.filename, (info.width, info.height), max_pixels)
    return VIDEO


def _check_pixels(name: str, size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w * h > max_pixels:
        raise UploadTooLarge(
            f"{name}: {w}x{h} is {w * h / 1e6:.1f} megapixels; this server takes up to {max_pixels / 1e6:g} (tryon-sdk serve --max-pixels)"
        )


def check_video(upload: Upload) -> "VideoInfo":
    """The video's metadata; :class:`DamagedMedia` when its packets show it is cut off or damaged."""
    import av

    from ..video.io.reader import probe_video

    name = upload.filename
    try:
        info = probe_video(upload.path)
    except VideoError as exc:
        raise UnsupportedMedia(f"{name}: {str(exc).split(': ', 1)[-1]}") from None
    count, last_end, error = 0, None, None
    with av.open(str(upload.path)) as container:
        stream = container.streams.video[0]
        try:
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                count += 1
                if packet.pts is not None:
                    end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                    last_end = end if last_end is None else max(last_end, end)
        except av.error.FFmpegError as exc:
            error = type(exc).__name__
        stream_duration = float(stream.duration * stream.time_base) if stream.duration else None
    reasons = []
    if error:
        reasons.append(f"the container cannot be read after {count} frames ({error})")
    expected = info.frame_count
    if expected and {"mov", "mp4"} & set(info.container.split(",")) and count < expected - max(2, 0.005 * expected):
        reasons.append(f"the file holds {count} of the {expected} frames its container lists")
    duration = stream_duration if stream_duration is not None else (None if info.has_audio else info.duration_s)
    if duration and last_end is not None and not reasons:
        interval = float(1 / info.fps) if info.fps and float(info.fps) <= 240 else 0.04
        reached = last_end - info.start_time_s
        if duration - reached > max(2.5 * interval, 0.25):
            reasons.append(f"the file ends at {reached:.2f} s of {duration:.2f} s")
    if count == 0:
        reasons.append("it holds no video frames")
    if reasons:
        raise DamagedMedia(f"{name} is incomplete or damaged ({'; '.join(reasons)}); upload the whole file")
    return info
