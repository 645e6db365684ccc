"""``fit``: train for ``cfg.epochs``, evaluate every epoch, checkpoint, resume a killed run, report both protocols.

Protocols (docs/architecture.md §4), both from one run and both selected with the same metric (``cfg.select_metric``), so the
gap between them measures only *where* the epoch was selected:

* ``honest`` — the epoch with the best validation score (ties → the earliest); its test predictions are the honest
  result. Without a validation split: the last epoch (a fixed budget, the test split still touched only for reporting).
* ``test_selected`` — the epoch with the best test score (ties → the earliest), as much published FER code reports
  (best epoch on FER2013 PrivateTest, or per LOSO subject). Labelled as such so the inflation is visible.

The default metric is accuracy, the number FER2013 papers report; ``macro_f1`` suits imbalanced micro-expression
sets (MEGC2019's UF1). The test split is evaluated every epoch only so that ``test_selected`` can be reported; only the
predictions of the two current best epochs are kept (and checkpointed).

After ``fit`` the model holds the weights of the honest epoch — not the last one — so figures (Grad-CAM, attention
maps) show the model whose test numbers are reported. With ``cfg.ema_decay`` > 0 every evaluation, selection and the
returned weights are those of the moving average of the weights (:mod:`fer_lib.engine.weight_average`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.base import FaceDataset
from ..errors import ConfigError
from ..preprocess.flow_augment import build_augment
from ..preprocess.normalize import Normalize
from .batches import TensorSplit, data_fingerprint, normalization_stats
from .checkpoint import CHECKPOINT_NAME, FORMAT_VERSION, capture_rng, check_compatible, derive_seed, load_checkpoint, restore_rng, save_checkpoint
from .config import TrainConfig
from .distributed import DistContext, epoch_indices, from_rank0, init_distributed, sync_buffers, wrap_model
from .loss import build_criterion
from .loop import EvalResult, TrainStats, evaluate, hide_progress, train_one_epoch
from .mixup import Mixup
from .precision import resolve_amp
from .weight_average import weight_average

log = logging.getLogger(__name__)

GLOBAL_STREAM, AUGMENT_STREAM = 0, 1  # independent random streams derived from cfg.seed (see derive_seed)
METRIC_COLUMN = {"accuracy": "acc", "macro_f1": "macro_f1"}


@dataclass
class ProtocolResult:
    """One protocol's outcome: the selected ``epoch`` (1-based), how it was selected, that epoch's evaluation of the test
    split (``predictions``: logits, labels, predicted classes) and its metrics."""

    protocol: str
    epoch: int
    selected_on: str
    predictions: EvalResult
    metrics: dict[str, Any]


@dataclass
class FitResult:
    """Everything a run folder needs: per-epoch ``history``, both protocols, cost and context.

    ``train_wall_s`` is the wall time of all epochs (training + per-epoch evaluation, summed over resumed parts; the
    checkpoint writes between epochs are not in it);
    ``train_images_per_s`` counts training steps only (images of all ranks / training seconds).
    """

    history: pd.DataFrame
    honest: ProtocolResult | None
    test_selected: ProtocolResult | None
    train_wall_s: float
    train_images_per_s: float
    params: int
    device: str
    world_size: int
    epochs: int
    normalize_mean: tuple[float, ...]
    normalize_std: tuple[float, ...]
    config: dict[str, Any]
    class_names: tuple[str, ...]

    @property
    def protocols(self) -> dict[str, ProtocolResult]:
        """The protocols that have test predictions, by name."""
        return {p.protocol: p for p in (self.honest, self.test_selected) if p is not None}

    def normalize(self) -> Normalize:
        """The training split's :class:`Normalize`, for inference and figures on new images."""
        return Normalize(np.array(self.normalize_mean), np.array(self.normalize_std))


