"""Plain ResNet baselines (He et al., CVPR 2016) with FER stems: the "no attention, plain conv" ablations.

``resnet18_fer`` / ``resnet34_fer`` / ``resnet50_fer`` are the backbones of DCN+CBAM, MFEM-BiLSTM and IRNet with
every study-specific module removed, so the report can show what each module adds.
"""

from __future__ import annotations

from torch import nn

from .registry import register_model
from .resnet import BasicBlock, Bottleneck, ResNet


@register_model
def resnet18_fer(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_chans, img_size, **kwargs)


@register_model
def resnet34_fer(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, in_chans, img_size, **kwargs)


@register_model
def resnet50_fer(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, in_chans, img_size, **kwargs)
