"""Streaming sessions (IMAGE / VIDEO / LIVE_STREAM): :class:`VideoSession`, its options and its per-frame stages."""

from .options import ResultCallback, RunningMode, StreamOptions, StreamStats
from .session import VideoSession, open_stream

__all__ = ["ResultCallback", "RunningMode", "StreamOptions", "StreamStats", "VideoSession", "open_stream"]