class _Selection:
    """Best-so-far epoch of one protocol: score, test predictions and (honest, with a validation split) the weights."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        state = state or {"epoch": 0, "score": None, "logits": None, "labels": None, "loss": None, "model": None}
        self.epoch: int = state["epoch"]
        self.score: float | None = state["score"]
        self.test = None if state["logits"] is None else EvalResult(state["logits"], state["labels"], state["loss"])
        self.model_state: dict[str, torch.Tensor] | None = state["model"]

    def offer(self, epoch: int, score: float | None, test: EvalResult | None, model: nn.Module | None = None) -> None:
        """Take ``epoch`` if it scores strictly better (ties keep the earlier epoch); ``score=None`` always takes it."""
        if self.epoch and score is not None and not score > self.score:
            return
        self.epoch, self.score, self.test = epoch, score, test
        if model is not None:
            self.model_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    def state(self) -> dict[str, Any]:
        test = self.test
        return {
            "epoch": self.epoch,
            "score": self.score,
            "logits": None if test is None else test.logits,
            "labels": None if test is None else test.labels,
            "loss": None if test is None else test.loss,
            "model": self.model_state,
        }


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (call before ``create_model`` for a reproducible init)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy seeding takes 32 bits; derived seeds (derive_seed) have 63
    torch.manual_seed(seed)


def lr_factor(step: int, cfg: TrainConfig, steps_per_epoch: int) -> float:
    """LR multiplier at optimizer step ``step``: linear warm-up, then cosine to 0 or ×gamma every ``step_size`` epochs."""
    warmup = round(cfg.warmup_epochs * steps_per_epoch)
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    if cfg.schedule == "step":
        return warm * cfg.gamma ** (step // (cfg.step_size * steps_per_epoch))
    progress = min(1.0, max(0, step - warmup) / max(1, cfg.epochs * steps_per_epoch - warmup))
    return warm * 0.5 * (1 + math.cos(math.pi * progress))


def check_compile_toolchain(device: torch.device) -> None:
    """``torch.compile`` on a CPU builds C++ kernels (Inductor): where no C++ compiler works, fail before the first
    epoch with the fix, instead of inside the first training step."""
    if device.type != "cpu":
        return
    from torch._inductor.cpp_builder import get_cpp_compiler  # Inductor's own search (config.cpp.cxx, then $CXX)

    try:
        get_cpp_compiler()
    except Exception as error:  # noqa: BLE001 — Inductor raises its own error classes for a missing or broken compiler
        raise ConfigError(
            f"compile=True: torch.compile on the CPU needs a working C++ compiler and finds none ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}); install one (apt install g++, or conda install gxx) or "
            "train with compile=false (e.g. --set compile=false): it changes speed only"
        ) from error


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD (momentum, Nesterov) or AdamW; weight decay only on weights of rank ≥ 2 (decaying norm scales and biases hurts)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step :func:`lr_factor` schedule (a closure, so the checkpointed scheduler state holds only numbers)."""

    def factor(step: int) -> float:
        return lr_factor(step, cfg, steps_per_epoch)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@contextmanager
def torch_settings(cfg: TrainConfig, device: torch.device) -> Iterator[None]:
    """Apply ``cfg``'s thread count and determinism flags for the duration of ``fit``, then restore the previous ones."""
    saved = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    try:
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        if cfg.deterministic and device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for deterministic matmuls
        # warn_only: a model with a non-deterministic CUDA kernel (e.g. grid_sample backward) still runs, with a warning
        torch.use_deterministic_algorithms(cfg.deterministic, warn_only=True)
        torch.backends.cudnn.deterministic = cfg.deterministic
        torch.backends.cudnn.benchmark = not cfg.deterministic  # input shapes are fixed: autotuned kernels pay off
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1], warn_only=saved[2])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[3], saved[4]


