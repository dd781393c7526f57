"""The ``TryOnError`` family: every error the SDK raises on purpose.

:class:`InputError` and :class:`ConfigError` also derive from ``ValueError``,
so a caller's ``except ValueError`` keeps catching bad values. File errors
(:class:`CheckpointError`, :class:`VideoError`, :class:`DataError`) derive
from :class:`TryOnError` only, not from ``OSError``: catch them as
``TryOnError``; their message carries what the system reported.
"""

from __future__ import annotations

__all__ = [
    "TryOnError",
    "InputError",
    "ConfigError",
    "CheckpointError",
    "VideoError",
    "DataError",
    "TryOnWarning",
]


class TryOnError(Exception):
    """Base class of every error raised by tryon_sdk."""


class InputError(TryOnError, ValueError):
    """An image, frame or array has the wrong type, shape, dtype or values."""


class ConfigError(TryOnError, ValueError):
    """An option, name or combination of settings is not valid."""


class CheckpointError(TryOnError):
    """A checkpoint is missing, corrupt, unsafe or does not match the model."""


class VideoError(TryOnError):
    """A video cannot be opened, decoded or written."""


class DataError(TryOnError):
    """A training dataset is missing or does not have the expected schema."""


class TryOnWarning(UserWarning):
    """An input was accepted after a conversion the caller should know about."""
