"""Ray execution: the inputs as a Ray Dataset, ``map_batches`` over an actor pool, one loaded parser per actor.

Each actor runs :func:`~tryon_sdk.batch.work.process` on its rows: it writes the input's outputs into
``OUT`` itself (``OUT`` must be on a filesystem every node shares) and returns the record as a JSON
string; the driver streams the records back and writes the manifest. ``address``: ``"local"`` starts a
Ray runtime on this machine (no dashboard; the SDK's source folder on the workers' ``PYTHONPATH``);
``"auto"`` or ``"ray://host:10001"`` / ``"host:6379"`` joins a cluster (tryon_sdk must be installed on
its nodes). A Ray runtime already started in this process is used as it is. Ray is an optional extra
(``pip install "tryon-sdk[ray]"``), imported only here.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import ConfigError
from ..threads import limit_threads, usable_cores, worker_threads
from .manifest import Record
from .options import ModelSpec
from .sources import BatchInput
from .work import Job, process

__all__ = ["run_ray", "import_ray"]

#: rows handed to an actor per call: small, so the records stream back (and the manifest grows) steadily
ROWS_PER_CALL = 2


def import_ray() -> Any:
    """``ray`` with Ray Data, or :class:`ConfigError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError("--ray needs Ray Data, which is not installed: pip install 'tryon-sdk[ray]'") from None
    return ray


class _ParseActor:
    """One Ray actor: loads its parser once, then parses the rows it is given."""

    def __init__(self, spec: ModelSpec, job: Job, threads: int) -> None:
        limit_threads(threads)
        self.parser = spec.load()
        self.job = job

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        records = [process(self.parser, BatchInput(Path(p), str(r)), self.job).to_json() for p, r in zip(batch["path"], batch["rel"])]
        return {"record": np.array(records, dtype=object)}


def _start(ray: Any, address: str, cpus: int) -> bool:
    """Start or join a runtime unless this process already has one; True when this call started it."""
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    if address == "local":
        src = str(Path(__file__).resolve().parents[2])  # the folder holding the tryon_sdk package
        path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
        ray.init(num_cpus=cpus, runtime_env={"env_vars": {"PYTHONPATH": path}}, **quiet)
    else:
        ray.init(address=address, **{k: v for k, v in quiet.items() if k != "include_dashboard"})
    return True


def run_ray(
    items: Sequence[BatchInput],
    spec: ModelSpec,
    job: Job,
    address: str,
    *,
    workers: int | None = None,
    threads: int | None = None,
    gpus_per_worker: float = 0.0,
) -> Iterator[Record]:
    """Records of ``items`` as the actors finish them (see the module docstring)."""
    ray = import_ray()
    if not items:
        return
    cpus = usable_cores()
    actors = workers or (max(1, cpus // (threads or 1)) if address == "local" else None)
    per_actor = threads or (worker_threads(actors, cpus) if actors else 1)
    started = _start(ray, address, cpus)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ds = ray.data.from_items([{"path": str(i.path), "rel": i.rel} for i in items], override_num_blocks=len(items))
        size = {"size": actors} if actors else {"min_size": 1, "max_size": max(1, int(ray.cluster_resources().get("CPU", 1)))}
        parsed = ds.map_batches(
            _ParseActor,
            fn_constructor_args=(spec, job, per_actor),
            batch_size=ROWS_PER_CALL,
            compute=ray.data.ActorPoolStrategy(**size),
            num_cpus=min(per_actor, cpus),
            num_gpus=gpus_per_worker or None,
        )
        for row in parsed.iter_rows():
            yield Record.from_dict(json.loads(row["record"]))
    finally:
        if started:
            ray.shutdown()