def fit(
    model: nn.Module,
    train: FaceDataset,
    val: FaceDataset | None,
    test: FaceDataset | None,
    cfg: TrainConfig,
    run_dir: str | Path | None = None,
    resume: bool = True,
) -> FitResult:
    """Train ``model`` (returning logits) on ``train``; evaluate ``val`` and ``test`` after every epoch; report both protocols.

    With ``run_dir`` the state is checkpointed to ``run_dir/checkpoint.pt`` after an epoch once
    ``cfg.checkpoint_interval_s`` has passed since the last checkpoint, and after the last epoch; with ``resume`` a
    run found there continues where it stopped (ending with the same numbers as an uninterrupted run); a checkpoint of
    another config, data, model or world size is refused (:class:`~fer_lib.engine.checkpoint.CheckpointMismatchError`).
    Normalisation statistics come from ``train`` only. Under ``torchrun`` it trains data-parallel; rank 0 writes.
    ``fit`` writes nothing else: the run folder's metrics and figures are written by the caller from the result.
    """
    device = cfg.resolved_device()
    if cfg.amp == "fp16" and device.type != "cuda":
        raise ValueError("amp='fp16' (autocast + GradScaler) needs CUDA; use amp='bf16' (CPU and GPU), 'auto' or 'none'")
    for split in (val, test):
        if split is not None and split.class_names != train.class_names:
            raise ValueError(f"{split.split} classes {split.class_names} differ from train classes {train.class_names}")
    with torch_settings(cfg, device):
        return _fit(model, train, val, test, cfg, device, Path(run_dir) if run_dir is not None else None, resume)


