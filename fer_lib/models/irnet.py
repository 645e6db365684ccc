"""IRNet — ResNet50 with multi-head cross-attention (paper §4.1.1, figs 1–2; cited as M. Qiu, Nanchang University, 2024).

"Conv2 to conv5 replace the 3×3 convolutional layers" with a multi-head cross-attention module: parallel heads, each
a spatial attention module followed by a channel attention module, the heads' attended features fused, BN for stable
training. Here the module (:class:`~fer_lib.layers.cross_attention.MultiHeadCrossAttention`) is the ``conv_layer`` of
the ResNet50 bottlenecks, so ``irnet`` and ``resnet50_fer`` are the same backbone and differ only by the module.

Registered:

* ``irnet`` — 4 heads in every bottleneck of conv2–conv5 (16 modules).
* ``irnet_single_head`` — ablation: one head (spatial → channel attention, no parallel heads), to show what "multi-head" adds.
* ``resnet50_fer`` (in ``baselines.py``) — ablation: plain 3×3 convs.

Deviations from paper (everything the paper leaves open):

* **Which 3×3 convs.** "Conv2 to conv5 replace the 3×3 convolutional layers in the second to fifth parts" is read as
  all 3×3 convs of those stages (the "part of the convolutional layers" replaced being the 3×3 ones, not the 1×1s or
  the stem). ``replace_last=(k2, k3, k4, k5)`` keeps the module in only the last ``k`` blocks of each stage.
* **What the module computes.** The paper's figures are not available; heads follow DAN (Wen et al. 2021), the closest
  public design: spatial attention = 1×1 reduction then 3×3 + 1×3 + 3×1 convs summed, ReLU, channel sum; channel
  attention = GAP → linear → BN → ReLU → linear → sigmoid. "Cross" is DAN's sense: spatial crossed with channel
  attention in each head (not query/key attention between two inputs).
* **Value path.** Spatial and channel gating alone cannot filter features across positions, so the replaced 3×3 conv
  is kept as the heads' value path and the heads re-weight it (``out = Σ_h value ⊙ s_h ⊙ c_h``); the module keeps
  the in/out size of the conv it replaces, as the paper requires. Without it the block would be 1×1 → gate → 1×1.
* **Bounded spatial maps.** DAN's spatial map is an unbounded ReLU sum (its heads sit after the backbone); inside 16
  residual blocks we normalise it with BN and a sigmoid (as CBAM's SAM), so it re-weights in (0, 1).
* **Sizes.** 4 heads (DAN's default). Spatial branch per head: 1×1 reduction to C/16 channels, kept at C/16 by the
  3×3/1×3/3×1 kernels (DAN: C/2, widened back to C); channel MLP hidden width C/16 (as DAN); both at least 4. DAN's
  widths would make every head cost about as much as the conv it sits on; ours cost +10 % (fp32) / +15 % (bf16)
  training time over ``resnet50_fer`` at 48 px for all 16 modules together (C/8 measured +17 % / +20 %).
* **One BN for the three kernels.** DAN puts a BN on each of the 3×3, 1×3 and 3×1 branches; we sum the kernels into one
  3×3 kernel and apply one conv + BN (ACNet, Ding et al. 2019): the same function class, a third of the cost.
* **Fusion and BN.** Heads are fused by summation (DAN's default), followed by the bottleneck's own BatchNorm; the
  classifier is the ResNet head (global average pool → linear), not DAN's FC + BN over head vectors.
* **No extra loss by default.** The paper names no loss besides classification. DAN's partition loss (heads attend to
  different regions) is available: ``partition_weight > 0`` makes :meth:`IRNet.auxiliary_loss` return the weighted mean
  of the per-module partition losses of the last training forward, for the training loop to add to the loss.
"""

from __future__ import annotations

import functools
from typing import Sequence

import torch
from torch import nn

from ..layers.cross_attention import MultiHeadCrossAttention
from .registry import register_model
from .resnet import Block, Bottleneck, ResNet


class IRNet(ResNet):
    """ResNet with :class:`MultiHeadCrossAttention` modules and DAN's optional partition loss (see module docstring).

    Shapes: ``(N, in_chans, img_size, img_size)`` → logits ``(N, num_classes)``.
    """

    def __init__(self, block: Block, layers: Sequence[int], *args, partition_weight: float = 0.0, **kwargs) -> None:
        super().__init__(block, layers, *args, **kwargs)
        self.partition_weight = partition_weight
        for module in self.cross_attention_modules():
            module.record_partition_loss = partition_weight > 0

    def cross_attention_modules(self) -> list[MultiHeadCrossAttention]:
        """The multi-head cross-attention modules, in forward order."""
        return [m for m in self.modules() if isinstance(m, MultiHeadCrossAttention)]

    def auxiliary_loss(self) -> torch.Tensor:
        """``partition_weight`` × mean partition loss of the last training forward (0 when off); clears what it read.

        Call once per training step, after ``model(x)``, and add it to the classification loss.
        """
        modules = self.cross_attention_modules()
        losses = [m.last_partition_loss for m in modules if m.last_partition_loss is not None]
        for module in modules:
            module.last_partition_loss = None
        return self.partition_weight * torch.stack(losses).mean() if losses else self.fc.weight.new_zeros(())


def _irnet(num_classes: int, in_chans: int, img_size: int, replace_last: Sequence[int] | None, attention: dict, **kwargs) -> IRNet:
    stage_kwargs = [{"conv_layer": functools.partial(MultiHeadCrossAttention, **attention)}] * 4
    return IRNet(Bottleneck, (3, 4, 6, 3), num_classes, in_chans, img_size, stage_kwargs=stage_kwargs, replace_last=replace_last, **kwargs)


@register_model
def irnet(
    num_classes: int = 7,
    in_chans: int = 1,
    img_size: int = 48,
    num_heads: int = 4,
    spatial_reduction: int = 16,
    channel_reduction: int = 16,
    replace_last: Sequence[int] | None = None,
    **kwargs,
) -> nn.Module:
    """IRNet; ``kwargs`` go to :class:`IRNet` (``partition_weight``, ``drop_rate``, ...)."""
    attention = {"num_heads": num_heads, "spatial_reduction": spatial_reduction, "channel_reduction": channel_reduction}
    return _irnet(num_classes, in_chans, img_size, replace_last, attention, **kwargs)


@register_model
def irnet_single_head(num_classes: int = 7, in_chans: int = 1, img_size: int = 48, replace_last: Sequence[int] | None = None, **kwargs) -> nn.Module:
    """Ablation: IRNet with one cross-attention head per module."""
    return _irnet(num_classes, in_chans, img_size, replace_last, {"num_heads": 1}, **kwargs)
