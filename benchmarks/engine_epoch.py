"""The engine's training pass as the speed benchmarks time it: a model with its own optimizer, one call per pass."""

from __future__ import annotations

from typing import Callable

import torch

from fer_lib.engine import TensorSplit, TrainConfig, train_one_epoch
from fer_lib.engine.fit import build_optimizer, build_scheduler
from fer_lib.preprocess import Normalize
from fer_lib.preprocess.flow_augment import build_augment


def epoch_runner(model: torch.nn.Module, data: TensorSplit, cfg: TrainConfig, normalize: Normalize | None = None) -> Callable[[torch.Tensor], float]:
    """A function that trains ``model`` on the CPU with :func:`fer_lib.engine.train_one_epoch` over the given indices of
    ``data`` (``cfg``'s augmentation, optimizer, batch and resolved precision; ``normalize`` defaults to one grey
    channel's) and returns its images/s."""
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, max(1, len(data) // cfg.batch_size))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    normalize = normalize or Normalize(0.5, 0.25)
    augment = build_augment(cfg.augment, torch.Generator().manual_seed(0), normalize)
    criterion = torch.nn.CrossEntropyLoss()
    device = torch.device("cpu")
    return lambda idx: train_one_epoch(model, data, idx, normalize, augment, criterion, optimizer, scheduler, scaler, cfg, device).images_per_s
