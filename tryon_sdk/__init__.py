"""tryon_sdk: clean, stable body-and-garment masks for virtual try-on."""

from .threads import configure_cpu_threads

configure_cpu_threads()  # before torch loads OpenMP (see tryon_sdk.threads)

from ._version import __version__  # noqa: E402
from . import errors as _errors  # noqa: E402
from .errors import CheckpointError, ConfigError, DataError, InputError, TryOnError, TryOnWarning, VideoError  # noqa: E402,F401
from .labels import ATR_CLASSES, FLIP_PAIRS, NUM_CLASSES, PALETTE  # noqa: E402

__all__ = ["__version__", "ATR_CLASSES", "FLIP_PAIRS", "NUM_CLASSES", "PALETTE", *_errors.__all__]

from .config import ModelConfig  # noqa: E402
from .parser import Parser  # noqa: E402
from .result import ParseResult  # noqa: E402
from .regions import REGIONS  # noqa: E402
from .video.stream import RunningMode, StreamOptions, VideoSession, open_stream  # noqa: E402

__all__ += ["ModelConfig", "Parser", "ParseResult", "REGIONS", "RunningMode", "StreamOptions", "VideoSession", "open_stream"]

# every options record of the SDK, frozen and checked on construction
from .agnostic import AgnosticOptions  # noqa: E402
from .batch.options import BatchOptions  # noqa: E402
from .engines.options import EngineOptions  # noqa: E402
from .limbs import LimbOptions  # noqa: E402
from .people.facing import FacingOptions  # noqa: E402
from .people.person import PeopleOptions  # noqa: E402
from .serve.options import ServeOptions  # noqa: E402
from .video.jobs.options import PipelineOptions  # noqa: E402
from .video.temporal.options import SmoothingOptions  # noqa: E402
from .webcam.options import DemoOptions  # noqa: E402

__all__ += [
    "AgnosticOptions", "BatchOptions", "DemoOptions", "EngineOptions", "FacingOptions", "LimbOptions", "PeopleOptions",
    "PipelineOptions", "ServeOptions", "SmoothingOptions",
]
