"""Deformable convolution + CBAM on a ResNet18 backbone — paper §4.1.2 (eq. 1, figs 3–4), claimed 73.22 % on FER2013.

Reading of the paper: convolutions whose sampling grid is shifted by learned offsets ΔA_n (eq. 1, bilinear
interpolation; :class:`~fer_lib.layers.deform_conv.DeformConv2d`) widen and bend the receptive field to the face's
regions, and CBAM (channel attention from average- and max-pooled descriptors through a shared MLP, then spatial
attention from channel-wise average and max maps; :class:`~fer_lib.layers.cbam.CBAM`) reweights channels and
positions. The paper names no backbone, depth or placement; we use the study's ResNet18 (``fer_lib.models.resnet``)
and register the ablations the report needs:

* ``dcn_cbam``      — deformable 3×3 convs in stages 3–4 and CBAM in every block;
* ``resnet18_dcn``  — the deformable convs only;
* ``resnet18_cbam`` — CBAM only (plain convs);
* ``resnet18_fer``  — neither (:mod:`fer_lib.models.baselines`).

Deviations from paper (choices it leaves open):

* Backbone: ResNet18 BasicBlocks with the study's FER stems (48 px grey: 3×3 s1 + 3×3 s2 convs; ≥ 64 px: ImageNet stem).
* Placement of deformable convs: the second 3×3 conv of every block in stages 3–4 (``deformable_stages=(3, 4)``;
  DCNv1, Dai et al. 2017, used the last stage, DCNv2, Zhu et al. 2019, stages 2–4). At 48 px these run at 6×6 and 3×3,
  at 112 px at 7×7 and 4×4. ``deformable_stages=(2, 3, 4)`` gives the DCNv2 placement; it adds the 12×12 stage whose
  sampling is the most expensive (column tensor 166 k values per image vs 83 k and 41 k): the deformable convs then
  take ≈ 40–45 % of a training step instead of ≈ 30 % (batch 64, 48 px, 2 threads; ``benchmarks/deform_conv.py``).
* Deformable conv: DCNv1 (no modulation mask, eq. 1 has none), one offset group, offsets from a zero-initialised 3×3
  conv (every block starts as a plain conv); no reduced learning rate for the offset branch (DCN papers use 0.1–1×).
  The deformable 3×3 weights get the backbone's Kaiming-normal (fan-out) init, so the ablations differ only in the module.
* CBAM: in every block, on the residual branch before the addition (Woo et al.'s ResBlock + CBAM), reduction 16,
  7×7 spatial kernel, BatchNorm after the spatial conv as in the authors' code.
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

from ..layers.cbam import CBAM
from ..layers.deform_conv import DeformConv2d, deform_convs
from .registry import register_model
from .resnet import BasicBlock, ResNet


def _resnet18(num_classes: int, in_chans: int, img_size: int, deformable_stages: Sequence[int], attention: bool, **kwargs) -> ResNet:
    """ResNet18 with ``DeformConv2d`` as the second 3×3 conv of every block in ``deformable_stages`` (numbered 1–4)
    and, if ``attention``, CBAM in every block."""
    stage_kwargs = [
        {**({"conv_layer": DeformConv2d} if stage in deformable_stages else {}), **({"attn_layer": CBAM} if attention else {})}
        for stage in range(1, 5)
    ]
    model = ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_chans, img_size, stage_kwargs=stage_kwargs, **kwargs)
    # ResNet._init_weights reaches nn.Conv2d only: give the deformable convs the init of the convs they replace
    for _, layer in deform_convs(model):
        nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
    return model


@register_model
def dcn_cbam(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, deformable_stages: Sequence[int] = (3, 4), **kwargs) -> nn.Module:
    return _resnet18(num_classes, in_chans, img_size, deformable_stages, attention=True, **kwargs)


@register_model
def resnet18_dcn(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, deformable_stages: Sequence[int] = (3, 4), **kwargs) -> nn.Module:
    return _resnet18(num_classes, in_chans, img_size, deformable_stages, attention=False, **kwargs)


@register_model
def resnet18_cbam(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, **kwargs) -> nn.Module:
    return _resnet18(num_classes, in_chans, img_size, deformable_stages=(), attention=True, **kwargs)