def _fit(
    net: nn.Module,
    train: FaceDataset,
    val: FaceDataset | None,
    test: FaceDataset | None,
    cfg: TrainConfig,
    device: torch.device,
    run_dir: Path | None,
    resume: bool,
) -> FitResult:
    ctx = init_distributed(device)
    device = ctx.device
    # "auto" becomes the precision measured fastest at fit's thread count, rank 0's choice on every rank; the
    # checkpoint and the result record it
    cfg = dataclasses.replace(cfg, amp=from_rank0(resolve_amp(cfg.amp, device), ctx))
    torch.manual_seed(derive_seed(cfg.seed, GLOBAL_STREAM, ctx.rank))  # dropout and any other use of the global generator
    augment_generator = torch.Generator(device).manual_seed(derive_seed(cfg.seed, AUGMENT_STREAM, ctx.rank))
    mean, std = normalization_stats(train)
    normalize = Normalize(mean, std).to(device)
    # augmenters run on normalised batches; FlowAugment maps its batch back to map units to transform (u, v) as vectors
    augment = build_augment(cfg.augment, augment_generator, normalize)
    mixup = Mixup(cfg.mixup_alpha, cfg.seed, ctx.rank) if cfg.mixup_alpha > 0 else None
    train_data = TensorSplit.from_dataset(train, device, cfg.data_on_device)
    val_data = TensorSplit.from_dataset(val, device, cfg.data_on_device) if val is not None else None
    test_data = TensorSplit.from_dataset(test, device, cfg.data_on_device) if test is not None else None

    net.to(device)
    if cfg.channels_last and all(p.ndim != 5 for p in net.parameters()):  # a 4-D layout: models with 3-D convs keep theirs
        net.to(memory_format=torch.channels_last)
    # the averaged copy is made before DDP and compile wrap the model: it is evaluated eagerly, like the model itself
    averaged = weight_average(net, cfg.ema_decay) if cfg.ema_decay > 0 else None
    evaluated = averaged.module if averaged is not None else net
    model = wrap_model(net, ctx)
    if cfg.compile:  # the training steps only: evaluation runs the eager module, whose last batch has another shape
        check_compile_toolchain(device)
        model = torch.compile(model)
    params = sum(p.numel() for p in net.parameters())
    steps_per_epoch = len(train) // ctx.world_size // cfg.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"{len(train)} training images on {ctx.world_size} process(es) make no full batch of {cfg.batch_size}")
    optimizer = build_optimizer(net, cfg)
    scheduler = build_scheduler(optimizer, cfg, steps_per_epoch)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.amp == "fp16")  # loss scaling keeps small fp16 gradients from flushing to 0
    criterion = build_criterion(cfg.class_weights, cfg.label_smoothing, train.labels, len(train.class_names), device)

    history: list[dict[str, float]] = []
    honest, test_selected = _Selection(), _Selection()
    start_epoch = 0
    path = run_dir / CHECKPOINT_NAME if run_dir is not None else None
    identity: dict[str, Any] = {}
    if path is not None:
        identity = {
            "config": cfg.to_dict(),
            "data": {name: data_fingerprint(split) for name, split in (("train", train), ("val", val), ("test", test))},
            "architecture": {"class": type(net).__name__, "params": params},
            "world_size": ctx.world_size,
            "device_type": device.type,
        }
        if resume and path.exists():
            checkpoint = load_checkpoint(path)
            check_compatible(checkpoint, identity, path)
            net.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            scheduler.load_state_dict(checkpoint["scheduler"])
            scaler.load_state_dict(checkpoint["scaler"])
            if averaged is not None:
                averaged.load_state_dict(checkpoint["weight_average"])
            restore_rng(checkpoint["rng"], augment_generator, ctx)
            history = list(checkpoint["history"])
            honest, test_selected = _Selection(checkpoint["selection"]["honest"]), _Selection(checkpoint["selection"]["test_selected"])
            start_epoch = checkpoint["epoch"]
            log.info("resuming %s after epoch %d of %d", path, start_epoch, cfg.epochs)
        elif path.exists():
            log.info("resume=False: starting over; %s will be overwritten", path)

    column = METRIC_COLUMN[cfg.select_metric]
    last_checkpoint = time.perf_counter()
    for epoch in tqdm(range(start_epoch, cfg.epochs), initial=start_epoch, total=cfg.epochs, desc="epochs", disable=hide_progress(cfg, ctx)):
        started, cpu_started = time.perf_counter(), time.process_time()
        lr = optimizer.param_groups[0]["lr"]  # the LR of the epoch's first step (it changes every step)
        desc = f"epoch {epoch + 1}/{cfg.epochs}"
        indices = epoch_indices(len(train_data), epoch, cfg.seed, ctx)
        stats = train_one_epoch(
            model, train_data, indices, normalize, augment, criterion, optimizer, scheduler, scaler, cfg, device, ctx, desc, mixup, epoch, averaged
        )
        sync_buffers(net, ctx)
        if averaged is not None:  # each rank averaged its own BatchNorm statistics
            sync_buffers(evaluated, ctx)
        val_result = evaluate(evaluated, val_data.images, val_data.labels, normalize, cfg, ctx) if val_data is not None else None
        test_result = evaluate(evaluated, test_data.images, test_data.labels, normalize, cfg, ctx) if test_data is not None else None
        row = _history_row(epoch + 1, lr, stats, val_result, test_result, train.class_names, time.perf_counter() - started)
        row |= _contention(row["seconds"], time.process_time() - cpu_started)
        history.append(row)
        # honest: best validation score; without validation, every epoch replaces the last (-> the final epoch)
        with_val = val_result is not None
        honest.offer(epoch + 1, row[f"val_{column}"] if with_val else None, test_result, evaluated if with_val else None)
        if test_result is not None:
            test_selected.offer(epoch + 1, row[f"test_{column}"], test_result)
        if ctx.is_main:
            log.info(_describe(row))
        if path is not None and _checkpoint_due(epoch + 1, cfg, last_checkpoint, ctx):
            state = {
                "format": FORMAT_VERSION,
                **identity,
                "epoch": epoch + 1,
                "model": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict(),
                "rng": capture_rng(augment_generator, ctx),  # a collective: every rank takes part
                "history": history,
                "selection": {"honest": honest.state(), "test_selected": test_selected.state()},
                "normalize": {"mean": torch.from_numpy(mean), "std": torch.from_numpy(std)},
            }
            if averaged is not None:
                state["weight_average"] = averaged.state_dict()
            if ctx.is_main:
                save_checkpoint(state, path)
            last_checkpoint = time.perf_counter()

    if honest.model_state is not None:
        net.load_state_dict(honest.model_state)
    elif averaged is not None:  # no validation split: the last epoch's averaged weights are the ones evaluated
        net.load_state_dict(evaluated.state_dict())
    frame = pd.DataFrame(history)
    honest_on = f"val {cfg.select_metric}" if val is not None else "last epoch (no validation split)"
    return FitResult(
        history=frame,
        honest=_protocol("honest", honest, honest_on, train.class_names),
        test_selected=_protocol("test_selected", test_selected, f"test {cfg.select_metric}", train.class_names),
        train_wall_s=float(frame["seconds"].sum()),
        train_images_per_s=float((frame["images_per_s"] * frame["train_s"]).sum() / frame["train_s"].sum()),
        params=params,
        device=str(device),
        world_size=ctx.world_size,
        epochs=cfg.epochs,
        normalize_mean=tuple(float(v) for v in mean),
        normalize_std=tuple(float(v) for v in std),
        config=cfg.to_dict(),
        class_names=train.class_names,
    )


