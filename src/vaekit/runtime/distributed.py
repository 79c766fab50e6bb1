"""Several processes through ``torch.distributed``, launched by ``torchrun`` (no launcher of our own).

``torchrun --nproc_per_node N -m vaekit train ...`` starts N copies of the command with RANK,
LOCAL_RANK and WORLD_SIZE in their environment; ``setup`` joins them into one process group (nccl
on GPUs, gloo on CPUs). Every function here is a no-op in a single process, so the training and
evaluation code calls them unconditionally. Training and evaluation import this module; it imports
nothing of ours but ``errors``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from vaekit.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        """More than one process: collectives are needed."""
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"${name} is '{value}', not an integer; launch several processes with torchrun") from None


def launched() -> World:
    """The world torchrun describes in the environment (a single process when it is unset)."""
    size = _env_int("WORLD_SIZE", 1)
    return World(_env_int("RANK", 0), size, _env_int("LOCAL_RANK", 0)) if size > 1 else World()


def current() -> World:
    """The world of the joined process group (a single process before ``setup`` or without one)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0))


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group if this process is one of several; returns its device.

    On CUDA each process takes the GPU of its LOCAL_RANK (nccl); elsewhere processes share the
    device and talk over gloo. Calling it again is harmless.
    """
    world = launched()
    if not world.active:
        return device
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"LOCAL_RANK {world.local_rank} has no GPU: this node has {torch.cuda.device_count()}; "
                "start at most that many processes per node (--nproc_per_node)"
            )
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    elif device.type == "mps":
        raise ConfigError("torch.distributed has no backend for mps; use --device cpu (gloo) with torchrun, or a single process on mps")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def shutdown(wait: bool = False) -> None:
    """Leave the process group (at the end of a command).

    Args:
        wait: first wait for every rank to get here (after a command that succeeded on all of
            them). A rank that tears gloo down while another is still busy (rank 0 writing the
            last checkpoint) could abort at exit with "terminate called without an active exception".
    """
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def _comm_device() -> torch.device:
    """Where the backend's collectives run: the process's GPU for nccl, else the CPU."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce(t: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """Reduce ``t`` over all ranks in place (sum, min or max); returns it."""
    if current().active:
        work = t.to(_comm_device())
        dist.all_reduce(work, {"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}[op])
        if work is not t:
            t.copy_(work)
    return t


def broadcast(t: torch.Tensor) -> torch.Tensor:
    """Rank 0's ``t`` on every rank, in place; returns it."""
    if current().active:
        work = t.to(_comm_device())
        dist.broadcast(work, 0)
        if work is not t:
            t.copy_(work)
    return t


def from_main(value: T) -> T:
    """Rank 0's ``value`` (any picklable object) on every rank."""
    if not current().active:
        return value
    box = [value]
    dist.broadcast_object_list(box, 0)
    return box[0]


def gather(t: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's ``t`` (same shape and dtype on all, e.g. an RNG state), rank 0 first, on the CPU."""
    world = current()
    if not world.active:
        return [t]
    parts = [torch.empty_like(t, device=_comm_device()) for _ in range(world.size)]
    dist.all_gather(parts, t.to(_comm_device()))
    return [p.cpu() for p in parts]


def rank_seed(seed: int) -> int:
    """The seed of this rank's noise: ``seed`` itself on rank 0 (so one process matches a single-process run)."""
    return seed + current().rank * 2**40


def barrier() -> None:
    if current().active:
        dist.barrier()
