"""Process-group set-up for torchrun: one process per device, gloo on CPU and NCCL on CUDA.

A run started without torchrun is a world of one; every function here then works without a process group.
The group's timeout (HUMANPARSE_DDP_TIMEOUT_S, default 10 minutes) bounds how long the other ranks wait for a
frozen one before they stop with an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from humanparse.errors import ConfigError
from humanparse.hardware import resolve_device

TIMEOUT_VARIABLE = "HUMANPARSE_DDP_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits: its rank, the world size, its local rank and the device it computes on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def ddp_timeout() -> timedelta:
    """How long a collective waits for every rank: HUMANPARSE_DDP_TIMEOUT_S seconds, 600 when unset."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return timedelta(seconds=DEFAULT_TIMEOUT_S)
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"{TIMEOUT_VARIABLE}={text!r} must be a positive number of seconds")
    return timedelta(seconds=seconds)


def init_distributed(device: str = "cpu") -> DistributedContext:
    """Join the process group that torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK).

    Without those variables this is a single process on `device`. Under torchrun each process takes
    `cuda:LOCAL_RANK` (NCCL) when `device` is "cuda", and the CPU (gloo) otherwise; a collective waits at most
    `ddp_timeout()` for a rank.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device.startswith("cuda")
    resolve_device(device)
    if world_size == 1:
        return DistributedContext(0, 1, 0, torch.device(device))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        compute_device = torch.device("cuda", local_rank)
    else:
        compute_device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if use_cuda else "gloo", rank=rank, world_size=world_size, timeout=ddp_timeout()
        )
    return DistributedContext(rank, world_size, local_rank, compute_device)


def is_distributed() -> bool:
    """True when a process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's rank (0 outside a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """The number of processes (1 outside a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def barrier() -> None:
    """Wait for every process; a no-op for a single process."""
    if is_distributed():
        dist.barrier()


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of `tensor` over all processes (a copy; `tensor` itself is unchanged)."""
    if not is_distributed():
        return tensor.clone()
    reduced = tensor.clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / dist.get_world_size()


def any_process(flag: bool, device: torch.device) -> bool:
    """True when `flag` is true on at least one process, so that every process takes the same branch."""
    if not is_distributed():
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare network inside a DistributedDataParallel wrapper (its state_dict has no `module.` prefix)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def cleanup() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