def _history_row(
    epoch: int, lr: float, stats: TrainStats, val: EvalResult | None, test: EvalResult | None, class_names: tuple[str, ...], seconds: float
) -> dict[str, float]:
    """One history row (plain floats, so the checkpoint stays ``weights_only``-loadable); missing splits give NaN."""
    row = {"epoch": epoch, "lr": float(lr), "train_loss": stats.loss, "train_acc": stats.accuracy}
    for name, result in (("val", val), ("test", test)):
        metrics = result.metrics(class_names) if result is not None else {}
        row[f"{name}_loss"] = result.loss if result is not None else math.nan
        for key, column in (("accuracy", "acc"), ("macro_f1", "macro_f1"), ("uar", "uar")):
            row[f"{name}_{column}"] = metrics.get(key, math.nan)
    row.update({"train_s": stats.seconds, "seconds": seconds, "images_per_s": stats.images_per_s})
    return row


def _checkpoint_due(epoch: int, cfg: TrainConfig, last_checkpoint: float, ctx: DistContext) -> bool:
    """Whether to checkpoint after ``epoch``: after the last one always (a finished fold is read back from it), else
    once ``cfg.checkpoint_interval_s`` has passed since ``last_checkpoint``. Rank 0's clock decides for every rank, since
    capturing the RNG states is a collective."""
    if epoch == cfg.epochs:
        return True
    return bool(from_rank0(time.perf_counter() - last_checkpoint >= cfg.checkpoint_interval_s, ctx))


def _contention(seconds: float, cpu_seconds: float) -> dict[str, float]:
    """Why an epoch was slow: this process's CPU seconds per wall second (≈ the thread count when it had the cores to
    itself; far less when other jobs took them) and the machine's 1-minute load average at the epoch's end."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return {"cpu_per_wall": cpu_seconds / seconds if seconds > 0 else math.nan, "load_avg": load}


def _describe(row: dict[str, float]) -> str:
    return (
        f"epoch {row['epoch']}: lr {row['lr']:.4g} | train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f} | "
        f"val acc {row['val_acc']:.4f} F1 {row['val_macro_f1']:.4f} | test acc {row['test_acc']:.4f} F1 {row['test_macro_f1']:.4f} | "
        f"{row['seconds']:.1f} s, {row['images_per_s']:.0f} img/s"
    )


def _protocol(name: str, selection: _Selection, selected_on: str, class_names: tuple[str, ...]) -> ProtocolResult | None:
    if selection.test is None:
        return None
    return ProtocolResult(name, selection.epoch, selected_on, selection.test, selection.test.metrics(class_names))
