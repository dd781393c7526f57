"""The people stage's bundled models: MediaPipe's selfie segmenters and BlazeFace, on ONNX Runtime.

The files live in ``tryon_sdk/weights/people`` with the manifest ``models.json`` (source, SHA-256, the
max abs difference to the TFLite original measured at conversion, see ``training/convert_mediapipe.py``)
and MediaPipe's Apache-2.0 ``LICENSE``. :func:`open_session` checks a file against the manifest before
ONNX Runtime reads it: a missing, truncated or tampered file is a :class:`CheckpointError` that names it.
ONNX files hold no code; nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..engines.onnx_engine import import_onnxruntime
from ..errors import CheckpointError, ConfigError

__all__ = ["PEOPLE_MODELS_DIR", "MODEL_NAMES", "model_info", "open_session", "OnnxModel"]

#: Folder of the bundled person and face models.
PEOPLE_MODELS_DIR = Path(__file__).resolve().parents[1] / "weights" / "people"
MANIFEST = "models.json"
#: Names of the bundled people models.
MODEL_NAMES = ("selfie_segmentation", "selfie_segmentation_landscape", "face_detection_short_range")


@lru_cache(maxsize=4)
def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"people model manifest {path} is missing or unreadable: {exc}") from None


def model_info(name: str, folder: Path = PEOPLE_MODELS_DIR) -> dict[str, Any]:
    """The manifest entry of a bundled people model (file, sha256, input shape and range)."""
    if name not in MODEL_NAMES:
        raise ConfigError(f"unknown people model {name!r}; valid: {', '.join(MODEL_NAMES)}")
    entry = _manifest(folder).get(name)
    if entry is None:
        raise CheckpointError(f"{folder / MANIFEST} has no entry for {name!r}")
    return entry


@lru_cache(maxsize=8)
def _verified_bytes(path: Path, sha256: str, mtime_ns: int, size: int) -> bytes:
    data = path.read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise CheckpointError(
            f"people model {path} fails its checksum (found {found[:12]}…, expected {sha256[:12]}…): "
            "the file is truncated or was changed; reinstall tryon-sdk"
        )
    return data


def open_session(name: str, *, threads: int | None = None, folder: Path = PEOPLE_MODELS_DIR) -> Any:
    """An ONNX Runtime CPU session of a bundled people model, checked against its SHA-256 first."""
    entry = model_info(name, folder)
    path = folder / entry["file"]
    try:
        st = path.stat()
    except OSError:
        raise CheckpointError(f"people model {path} is missing; reinstall tryon-sdk") from None
    data = _verified_bytes(path, entry["sha256"], st.st_mtime_ns, st.st_size)
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # the converted graphs keep a few unused constants ONNX Runtime warns about
    opts.intra_op_num_threads = int(threads or min(2, os.cpu_count() or 1))
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own pybind error classes
        raise CheckpointError(f"cannot load people model {path}: {exc}".strip()) from exc


class OnnxModel:
    """One NHWC float32 input, named outputs: a thin, typed wrapper of a bundled people model's session."""

    def __init__(self, name: str, *, threads: int | None = None) -> None:
        self.name = name
        info = model_info(name)
        self.input_shape: tuple[int, int, int, int] = tuple(info["input_shape_nhwc"])  # type: ignore[assignment]
        self.input_range: tuple[float, float] = tuple(info["input_range"])  # type: ignore[assignment]
        self.session = open_session(name, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def size(self) -> tuple[int, int]:
        """Input ``(height, width)``."""
        return self.input_shape[1], self.input_shape[2]

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """``batch``: ``B x h x w x 3`` float32 in :attr:`input_range`; returns outputs by name."""
        outs: dict[str, list[np.ndarray]] = {n: [] for n in self.output_names}
        for x in batch:  # the converted graphs have a fixed batch of one
            for n, v in zip(self.output_names, self.session.run(None, {self._input: x[None]})):
                outs[n].append(v[0])
        return {n: np.stack(v) for n, v in outs.items()}
