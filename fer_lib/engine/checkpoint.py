"""Checkpoints: written atomically about once a minute (``TrainConfig.checkpoint_interval_s``), loaded with
``weights_only=True``, refused when they belong to another run.

The checkpoint is a dict of tensors and plain Python values only (torchvision's ``{model, optimizer, scheduler,
epoch, config}`` plus the scaler, every RNG state, the history, the protocols' best-so-far predictions and, with
``ema_decay``, the weight average), so ``torch.load(..., weights_only=True)`` reads it and a file from elsewhere cannot
run code. It is written to a temporary file and moved over the old one with ``os.replace`` (atomic on POSIX): a run
killed mid-write leaves the previous epoch's checkpoint intact.

RNG states are stored per rank as uint8 tensors ``(world_size, state_bytes)``: the global CPU generator (dropout),
the CUDA generator of the rank's device, and the augmentation generator. The epoch permutation needs no state: it is
a function of ``(seed, epoch)`` (see :func:`~fer_lib.engine.distributed.epoch_indices`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic_write import write_atomic
from .config import semantic_diff
from .distributed import DistContext, gather_stack

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


class CheckpointMismatchError(RuntimeError):
    """A checkpoint in the run folder was written by a run with another config, data, model or world size."""


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """``torch.save(state)`` to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint onto the CPU with ``weights_only=True`` (tensors and plain containers only; no code runs)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def check_compatible(checkpoint: dict[str, Any], expected: dict[str, Any], path: Path) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``checkpoint`` was written by the run that ``expected`` describes.

    ``expected`` holds ``config`` (``TrainConfig.to_dict()``), ``data`` (split fingerprints), ``architecture`` (model
    class name and parameter count), ``world_size`` and ``device_type`` (RNG states differ between CPU and CUDA).
    Config fields that change no result (threads, progress, evaluation batch size, ...) may differ.
    """
    problems = []
    if checkpoint.get("format") != FORMAT_VERSION:
        problems.append(f"format {checkpoint.get('format')} (this code reads {FORMAT_VERSION})")
    for key, (saved, current) in semantic_diff(checkpoint.get("config", {}), expected["config"]).items():
        problems.append(f"config.{key}: checkpoint {saved!r} vs now {current!r}")
    for key in ("data", "architecture", "world_size", "device_type"):
        if checkpoint.get(key) != expected[key]:
            problems.append(f"{key}: checkpoint {checkpoint.get(key)!r} vs now {expected[key]!r}")
    if problems:
        listing = "\n  ".join(problems)
        advice = "Use another run folder, or resume=False to start over."
        raise CheckpointMismatchError(f"{path} belongs to a different run, refusing to resume it:\n  {listing}\n{advice}")


def derive_seed(seed: int, stream: int, rank: int = 0) -> int:
    """An independent 63-bit seed for random ``stream`` on ``rank``, derived from ``seed`` (NumPy ``SeedSequence``)."""
    return int(np.random.SeedSequence([seed, stream, rank]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def capture_rng(augment_generator: torch.Generator, ctx: DistContext) -> dict[str, torch.Tensor]:
    """Every rank's RNG states as uint8 tensors ``(world_size, bytes)`` (a collective: all ranks must call it)."""
    state = {"torch": gather_stack(torch.get_rng_state(), ctx), "augment": gather_stack(augment_generator.get_state(), ctx)}
    if ctx.device.type == "cuda":
        state["cuda"] = gather_stack(torch.cuda.get_rng_state(ctx.device), ctx)
    return state


def restore_rng(state: dict[str, torch.Tensor], augment_generator: torch.Generator, ctx: DistContext) -> None:
    """Set this rank's RNG states from :func:`capture_rng`'s output."""
    torch.set_rng_state(state["torch"][ctx.rank])
    augment_generator.set_state(state["augment"][ctx.rank])
    if ctx.device.type == "cuda" and "cuda" in state:  # a CPU checkpoint resumed on a GPU has no CUDA state to restore
        torch.cuda.set_rng_state(state["cuda"][ctx.rank], ctx.device)
