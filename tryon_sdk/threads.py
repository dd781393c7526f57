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
"""

from __future__ import annotations

import os
import sys

__all__ = ["configure_cpu_threads", "PASSIVE_SET_BY_SDK"]

PASSIVE_SET_BY_SDK = False


def configure_cpu_threads() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` if nobody chose a policy and torch is not loaded yet; True if it did."""
    global PASSIVE_SET_BY_SDK
    if "OMP_WAIT_POLICY" in os.environ or "torch" in sys.modules:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    PASSIVE_SET_BY_SDK = True
    return True
