"""MFFM: multi-layer feature fusion with a feature interaction module (FIM) (paper §4.2.2, fig. 6).

"The MFFM module is used to fuse features from various levels. It learns interactively from features from different
levels through FIM to produce more comprehensive and expressive feature representations." Reading: each backbone
stage's output is globally average-pooled and projected to a common width (one linear + LayerNorm per level, so each
level keeps its own embedding); FIM lets the level tokens attend to one another (multi-head self-attention across the
L levels, residual + LayerNorm: every level is re-expressed with what the others saw); the fused vector is the mean of
the interacted level tokens.

Shapes: a list of L stage maps ``(N, C_l, H_l, W_l)`` → ``(N, dim)``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class FeatureInteraction(nn.Module):
    """FIM: self-attention across level tokens with a residual and LayerNorm. ``(N, L, dim)`` → ``(N, L, dim)``."""

    def __init__(self, dim: int, num_heads: int = 4) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.norm(tokens + self.attn(tokens, tokens, tokens, need_weights=False)[0])


class MultiLevelFeatureFusion(nn.Module):
    """MFFM: pool each level, project to ``dim``, interact (FIM), average the levels. ``[(N, C_l, H_l, W_l)]`` → ``(N, dim)``."""

    def __init__(self, in_channels: Sequence[int], dim: int, num_heads: int = 4) -> None:
        super().__init__()
        self.projections = nn.ModuleList(nn.Sequential(nn.Linear(c, dim), nn.LayerNorm(dim)) for c in in_channels)
        self.interaction = FeatureInteraction(dim, num_heads)

    def forward(self, levels: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(levels) != len(self.projections):
            raise ValueError(f"expected {len(self.projections)} levels, got {len(levels)}")
        tokens = torch.stack([proj(level.mean((2, 3))) for proj, level in zip(self.projections, levels)], dim=1)  # (N, L, dim)
        return self.interaction(tokens).mean(1)
