"""``OnnxEngine``: run an exported ``.onnx`` parsing model on ONNX Runtime.

It implements the :class:`~tryon_sdk.engines.torch_engine.Engine` protocol, so a
:class:`~tryon_sdk.parser.Parser` (and the stream session, smoothing and limb
code above it) runs the same pre- and post-processing whichever engine is
underneath: ``Parser.from_pretrained("model.onnx")`` picks this engine.

The model's :class:`~tryon_sdk.config.ModelConfig` is read from the ONNX
file's ``metadata_props`` (written by :func:`tryon_sdk.engines.export.export_onnx`).
``device`` maps to execution providers: ``"cpu"`` -> CPU, ``"cuda"`` /
``"cuda:N"`` -> CUDA (needs the ``onnxruntime-gpu`` package), ``"auto"`` ->
CUDA when ONNX Runtime has it, else CPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..config import ModelConfig
from ..errors import CheckpointError, ConfigError, InputError
from ..threads import env_threads

__all__ = ["OnnxEngine", "CONFIG_METADATA_KEY", "import_onnxruntime", "read_onnx_config", "load_onnx_config"]

#: ``metadata_props`` key holding the model's :class:`ModelConfig` as JSON.
CONFIG_METADATA_KEY = "tryon_sdk_config"
_DEVICES = "auto, cpu, cuda, cuda:N"


def import_onnxruntime() -> Any:
    """``import onnxruntime``, or a :class:`ConfigError` that says how to install it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(
            "ONNX models need onnxruntime, a dependency of tryon-sdk that is missing here: pip install onnxruntime "
            "(or onnxruntime-gpu for CUDA)"
        ) from exc
    return onnxruntime


def _providers_for(device: str | torch.device, available: Sequence[str]) -> tuple[list[Any], int | None]:
    """Execution providers for a device name, and the CUDA device index (``None`` on CPU)."""
    name = str(device)
    if name == "auto":
        name = "cuda" if "CUDAExecutionProvider" in available else "cpu"
    if name == "cpu":
        return ["CPUExecutionProvider"], None
    if name == "cuda" or name.startswith("cuda:"):
        index = 0
        if name.startswith("cuda:"):
            try:
                index = int(name[5:])
            except ValueError:
                raise ConfigError(f"unknown device {device!r}; valid: {_DEVICES}") from None
        if "CUDAExecutionProvider" not in available:
            raise ConfigError(
                f"device {name!r} needs ONNX Runtime's CUDAExecutionProvider, which is not available "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use device='cpu'"
            )
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"], index
    raise ConfigError(f"unknown device {device!r}; valid: {_DEVICES}")


def read_onnx_config(metadata: dict[str, str], source: str) -> ModelConfig:
    """The :class:`ModelConfig` stored in an ONNX model's metadata map."""
    text = metadata.get(CONFIG_METADATA_KEY)
    if text is None:
        raise CheckpointError(
            f"{source} has no {CONFIG_METADATA_KEY!r} metadata, so its preprocessing is unknown; "
            "export models with `tryon-sdk export --format onnx` (tryon_sdk.engines.export.export_onnx)"
        )
    try:
        return ModelConfig.from_json(text)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from exc


