"""CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018) — paper §4.1.2, figs 3–4.

Channel attention (CAM, fig. 3) then spatial attention (SAM, fig. 4), applied sequentially:

    M_c(F) = σ(MLP(AvgPool(F)) + MLP(MaxPool(F)))          F' = M_c(F) ⊗ F
    M_s(F') = σ(f^{7×7}([AvgPool_c(F'); MaxPool_c(F')]))     F'' = M_s(F') ⊗ F'

Each map goes through an :class:`~fer_lib.layers.attention_capture.AttentionMap` (``cam.map`` ``(N, C, 1, 1)``, ``sam.map``
``(N, 1, H, W)``), so :func:`~fer_lib.layers.attention_capture.capture_attention_maps` can draw them without changing ``forward``.
As in the authors' code (and timm), the SAM conv is followed by BatchNorm (``norm_layer``; ``None`` gives eq. 3 of
Woo et al. exactly) and the shared MLP is two 1×1 convs with biases and a ReLU.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .attention_capture import AttentionMap

NormLayer = Callable[[int], nn.Module]


class ChannelAttention(nn.Module):
    """CAM: average- and max-pooled descriptors → shared MLP (C → C/r → C) → sum → sigmoid → rescale channels.

    Shapes: ``(N, C, H, W)`` → ``(N, C, H, W)``; map ``(N, C, 1, 1)`` in [0, 1].
    """

    def __init__(self, channels: int, reduction: int = 16, act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), act_layer(), nn.Conv2d(hidden, channels, 1))
        self.map = AttentionMap()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # both descriptors go through the shared MLP in one batch of 2N; the pooling ops (not mean/amax) have bf16
        # channels-last kernels: mean upcasts a bf16 map to fp32 in a full copy, amax's backward compares every value
        descriptors = self.mlp(torch.cat((F.adaptive_avg_pool2d(x, 1), F.adaptive_max_pool2d(x, 1))))
        return x * self.map(descriptors.view(2, *x.shape[:2], 1, 1).sum(0).sigmoid())


class SpatialAttention(nn.Module):
    """SAM: channel-wise average and max maps → k×k conv (+ norm) → sigmoid → rescale positions.

    Shapes: ``(N, C, H, W)`` → ``(N, C, H, W)``; map ``(N, 1, H, W)`` in [0, 1].
    """

    def __init__(self, kernel_size: int = 7, norm_layer: NormLayer | None = nn.BatchNorm2d) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=norm_layer is None)
        self.norm = norm_layer(1) if norm_layer else nn.Identity()
        self.map = AttentionMap()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # sum / C rather than mean: mean upcasts a bf16 map to fp32 in a full copy first
        pooled = torch.cat((x.sum(1, keepdim=True) / x.shape[1], x.amax(1, keepdim=True)), dim=1)
        return x * self.map(self.norm(self.conv(pooled)).sigmoid())


class CBAM(nn.Module):
    """CAM then SAM (the sequential, channel-first order Woo et al. found best). ``(N, C, H, W)`` → ``(N, C, H, W)``."""

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        spatial_kernel_size: int = 7,
        act_layer: type[nn.Module] = nn.ReLU,
        norm_layer: NormLayer | None = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.cam = ChannelAttention(channels, reduction, act_layer)
        self.sam = SpatialAttention(spatial_kernel_size, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sam(self.cam(x))
