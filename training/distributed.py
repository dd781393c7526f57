"""Distributed training under ``torchrun``: the process group, the device, and each rank's sample order."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["Dist", "Sampler", "training_device"]


class Dist:
    """This process's place in a ``torchrun`` job (world 1 when run alone)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world > 1

    def setup(self, device: torch.device) -> None:
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)
        if self.enabled and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")

    def any(self, flag: bool) -> bool:
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


class Sampler:
    """Per-epoch index order for this rank; epoch order depends only on (seed, epoch)."""

    def __init__(self, n: int, weights: np.ndarray, seed: int, d: Dist) -> None:
        self.n, self.seed, self.d = n, seed, d
        w = weights / weights.sum()
        self.weights = None if np.allclose(w, 1.0 / n) else torch.tensor(w)

    def order(self, epoch: int) -> list[int]:
        if self.weights is None:
            sampler = torch.utils.data.DistributedSampler(
                range(self.n), num_replicas=self.d.world, rank=self.d.rank, shuffle=True, seed=self.seed, drop_last=True
            )
            sampler.set_epoch(epoch)
            return list(sampler)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        draws = torch.multinomial(self.weights, self.n, replacement=True, generator=g).tolist()
        per = self.n // self.d.world
        return draws[self.d.rank * per : (self.d.rank + 1) * per]


def training_device(recipe: dict, d: Dist) -> torch.device:
    """The recipe's device (default CUDA when available), this rank's GPU under DDP."""
    name = recipe.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and d.enabled:
        return torch.device("cuda", d.local_rank)
    return torch.device(name)

