"""The web demo's typed input errors, and the HTTP status each one answers with.

Every error the app answers is JSON ``{"error": message, "code": code}`` with a 4xx status
(5xx only for a bug); these classes say which. They are :class:`~tryon_sdk.errors.InputError`
subclasses, so code that catches the SDK's errors catches them too.
"""

from __future__ import annotations

from ..errors import CheckpointError, ConfigError, InputError, TryOnError, VideoError

__all__ = [
    "UploadError",
    "MissingUpload",
    "EmptyUpload",
    "UploadTooLarge",
    "UnsupportedMedia",
    "DamagedMedia",
    "NotFound",
    "http_status",
]


class UploadError(InputError):
    """An upload the app cannot use; ``status`` is its HTTP status, ``code`` a short name for clients."""

    status = 400
    code = "bad_upload"


class MissingUpload(UploadError):
    """The request has no ``file`` part."""

    code = "missing_file"


class EmptyUpload(UploadError):
    """The ``file`` part is empty."""

    code = "empty_file"


class UploadTooLarge(UploadError):
    """The request body is larger than the server's ``--max-upload-mb``."""

    status = 413
    code = "too_large"


class UnsupportedMedia(UploadError):
    """Neither an image nor a video the SDK can read (or the wrong one of the two for the endpoint)."""

    status = 415
    code = "unsupported_media"


class DamagedMedia(UploadError):
    """An image or video that opens but is incomplete: cut off or damaged."""

    status = 422
    code = "damaged_media"


class NotFound(UploadError):
    """An unknown (or expired) result or job id."""

    status = 404
    code = "not_found"


def http_status(exc: TryOnError) -> tuple[int, str]:
    """``(status, code)`` for any SDK error the app lets through."""
    if isinstance(exc, UploadError):
        return exc.status, exc.code
    if isinstance(exc, ConfigError):
        return 400, "bad_option"
    if isinstance(exc, InputError):
        return 422, "bad_input"
    if isinstance(exc, VideoError):
        return 422, "bad_video"
    if isinstance(exc, CheckpointError):
        return 500, "model_error"
    return 500, "error"