def load_onnx_config(path: str | os.PathLike) -> ModelConfig:
    """The :class:`ModelConfig` of an exported ``.onnx`` file, without starting an inference session.

    Reads the metadata with the ``onnx`` package when installed, else with ONNX Runtime.
    Raises :class:`CheckpointError` for a missing or unreadable file and one without a tryon_sdk config.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"ONNX model not found: {path}")
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # protobuf's DecodeError and friends
            raise CheckpointError(f"{path} is not a readable ONNX model: {exc}".strip()) from exc
        metadata = {p.key: p.value for p in proto.metadata_props}
    else:
        ort = import_onnxruntime()
        try:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise CheckpointError(f"{path} is not a readable ONNX model: {exc}".strip()) from exc
        metadata = dict(session.get_modelmeta().custom_metadata_map)
    return read_onnx_config(metadata, str(path))


class OnnxEngine:
    """An :class:`~tryon_sdk.engines.torch_engine.Engine` backed by an ONNX Runtime session.

    Args:
        path: an ``.onnx`` file written by :func:`tryon_sdk.engines.export.export_onnx`.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (see the module docstring).
        threads: intra-op threads (default: ``$TRYON_NUM_THREADS``, else ONNX Runtime's choice, one per physical core).
        spinning: let idle worker threads spin-wait for work. Off by default: on a
            few cores the spinning steals CPU from decoding, smoothing and encoding
            in the same process (and from other processes), which costs more than
            it saves (measured 195 -> 133 ms per 512x384 frame on a busy 2-core machine).
        session_options: an ``onnxruntime.SessionOptions`` to start from (used as given).

    Raises:
        ConfigError: onnxruntime is missing, or the device's provider is not available.
        CheckpointError: the file is missing, corrupt, or carries no tryon_sdk config.
    """

    name = "onnxruntime"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        device: str | torch.device = "auto",
        threads: int | None = None,
        spinning: bool = False,
        session_options: Any = None,
    ) -> None:
        ort = import_onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise CheckpointError(f"ONNX model not found: {self.path}")
        available = list(ort.get_available_providers())
        providers, cuda_index = _providers_for(device, available)
        if session_options is not None:
            opts = session_options
        else:
            opts = ort.SessionOptions()
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        if threads is None:
            threads = env_threads()  # a worker of a batch job shares the cores (tryon_sdk.threads.limit_threads)
        if threads is not None:
            if threads < 1:
                raise ConfigError(f"threads must be >= 1, got {threads}")
            opts.intra_op_num_threads = int(threads)
        try:
            session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own pybind classes (InvalidProtobuf, Fail, ...)
            raise CheckpointError(f"cannot load ONNX model {self.path}: {exc}".strip()) from exc
        if cuda_index is not None and "CUDAExecutionProvider" not in session.get_providers():
            raise ConfigError(
                f"ONNX Runtime could not start CUDA for {self.path} (active providers: {', '.join(session.get_providers())}); "
                "check the CUDA/cuDNN install or use device='cpu'"
            )
        self.session = session
        self.providers = tuple(session.get_providers())
        self.config = read_onnx_config(dict(session.get_modelmeta().custom_metadata_map), str(self.path))
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] not in (3, "3"):
            raise CheckpointError(f"{self.path}: expected one B x 3 x H x W input, found {[(i.name, i.shape) for i in inputs]}")
        if not outputs or len(outputs[0].shape) != 4:
            raise CheckpointError(f"{self.path}: expected a B x C x H x W logits output, found {[(o.name, o.shape) for o in outputs]}")
        channels = outputs[0].shape[1]
        if isinstance(channels, int) and channels != self.config.num_classes:
            raise CheckpointError(f"{self.path}: the model outputs {channels} classes but its config says {self.config.num_classes}")
        self._input = inputs[0].name
        self._output = outputs[0].name
        self.dynamic = all(not isinstance(d, int) for d in (inputs[0].shape[0], inputs[0].shape[2], inputs[0].shape[3]))
        # Batches stay on the GPU (IO binding) when torch can see the same CUDA device; else they go through host memory.
        if cuda_index is not None and torch.cuda.is_available():
            self.device = torch.device("cuda", cuda_index)
        else:
            self.device = torch.device("cpu")

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Normalised ``B x 3 x H x W`` float32 on :attr:`device` -> logits ``B x C x H x W`` float32."""
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise InputError(f"OnnxEngine takes a B x 3 x H x W batch, got shape {tuple(batch.shape)}")
        batch = batch.detach().float().contiguous()
        if self.device.type == "cuda":
            return self._run_cuda(batch)
        out = self.session.run([self._output], {self._input: batch.cpu().numpy()})[0]
        return torch.from_numpy(out)

    def _run_cuda(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(self.device)
        b, _, h, w = batch.shape
        out = torch.empty((b, self.config.num_classes, h, w), dtype=torch.float32, device=self.device)
        binding = self.session.io_binding()
        index = self.device.index or 0
        binding.bind_input(self._input, "cuda", index, np.float32, tuple(batch.shape), batch.data_ptr())
        binding.bind_output(self._output, "cuda", index, np.float32, tuple(out.shape), out.data_ptr())
        torch.cuda.current_stream(self.device).synchronize()  # ORT runs on its own stream
        self.session.run_with_iobinding(binding)
        return out

    def __repr__(self) -> str:
        return f"OnnxEngine({str(self.path)!r}, providers={list(self.providers)}, device={self.device})"
