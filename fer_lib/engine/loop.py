"""``train_one_epoch`` and ``evaluate``: the two flat functions every model of the study is trained and tested with.

As in torchvision's ``references/classification/train.py``: one pass of SGD steps, one pass of inference, nothing
hidden. Batches come from :mod:`fer_lib.engine.batches` (uint8 tensors gathered by index, normalised and augmented
on the device). Loss and accuracy are accumulated as sums on the device and read once per epoch, so the loop never
waits for the GPU; evaluation returns all logits so every metric is computed on pooled predictions.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from ..metrics import classification_metrics
from .batches import TensorSplit, batch_slices, model_input
from .config import TrainConfig
from .distributed import DistContext, all_reduce_sum, chunk_bounds, gather_rows
from .mixup import MixedBatch, Mixup
from .precision import RESOLVED_PRECISIONS


@dataclass
class EvalResult:
    """Predictions on one split, in the split's row order (all on CPU).

    ``logits`` float32 ``(N, K)``; ``labels`` int64 ``(N,)``; ``loss`` the mean cross-entropy over all N rows (no label
    smoothing, so it is comparable between runs with different smoothing); ``probs`` and ``preds`` derive from logits.
    """

    logits: torch.Tensor
    labels: torch.Tensor
    loss: float

    @property
    def probs(self) -> torch.Tensor:
        """Softmax probabilities ``(N, K)``."""
        return self.logits.softmax(1)

    @property
    def preds(self) -> torch.Tensor:
        """Predicted class ids ``(N,)``."""
        return self.logits.argmax(1)

    def metrics(self, class_names: Sequence[str]) -> dict[str, Any]:
        """:func:`fer_lib.metrics.classification_metrics` of these predictions."""
        return classification_metrics(self.labels.numpy(), self.preds.numpy(), class_names)


@dataclass
class TrainStats:
    """One training epoch over all ranks: mean loss and accuracy of the (augmented) training batches, throughput."""

    loss: float
    accuracy: float
    images: int
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


def autocast(device: torch.device, amp: str) -> AbstractContextManager:
    """Mixed-precision context: bf16 autocast (CPU or GPU), fp16 autocast (CUDA, with a GradScaler), or nothing.

    ``amp`` is a resolved precision: :func:`~fer_lib.engine.fit` resolves ``"auto"`` once, at its thread count, and
    hands the loops the concrete value (callers outside ``fit`` use :func:`~fer_lib.engine.precision.resolve_amp`).
    """
    if amp not in RESOLVED_PRECISIONS:
        raise ValueError(f"amp must be one of {RESOLVED_PRECISIONS} here, got {amp!r}: resolve 'auto' first with fer_lib.engine.resolve_amp")
    if amp == "none":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside ``torch.compile``'s wrapper and ``DistributedDataParallel`` (or the model itself)."""
    model = getattr(model, "_orig_mod", model)  # torch.compile's OptimizedModule keeps the module it compiled here
    return model.module if isinstance(model, DistributedDataParallel) else model


