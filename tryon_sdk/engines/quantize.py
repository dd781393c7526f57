"""int8 models for CPUs: ONNX Runtime static quantisation, calibrated on real photos.

:func:`quantize_onnx` takes an ONNX file written by
:func:`tryon_sdk.engines.export.export_onnx` and writes a QDQ int8 copy (weights per
channel, activations per tensor) whose ranges come from calibration images
fed through the model's own letterbox (:mod:`tryon_sdk.preprocess`), in both
orientations. The model's config travels in the file's metadata, marked
``precision: int8``, so ``Parser.from_pretrained("model-int8.onnx")`` runs
it like any other ONNX model. Use photos of the kind the model will see (the
training photos of its data split, not the test footage).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from ..config import ModelConfig
from ..errors import CheckpointError, ConfigError, InputError
from ..inputs import to_rgb_uint8
from .onnx_engine import CONFIG_METADATA_KEY, import_onnxruntime, read_onnx_config
from ..outputs import atomic_path
from ..preprocess import Preprocess

__all__ = ["quantize_onnx", "calibration_batches"]


def calibration_batches(images: Iterable[np.ndarray], config: ModelConfig, *, landscape_share: float = 0.5) -> Iterator[np.ndarray]:
    """Letterboxed, normalised ``1 x 3 x H x W`` float32 arrays for calibration (the parser's transform).

    Every second image (by ``landscape_share``) is also shown as a landscape
    frame: the photo centred on a wider canvas of its own edge colours, as
    video frames reach the network transposed.
    """
    step = max(1, round(1 / landscape_share)) if landscape_share > 0 else 0
    preprocess = Preprocess.from_config(config)
    for i, image in enumerate(images):
        rgb = to_rgb_uint8(image)
        views = [rgb]
        if step and i % step == 0:
            h, w = rgb.shape[:2]
            width = max(w, round(h * 16 / 9))
            pad = (width - w) // 2
            views.append(np.pad(rgb, ((0, 0), (pad, width - w - pad), (0, 0)), mode="edge"))
        for view in views:
            yield preprocess.arrays([view])


def quantize_onnx(
    onnx_path: str | os.PathLike,
    out_path: str | os.PathLike,
    calibration_images: Iterable[np.ndarray],
    *,
    per_channel: bool = True,
    method: str = "minmax",
) -> Path:
    """Write an int8 (QDQ) copy of ``onnx_path`` to ``out_path``, calibrated on ``calibration_images``.

    Args:
        calibration_images: ``HxWx3`` uint8 RGB photos (a few dozen are enough).
        per_channel: per-output-channel weight scales (better accuracy, same speed).
        method: ``"minmax"``, ``"entropy"`` or ``"percentile"`` activation ranges.

    Raises:
        CheckpointError: the source is not a tryon_sdk ONNX model.
        InputError: no calibration image was given.
    """
    ort = import_onnxruntime()
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise ConfigError(f"unknown calibration method {method!r}; valid: {', '.join(methods)}")
    src, out = Path(onnx_path), Path(out_path)
    if not src.is_file():
        raise CheckpointError(f"ONNX model not found: {src}")
    meta = dict(ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map)
    config = read_onnx_config(meta, str(src))
    batches = list(calibration_batches(calibration_images, config))
    if not batches:
        raise InputError("quantize_onnx needs at least one calibration image")
    input_name = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._it, None)
            return None if batch is None else {input_name: batch}

    import onnx

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".quantize-", dir=out.parent) as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        staged = Path(tmp) / "int8.onnx"
        quantize_static(
            str(prepared), str(staged), _Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=methods[method],
        )
        model = onnx.load(str(staged))
        record = json.loads(meta[CONFIG_METADATA_KEY])
        record["recipe"] = {**record.get("recipe", {}), "precision": "int8", "calibration_images": len(batches)}
        del model.metadata_props[:]
        for key, value in {**meta, CONFIG_METADATA_KEY: json.dumps(record)}.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        with atomic_path(out) as final_tmp:
            onnx.save(model, str(final_tmp))
    return out
