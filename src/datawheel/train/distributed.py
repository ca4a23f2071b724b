"""DDP plumbing: switched on by ``RANK``/``WORLD_SIZE`` in the environment, as torchrun sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["DistInfo", "broadcast_object", "dist_info", "init_distributed", "is_distributed"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes datasets, checkpoints, runs and versions."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def is_distributed() -> bool:
    """True when launched by torchrun (or anything setting RANK and WORLD_SIZE > 1)."""
    return "RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed() -> DistInfo:
    """Join the process group once (NCCL with CUDA, gloo otherwise); a no-op outside torchrun."""
    if not is_distributed():
        return DistInfo()
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return dist_info()


def dist_info() -> DistInfo:
    """This process's rank, the world size and the local rank (defaults: one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    return DistInfo(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def broadcast_object(value: Any, *, src: int = 0) -> Any:
    """Rank ``src``'s ``value`` on every rank (pickled; small objects such as dataset ids)."""
    import torch.distributed as dist

    if not dist_info().active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def shutdown_distributed() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