def train_one_epoch(
    model: nn.Module,
    data: TensorSplit,
    indices: torch.Tensor,
    normalize: nn.Module,
    augment: nn.Module | None,
    criterion: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    cfg: TrainConfig,
    device: torch.device,
    ctx: DistContext = DistContext(),
    desc: str = "train",
    mixup: Mixup | None = None,
    epoch: int = 0,
    weight_average: AveragedModel | None = None,
) -> TrainStats:
    """Optimizer steps over ``indices`` (this rank's permutation shard) in batches of ``cfg.batch_size``, last partial batch dropped.

    The scheduler steps once per batch (warm-up and cosine are per step, so short runs get a smooth schedule). When the
    model has a method ``auxiliary_loss()`` (a scalar tensor computed during its forward, e.g. a regulariser on
    attention heads), it is added to the classification loss. With ``mixup`` (drawn per ``epoch`` and step) each batch
    is blended after augmentation; the loss and the training accuracy then weigh both labels of a blend by ``λ``.
    With ``weight_average`` (:mod:`fer_lib.engine.weight_average`) the averaged copy is updated after every step.
    """
    model.train()
    if augment is not None:
        augment.train()
    auxiliary_loss = getattr(unwrap(model), "auxiliary_loss", None)
    loss_sum = torch.zeros((), device=device)  # summed on the device and read once at the end: no per-step sync
    correct = torch.zeros((), device=device)
    seen = 0
    start = time.perf_counter()
    steps = len(indices) // cfg.batch_size
    for step, batch in enumerate(tqdm(batch_slices(indices, cfg.batch_size, drop_last=True), total=steps, desc=desc, leave=False, disable=hide_progress(cfg, ctx))):
        images, labels = data.batch(batch, device)
        x = model_input(images, normalize, augment, cfg.channels_last)
        mixed = mixup(x, labels, epoch, step) if mixup is not None else MixedBatch(x, labels, labels, 1.0)
        with autocast(device, cfg.amp):
            logits = model(mixed.inputs)
            loss = mixed.lam * criterion(logits, labels)
            if mixed.lam < 1:
                loss = loss + (1 - mixed.lam) * criterion(logits, mixed.partner_labels)
            loss = loss + (auxiliary_loss() if auxiliary_loss is not None else 0)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the loss-scaled ones
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if weight_average is not None:
            weight_average.update_parameters(unwrap(model))
        loss_sum += loss.detach().float() * len(batch)
        predicted = logits.argmax(1)
        correct += mixed.lam * (predicted == labels).sum() + (1 - mixed.lam) * (predicted == mixed.partner_labels).sum()
        seen += len(batch)
    totals = torch.stack([loss_sum, correct, torch.tensor(float(seen), device=device)])
    total_loss, total_correct, total_seen = all_reduce_sum(totals, ctx).tolist()  # .tolist() waits for the device: honest timing
    seconds = time.perf_counter() - start
    return TrainStats(total_loss / max(total_seen, 1), total_correct / max(total_seen, 1), int(total_seen), seconds)


@torch.no_grad()
def evaluate(
    model: nn.Module, images_u8: torch.Tensor, labels: torch.Tensor, normalize: nn.Module, cfg: TrainConfig, ctx: DistContext = DistContext()
) -> EvalResult:
    """Logits of every row of ``images_u8`` (uint8 ``(N, C, H, W)`` or clips ``(N, T, C, H, W)``), in eval mode, no augmentation.

    Uses ``cfg.eval_batch_size``, ``cfg.amp`` (a resolved precision) and ``cfg.channels_last``; runs on the model's device. Under DDP each
    rank evaluates a contiguous chunk of rows and the logits are gathered to every rank (call
    :func:`~fer_lib.engine.distributed.sync_buffers` first so all ranks hold the same BatchNorm statistics).
    The model's train/eval mode is restored afterwards.
    """
    net = unwrap(model)
    device = next(net.parameters()).device
    normalize = normalize.to(device)
    if len(labels) < ctx.world_size:
        raise ValueError(f"cannot evaluate {len(labels)} rows on {ctx.world_size} ranks")
    was_training = net.training
    net.eval()
    data = TensorSplit(images_u8, labels)
    start, stop = chunk_bounds(len(labels), ctx)
    chunks = []
    with autocast(device, cfg.amp):
        for batch in batch_slices(torch.arange(start, stop), cfg.eval_batch_size, drop_last=False):
            images, _ = data.batch(batch, device)
            chunks.append(net(model_input(images, normalize, None, cfg.channels_last)).float())
    net.train(was_training)
    logits = gather_rows(torch.cat(chunks), len(labels), ctx).cpu()
    labels = labels.cpu()
    return EvalResult(logits, labels, F.cross_entropy(logits, labels).item())


def hide_progress(cfg: TrainConfig, ctx: DistContext) -> bool | None:
    """tqdm's ``disable``: hidden on ranks > 0; ``None`` lets tqdm hide it when stderr is not a terminal."""
    if not ctx.is_main:
        return True
    return None if cfg.progress is None else not cfg.progress
