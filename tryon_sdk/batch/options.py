"""What a batch job is asked to do: :class:`ModelSpec` (which parser each worker loads) and :class:`BatchOptions`."""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..engines.options import EngineOptions
from ..errors import ConfigError
from ..threads import usable_cores
from ..video.jobs.options import PipelineOptions
from ..video.jobs.summary import options_entry

if TYPE_CHECKING:
    from ..parser import Parser

__all__ = ["ModelSpec", "BatchOptions", "Job", "LAYOUTS", "default_workers", "WORKER_MEMORY_BYTES"]

#: ``parse``: a folder per input as ``tryon-sdk parse`` writes it; the others: try-on datasets' folders.
LAYOUTS: tuple[str, ...] = ("parse", "viton-hd", "dresscode")
#: what one worker process holds (torch, the model, a frame's buffers): the default worker count keeps within memory
WORKER_MEMORY_BYTES = 1536 * 2**20


@dataclass(frozen=True)
class ModelSpec:
    """The model each worker loads its own parser of (picklable): :meth:`Parser.from_pretrained`'s name or
    path, the engine it runs on, and flip TTA."""

    name: str | None = None
    engine: EngineOptions = EngineOptions()
    flip_tta: bool = False

    def load(self) -> Parser:
        from ..parser import Parser

        return Parser.from_pretrained(self.name, flip_tta=self.flip_tta, **asdict(self.engine))

    def identity(self) -> dict[str, Any]:
        """What changes the labels (the device and runtime do not, beyond rounding)."""
        name = self.name
        if name is not None and os.path.exists(name):
            name = os.path.abspath(name)
        return {"name": name, "precision": self.engine.precision, "flip_tta": self.flip_tta}


def _available_memory() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def default_workers(inputs: int | None = None, device: str = "auto") -> int:
    """Worker processes the machine allows: one per usable core, fewer when memory is short
    (:data:`WORKER_MEMORY_BYTES` each) or there are fewer inputs; one on a GPU."""
    if device.startswith("cuda") or (device == "auto" and _cuda_available()):
        return 1
    n = usable_cores()
    mem = _available_memory()
    if mem is not None:
        n = min(n, max(1, mem // WORKER_MEMORY_BYTES))
    if inputs is not None:
        n = min(n, max(1, inputs))
    return max(1, n)


@dataclass(frozen=True)
class BatchOptions:
    """A batch job (frozen; :meth:`validate` checks it before the job starts).

    Attributes:
        pipeline: what to write per input and how to parse (as ``tryon-sdk parse``; its ``progress``
            and ``overwrite`` are not used: see below).
        model: the parser every worker loads.
        layout: one of :data:`LAYOUTS`.
        workers: local worker processes (``None``: :func:`default_workers`; 1 parses in this process).
        threads: CPU threads per worker (``None``: the usable cores shared out among the workers).
        ray: ``None`` (local workers), ``"local"`` (start a Ray runtime here), ``"auto"`` or a cluster
            address (join it): run with Ray Data, an actor per worker.
        gpus_per_worker: GPUs each Ray actor asks for (0: CPU actors).
        overwrite: redo inputs that are already complete.
        progress: ``True`` (a bar on a terminal, else a line every ``progress_every_s``), ``False``,
            ``"bar"`` or ``"lines"``.
        categories: the try-on categories a layout writes masks for.
    """

    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    model: ModelSpec = field(default_factory=ModelSpec)
    layout: str = "parse"
    workers: int | None = None
    threads: int | None = None
    ray: str | None = None
    gpus_per_worker: float = 0.0
    overwrite: bool = False
    progress: bool | str = False
    progress_every_s: float = 5.0
    categories: tuple[str, ...] = ("upper_body", "lower_body", "dresses")

    def validate(self) -> None:
        self.pipeline.validate()
        if self.layout not in LAYOUTS:
            raise ConfigError(f"unknown layout {self.layout!r}; valid: {', '.join(LAYOUTS)}")
        if self.workers is not None and (isinstance(self.workers, bool) or self.workers < 1):
            raise ConfigError(f"workers must be >= 1 (or None for what the cores allow), got {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1 (or None), got {self.threads}")
        if self.gpus_per_worker < 0:
            raise ConfigError(f"gpus per worker must be >= 0, got {self.gpus_per_worker}")
        from ..agnostic import CATEGORIES

        bad = [c for c in self.categories if c not in CATEGORIES]
        if bad or not self.categories:
            raise ConfigError(f"unknown try-on category {bad[0] if bad else '(none)'!r}; valid: {', '.join(CATEGORIES)}")

    def settings(self) -> dict[str, Any]:
        """What changes the files written (hashed into each record's fingerprint)."""
        p = self.pipeline
        out: dict[str, Any] = {"layout": self.layout, "model": self.model.identity()}
        if self.layout == "parse":
            out["pipeline"] = {**options_entry(p, p.resolved_outputs()), "crf": p.crf, "compositor": _compositor_id(p.compositor)}
        else:
            out["pipeline"] = {"limb_consistency": repr(p.limb_consistency), "mirrored": p.mirrored, "work_pixels": p.work_pixels}
            out["categories"] = list(self.categories)
        return out


def _compositor_id(comp: Any) -> Any:
    if comp is None:
        return None
    try:
        return {"type": type(comp).__name__, **{k: repr(v) for k, v in sorted(vars(comp).items()) if not k.startswith("_")}}
    except TypeError:
        return repr(comp)


@dataclass(frozen=True)
class Job:
    """What each worker needs besides its parser: the output folder, the options, the settings' fingerprint."""

    out: Path
    options: BatchOptions
    fingerprint: str
