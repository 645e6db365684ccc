"""Data-parallel training under ``torchrun``: the same ``fit`` call runs on one process or many (docs/architecture.md §6).

``python -m torch.distributed.run --nproc_per_node K script.py`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``;
:func:`init_distributed` then joins the process group (NCCL on CUDA, gloo on CPU). Each rank trains on its shard of
the epoch permutation (``DistributedSampler`` over indices, ``set_epoch``), gradients are averaged by
``DistributedDataParallel``, evaluation splits the rows into contiguous chunks and gathers the logits to every rank,
and only rank 0 writes the checkpoint. With ``WORLD_SIZE`` unset everything here is a no-op on one process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` processes, computing on ``device``."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, shows progress and writes files."""
        return self.rank == 0


def launch_rank() -> tuple[int, int]:
    """``(rank, world_size)`` that ``torchrun`` gave this process in the environment, ``(0, 1)`` without it; known
    before :func:`init_distributed` joins the group, so a run folder can be written by rank 0 alone from the start."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    return (int(os.environ.get("RANK", "0")), world_size) if world_size > 1 else (0, 1)


def init_distributed(device: torch.device) -> DistContext:
    """Join the process group that ``torchrun`` describes in the environment; one process when ``WORLD_SIZE`` <= 1.

    On CUDA each rank takes the GPU ``LOCAL_RANK`` and NCCL; on CPU gloo. A group that is already initialised
    (e.g. a second ``fit`` in the same script, one per fold) is reused.
    """
    if launch_rank()[1] <= 1:
        return DistContext(0, 1, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        log.info("joined process group: rank %d of %d on %s (%s)", dist.get_rank(), dist.get_world_size(), device, dist.get_backend())
    return DistContext(dist.get_rank(), dist.get_world_size(), device)


def cleanup_distributed() -> None:
    """Leave the process group (call once at the end of a ``torchrun`` script)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap_model(model: nn.Module, ctx: DistContext) -> nn.Module:
    """``DistributedDataParallel(model)`` when distributed (it averages gradients in backward), else ``model`` itself."""
    if not ctx.enabled:
        return model
    return DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)


def epoch_indices(n: int, epoch: int, seed: int, ctx: DistContext) -> torch.Tensor:
    """This rank's shard ``(n // world_size,)`` of the epoch's permutation of ``range(n)``.

    The permutation is a pure function of ``(seed, epoch)`` (``DistributedSampler`` seeds a generator with
    ``seed + epoch``), so a resumed run draws exactly the epochs an uninterrupted one would, with no state to save.
    ``drop_last`` trims at most ``world_size - 1`` samples so every rank runs the same number of steps.
    """
    sampler = DistributedSampler(range(n), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.long)


def _chunk_sizes(n: int, world_size: int) -> list[int]:
    return [n // world_size + (r < n % world_size) for r in range(world_size)]


def chunk_bounds(n: int, ctx: DistContext) -> tuple[int, int]:
    """``[start, stop)`` of this rank's contiguous chunk of ``n`` evaluation rows (chunk sizes differ by at most 1)."""
    sizes = _chunk_sizes(n, ctx.world_size)
    start = sum(sizes[: ctx.rank])
    return start, start + sizes[ctx.rank]


def _comm_device(ctx: DistContext) -> torch.device:
    """NCCL moves CUDA tensors only; gloo is used with CPU tensors."""
    return ctx.device if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum ``values`` over ranks (a copy; the input is unchanged); identity on one process."""
    if not ctx.enabled:
        return values
    total = values.detach().to(_comm_device(ctx), copy=True)
    dist.all_reduce(total)
    return total.to(values.device)


def gather_rows(rows: torch.Tensor, n: int, ctx: DistContext) -> torch.Tensor:
    """Concatenate every rank's chunk (see :func:`chunk_bounds`) of ``n`` rows, in row order, on every rank."""
    if not ctx.enabled:
        return rows
    sizes = _chunk_sizes(n, ctx.world_size)
    padded = rows.new_zeros((max(sizes), *rows.shape[1:]), device=_comm_device(ctx))
    padded[: len(rows)] = rows
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded)  # all_gather needs equal shapes: chunks are padded, then trimmed
    return torch.cat([part[:size] for part, size in zip(parts, sizes)]).to(rows.device)


def gather_stack(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Every rank's ``value`` (same shape on all ranks) stacked to ``(world_size, *value.shape)``, on every rank."""
    if not ctx.enabled:
        return value[None]
    local = value.to(_comm_device(ctx))
    parts = [torch.empty_like(local) for _ in range(ctx.world_size)]
    dist.all_gather(parts, local)
    return torch.stack(parts).to(value.device)


def from_rank0(value: Any, ctx: DistContext) -> Any:
    """Rank 0's ``value`` (any picklable object), on every rank: for choices each rank would otherwise make alone."""
    if not ctx.enabled:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, device=_comm_device(ctx))
    return box[0]


def sync_buffers(model: nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

    DDP broadcasts buffers at the start of each forward, so after the last training step each rank holds the
    statistics its own last batch left; syncing before evaluation makes every rank's model, and so its logits, identical.
    """
    if not ctx.enabled:
        return
    for buffer in model.buffers():
        local = buffer.data.to(_comm_device(ctx))
        dist.broadcast(local, src=0)
        buffer.data.copy_(local)
