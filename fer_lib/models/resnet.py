"""ResNet backbone shared by the study's image models (He et al., CVPR 2016), adapted to FER input sizes.

Blocks take the layer that plays the 3×3 convolution (``conv_layer``) and an optional attention layer applied
to the residual branch before the addition (``attn_layer``, as CBAM places it), so IRNet, DCN+CBAM and their
ablations are the same backbone with different layers — the comparison the report needs.

Stems: inputs of at most 64 px (FER2013's 48×48 grey faces) use a 3×3 stride-1 conv followed by a 3×3 stride-2
conv, so stage 1 runs at 24×24 (the ImageNet stem's ×4 reduction would leave 12×12 and 2×2 at the last stage);
``stem_stride=4`` adds a 3×3 stride-2 max-pool (stage 1 at 12×12, about 4× fewer FLOPs: the CPU profile's choice).
Larger inputs use the ImageNet 7×7 stride-2 conv and max-pool.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

ConvLayer = Callable[..., nn.Module]  # (in_ch, out_ch, kernel_size, stride, padding, bias) -> module
AttnLayer = Callable[[int], nn.Module]  # (channels) -> module


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, conv_layer: ConvLayer = nn.Conv2d) -> nn.Sequential:
    return nn.Sequential(conv_layer(in_ch, out_ch, kernel_size=kernel, stride=stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(out_ch))


class BasicBlock(nn.Module):
    """3×3 → 3×3 residual block (ResNet18/34); ``conv_layer`` plays the second 3×3 conv."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1, conv_layer: ConvLayer = nn.Conv2d, attn_layer: AttnLayer | None = None) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = conv_bn(in_ch, width, 3, stride)
        self.conv2 = conv_bn(width, out_ch, 3, 1, conv_layer)
        self.attn = attn_layer(out_ch) if attn_layer else nn.Identity()
        self.shortcut = conv_bn(in_ch, out_ch, 1, stride) if stride != 1 or in_ch != out_ch else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.attn(self.conv2(self.act(self.conv1(x)))) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 residual block (ResNet50); ``conv_layer`` plays the 3×3 conv (stride 1; striding is done by the 1×1)."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, conv_layer: ConvLayer = nn.Conv2d, attn_layer: AttnLayer | None = None) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = conv_bn(in_ch, width, 1, stride)
        self.conv2 = conv_bn(width, width, 3, 1, conv_layer)
        self.conv3 = conv_bn(width, out_ch, 1)
        self.attn = attn_layer(out_ch) if attn_layer else nn.Identity()
        self.shortcut = conv_bn(in_ch, out_ch, 1, stride) if stride != 1 or in_ch != out_ch else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv2(self.act(self.conv1(x))))
        return self.act(self.attn(self.conv3(y)) + self.shortcut(x))


Block = type[BasicBlock] | type[Bottleneck]


def make_stem(in_chans: int, img_size: int, width: int = 64, stem_stride: int = 2) -> nn.Sequential:
    """Small inputs (≤ 64 px): 3×3 s1 + 3×3 s2 convs (÷2; ``stem_stride=4`` adds a 3×3 s2 max-pool).
    Larger inputs: ImageNet 7×7 s2 conv + 3×3 s2 max-pool (÷4)."""
    if stem_stride not in (2, 4):
        raise ValueError(f"stem_stride must be 2 or 4, got {stem_stride}")
    if img_size <= 64:
        layers = [conv_bn(in_chans, width // 2, 3), nn.ReLU(inplace=True), conv_bn(width // 2, width, 3, 2), nn.ReLU(inplace=True)]
        return nn.Sequential(*layers, *([nn.MaxPool2d(3, 2, 1)] if stem_stride == 4 else []))
    return nn.Sequential(conv_bn(in_chans, width, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))


class ResNet(nn.Module):
    """ResNet with per-stage block options: ``stage_kwargs[i]`` (e.g. ``conv_layer``, ``attn_layer``) go to every
    block of stage i, or only to its last ``replace_last[i]`` blocks when given (the "partly replaced" of IRNet).

    Shapes: ``(N, in_chans, img_size, img_size)`` → ``forward_features`` ``(N, C, h, w)`` → logits ``(N, num_classes)``.
    """

    def __init__(
        self,
        block: Block,
        layers: Sequence[int],
        num_classes: int = 7,
        in_chans: int = 1,
        img_size: int = 48,
        widths: Sequence[int] = (64, 128, 256, 512),
        stage_kwargs: Sequence[dict] | None = None,
        replace_last: Sequence[int] | None = None,
        drop_rate: float = 0.0,
        stem_stride: int = 2,
    ) -> None:
        super().__init__()
        stage_kwargs = stage_kwargs or [{}] * len(layers)
        self.stem = make_stem(in_chans, img_size, widths[0], stem_stride)
        stages, in_ch = [], widths[0]
        for i, (depth, width) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(depth):
                special = replace_last is None or j >= depth - replace_last[i]
                blocks.append(block(in_ch, width, 2 if (j == 0 and i > 0) else 1, **(stage_kwargs[i] if special else {})))
                in_ch = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.num_features = in_ch
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_ch, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # zero-init the last BN of each residual branch: every block starts as identity (Goyal et al. 2017)
        for m in self.modules():
            if isinstance(m, (BasicBlock, Bottleneck)):
                nn.init.zeros_(m.conv3[1].weight if isinstance(m, Bottleneck) else m.conv2[1].weight)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.pool(features).flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
