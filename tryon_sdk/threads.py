"""Sane CPU threading, set when the SDK is imported; a user's explicit settings win.

PyTorch's OpenMP pool spins idle threads by default. On the few cores of a
laptop or a shared machine, the spinning threads steal the CPU from video
decoding, post-processing and encoding in the same process and made small
operations up to 100x slower (training steps 3-7x). OpenMP reads
``OMP_WAIT_POLICY`` once, when torch loads it, so the SDK sets
``OMP_WAIT_POLICY=PASSIVE`` before it imports torch, unless the variable is
already set or torch was imported first (then the user's runtime stays as it is).
ONNX Runtime sessions made by the SDK turn spinning off the same way
(:class:`~tryon_sdk.engines.onnx_engine.OnnxEngine`).

Several parsers in one machine (``tryon-sdk batch --workers N``) must share the
cores, not each take all of them: :func:`worker_threads` says how many threads
each of ``N`` worker processes gets, and :func:`limit_threads` applies that in a
worker (torch, OpenCV, and ONNX Runtime sessions made afterwards, through
:data:`THREADS_ENV`).
"""

from __future__ import annotations

import os
import sys

__all__ = [
    "configure_cpu_threads",
    "PASSIVE_SET_BY_SDK",
    "THREADS_ENV",
    "usable_cores",
    "worker_threads",
    "env_threads",
    "limit_threads",
]

#: Intra-op threads of the ONNX Runtime sessions the SDK makes (unset: ONNX Runtime's default, all cores).
THREADS_ENV = "TRYON_NUM_THREADS"

PASSIVE_SET_BY_SDK = False


def configure_cpu_threads() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` if nobody chose a policy and torch is not loaded yet; True if it did."""
    global PASSIVE_SET_BY_SDK
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    PASSIVE_SET_BY_SDK = True
    return True


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def worker_threads(workers: int, cores: int | None = None) -> int:
    """Threads per worker so that ``workers`` processes do not oversubscribe ``cores`` (at least 1)."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, workers))


def env_threads() -> int | None:
    """:data:`THREADS_ENV` as a positive int, or ``None`` when unset or not a positive number."""
    value = os.environ.get(THREADS_ENV, "").strip()
    try:
        n = int(value)
    except ValueError:
        return None
    return n if n > 0 else None


def limit_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in this process: torch's pool, OpenCV's, and ONNX Runtime sessions made later."""
    threads = max(1, int(threads))
    os.environ[THREADS_ENV] = str(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
