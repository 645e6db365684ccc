"""STSTNet: Shallow Triple Stream Three-dimensional CNN (Liong et al., "Shallow Triple Stream Three-dimensional CNN
(STSTNet) for Micro-expression Recognition", FG 2019 / MEGC2019) — the micro-expression baseline of this study.

Not one of the paper's four methods, but the reference its micro-expression numbers are read against (§4.2): the
same MEGC2019 composite, the same 28×28 (u, v, optical strain) inputs, leave-one-subject-out. Its authors published
one model per left-out subject, so it is also an independent correctness check of our flow loader, label mapping,
LOSO folds and metrics: loaded into this module, those weights must reproduce the published UF1 0.7209 / UAR 0.7250.

Architecture (the authors' PyTorch code): three parallel 3×3 conv streams of 3, 5 and 8 filters (padding 2) on the
3-channel flow input, each conv → ReLU → BN → 3×3 max-pool (stride 3, padding 1) → dropout; the 16 maps concatenated,
2×2 average-pooled and flattened (16 × 5 × 5 = 400 at 28 px) into one fully connected layer. The parameter names
(``conv1-3``, ``bn1-3``, ``fc``) are the published state dict's. The published weights expect the PNGs as ``cv2.imread``
reads them — planes (strain, v, u), 0–255, no normalisation (:mod:`fer_lib.published_weights`); trained here, it gets
the engine's (u, v, strain) maps normalised with the training split's statistics.

Deviations from the authors' code: none in the layers. ``merge`` (an identity on the concatenated streams) is added
as the Grad-CAM target layer; it has no parameters, so the published state dict loads unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_model

STREAM_WIDTHS = (3, 5, 8)


class STSTNet(nn.Module):
    """Three shallow conv streams, concatenated, pooled, one linear layer. ``(N, C, H, W)`` → logits ``(N, num_classes)``."""

    def __init__(self, num_classes: int = 3, in_chans: int = 3, img_size: int = 28, dropout: float = 0.5) -> None:
        super().__init__()
        # Attribute names match the published state dict (conv1, bn1, ..., fc), hence no ModuleList.
        self.conv1, self.conv2, self.conv3 = (nn.Conv2d(in_chans, width, 3, padding=2) for width in STREAM_WIDTHS)
        self.bn1, self.bn2, self.bn3 = (nn.BatchNorm2d(width) for width in STREAM_WIDTHS)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=3, padding=1)
        self.avgpool = nn.AvgPool2d(2, stride=2)
        self.dropout = nn.Dropout(dropout)
        self.merge = nn.Identity()
        side = ((img_size + 2 + 2 - 3) // 3 + 1) // 2  # conv (padding 2) → max-pool /3 (padding 1) → avg-pool /2
        self.fc = nn.Linear(sum(STREAM_WIDTHS) * side * side, num_classes)
        self.cam_layer = self.merge

    def _stream(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
        # ReLU before BN, as the authors' code has it.
        return self.dropout(self.maxpool(bn(self.relu(conv(x)))))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` → concatenated stream maps ``(N, 16, H', W')`` after average pooling."""
        streams = [self._stream(conv, bn, x) for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3))]
        return self.avgpool(self.merge(torch.cat(streams, 1)))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model(input_kind="flow", modality="flow")
def ststnet(num_classes: int = 3, in_chans: int = 3, img_size: int = 28, **kwargs) -> STSTNet:
    """STSTNet (Liong et al. 2019) on ``in_chans`` flow maps of ``img_size`` px (published: 3 × 28 × 28)."""
    return STSTNet(num_classes, in_chans, img_size, **kwargs)
