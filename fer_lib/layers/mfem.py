"""MFEM: multi-region feature extraction module (paper §4.2.2, fig. 7; cited as C. Cao, D. Zhang, "Micro-expression
recognition combining multi-region features and feature fusion", 2024).

"The module uses a parallel architecture to prevent interference that might occur in serial architectures. It uses
SAM to obtain spatial attention and two CAMs to better obtain channel attention." One spatial attention (CBAM's SAM)
and two channel attentions (CBAM's CAM, independent weights) all read the same input F, side by side — unlike CBAM,
where SAM reads CAM's output — and their attended features are averaged onto a residual:

    F' = F + (SAM(F) + CAM₁(F) + CAM₂(F)) / 3 = F ⊙ (1 + (M_s + M_c1 + M_c2) / 3)

The mean keeps the module's gain in (1, 2) whatever the maps are; the residual keeps F itself flowing to the next
ResNet stage (MFEM sits on the backbone's main path, between stages), so a branch that learns to close its gate
cannot erase the stage's output. Maps: ``sam.map`` ``(N, 1, H, W)``, ``cam1.map`` / ``cam2.map`` ``(N, C, 1, 1)``.
"""

from __future__ import annotations

import torch
from torch import nn

from .cbam import ChannelAttention, SpatialAttention


class MFEM(nn.Module):
    """One SAM and two CAMs in parallel on the same features, attended features averaged, plus the input.

    Shapes: ``(N, C, H, W)`` → ``(N, C, H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 16, spatial_kernel_size: int = 7) -> None:
        super().__init__()
        self.sam = SpatialAttention(spatial_kernel_size)
        self.cam1 = ChannelAttention(channels, reduction)
        self.cam2 = ChannelAttention(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (self.sam(x) + self.cam1(x) + self.cam2(x)) / 3
