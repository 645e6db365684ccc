"""Exponential moving average (EMA) of a model's weights, the copy that is evaluated when ``TrainConfig.ema_decay`` > 0.

After every optimizer step the averaged copy moves towards the trained weights, ``w_ema ← d·w_ema + (1-d)·w``, BatchNorm
statistics included (Polyak averaging; timm's ``ModelEma``). On small, noisy training sets (a leave-one-subject-out fold of
MEGC2019 holds about 430 flow maps, paper §4.2) the average is a smoother model than the last step's weights.

The decay warms up as in timm: ``d = min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so a short run is not dominated
by its random initialisation. The averaging is :class:`torch.optim.swa_utils.AveragedModel`, whose update counter is a
buffer: the averaged model's ``state_dict`` alone resumes it exactly.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

WARMUP_OFFSET = 10  # timm's ModelEmaV3 warm-up: d = (1 + n) / (10 + n) until it reaches the configured decay


def ema_multi_avg_fn(decay: float):
    """``AveragedModel``'s ``multi_avg_fn``: one EMA step over a device's tensors of one dtype, with the warmed-up decay."""

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        effective = torch.clamp((1 + num_averaged) / (WARMUP_OFFSET + num_averaged), max=decay)
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1 - effective.to(averaged[0].dtype))
        else:  # integer buffers (BatchNorm's num_batches_tracked) count steps: take the trained model's
            for target, source in zip(averaged, current):
                target.copy_(source)

    return update


def weight_average(model: nn.Module, decay: float) -> AveragedModel:
    """An EMA copy of ``model`` (parameters and buffers) for :meth:`AveragedModel.update_parameters` after each step."""
    if not 0 < decay < 1:
        raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
    return AveragedModel(model, multi_avg_fn=ema_multi_avg_fn(decay), use_buffers=True)
