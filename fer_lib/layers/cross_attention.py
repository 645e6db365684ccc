"""Multi-head cross-attention (paper §4.1.1, fig. 2), written to stand in for a 3×3 convolution inside a ResNet block.

"Cross" is read as DAN's cross-attention head (Wen et al. 2021, "Distract your attention"): spatial attention
*crossed with* channel attention in series — "the input feature map first passes through the spatial attention module
to reallocate weights for spatial features, then through a channel attention module to reallocate weights for
different channels" (§4.1.1). Several such heads run in parallel on the same features; their attended features are
fused by summation (DAN's default fusion) and the block's BatchNorm follows ("BN ... accelerates convergence", §4.1.1).

The paper says the module replaces the 3×3 convolutions of conv2–conv5 and "does not change the size and dimension of
input features". Gating alone cannot mix features across positions, so a block whose 3×3 conv were *only* re-weighted
would lose its spatial filtering: we keep the 3×3 conv as the heads' value path (like attention's value projection)
and let every head h re-weight it with a spatial map ``s_h`` and a channel map ``c_h``:

    out = Σ_h value ⊙ s_h ⊙ c_h,   s_h = S_h(value) ∈ (0, 1)^(N,1,H,W),   c_h = C_h(GAP(value ⊙ s_h)) ∈ (0, 1)^(N,C,1,1)

Speed: the heads are independent (no shared weights) but computed together — one conv with ``heads × hidden``
outputs is ``heads`` separate 1×1 reductions, a grouped conv (``groups=heads``) is ``heads`` separate convs, BatchNorm
is per channel hence per head — and the sum over heads is folded into two batched matmuls
(``GAP(value ⊙ s_h)`` for all h, and ``Σ_h s_h c_h``), so no per-head copy of the feature map is ever made.

Every head's maps pass through an :class:`~fer_lib.layers.attention_capture.AttentionMap`, so ``capture_attention_maps`` returns one
spatial map ``(N, 1, H, W)`` and one channel map ``(N, C, 1, 1)`` per head (``...spatial.maps.<h>`` / ``...channel.maps.<h>``).

:func:`partition_loss` is DAN's head-diversity loss on the heads' spatial maps; a module records it only when its
``record_partition_loss`` is set (the IRNet model sets it when given a partition weight).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .attention_capture import AttentionMap

NormLayer = Callable[[int], nn.Module]


def partition_loss(spatial_maps: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """DAN's partition loss ``log(1 + heads / mean variance across heads)`` for maps ``(N, heads, H, W)``.

    Small when the heads' maps differ at each position, i.e. when the heads attend to different regions; 0 for one head.
    ``eps`` keeps identical maps (variance 0) finite.
    """
    num_heads = spatial_maps.shape[1]
    if num_heads == 1:
        return spatial_maps.new_zeros((), dtype=torch.float32)
    return torch.log1p(num_heads / (spatial_maps.float().var(dim=1).mean() + eps))


class MultiHeadSpatialAttention(nn.Module):
    """DAN's spatial attention, one per head: 1×1 reduction, then 3×3 + 1×3 + 3×1 convs summed (square and strip-shaped
    receptive fields), ReLU, summed over channels into one map.

    Two changes from DAN, both for use inside the backbone: (1) the three kernels are summed into one 3×3 kernel and
    applied as one conv followed by one BN (the sum of three convs *is* one conv, ACNet, Ding et al. 2019; DAN puts a
    BN on each branch, which triples the cost of the branch); (2) the map is normalised (BN) and squashed (sigmoid, as
    CBAM's SAM) — DAN's heads sit after the backbone, but an unbounded multiplicative map would compound over the 16
    blocks of a ResNet50.

    Shapes: ``(N, C, H, W)`` → spatial weights in (0, 1), ``(N, heads, H, W)``.
    """

    def __init__(self, channels: int, hidden: int, num_heads: int, norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        width = hidden * num_heads
        self.num_heads = num_heads
        # one 1×1 conv with heads × hidden outputs = one independent reduction per head
        self.reduce = nn.Sequential(nn.Conv2d(channels, width, 1, bias=False), norm_layer(width))
        # grouped kernels (groups = heads): one independent set of 3×3, 1×3, 3×1 kernels per head
        self.square = nn.Parameter(torch.empty(width, hidden, 3, 3))
        self.horizontal = nn.Parameter(torch.empty(width, hidden, 1, 3))
        self.vertical = nn.Parameter(torch.empty(width, hidden, 3, 1))
        self.mix_norm = norm_layer(width)
        self.act = nn.ReLU(inplace=True)
        self.norm = norm_layer(num_heads)
        self.maps = nn.ModuleList(AttentionMap() for _ in range(num_heads))
        for kernel in (self.square, self.horizontal, self.vertical):
            nn.init.kaiming_normal_(kernel, mode="fan_out", nonlinearity="relu")

    def kernel(self) -> torch.Tensor:
        """The 3×3 + 1×3 + 3×1 kernels as one 3×3 kernel ``(heads × hidden, hidden, 3, 3)``."""
        return self.square + F.pad(self.horizontal, (0, 0, 1, 1)) + F.pad(self.vertical, (1, 1, 0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self.act(self.mix_norm(F.conv2d(self.reduce(x), self.kernel(), padding=1, groups=self.num_heads)))
        weights = torch.sigmoid(self.norm(mixed.unflatten(1, (self.num_heads, -1)).sum(dim=2)))
        return torch.cat([marker(head) for marker, head in zip(self.maps, weights.split(1, dim=1))], dim=1)


class MultiHeadChannelAttention(nn.Module):
    """DAN's channel attention, one per head: pooled descriptor → linear → BN → ReLU → linear → sigmoid. The heads'
    linears are grouped 1×1 convs (``groups=heads``: one independent linear per head).

    Shapes: pooled descriptors ``(N, heads, C)`` → channel weights in (0, 1), ``(N, heads, C)``. The BatchNorm1d needs
    batches of ≥ 2 in training.
    """

    def __init__(self, channels: int, hidden: int, num_heads: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Conv1d(num_heads * channels, num_heads * hidden, 1, groups=num_heads),
            nn.BatchNorm1d(num_heads * hidden),
            nn.ReLU(inplace=True),
            nn.Conv1d(num_heads * hidden, num_heads * channels, 1, groups=num_heads),
        )
        self.maps = nn.ModuleList(AttentionMap() for _ in range(num_heads))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.mlp(pooled.flatten(1)[:, :, None])).view_as(pooled)
        return torch.stack([marker(head[:, :, None, None]) for marker, head in zip(self.maps, weights.unbind(1))], dim=1).flatten(2)


class MultiHeadCrossAttention(nn.Module):
    """Parallel cross-attention heads re-weighting a conv value path, fused by summation (§4.1.1, figs 1–2).

    Takes a conv's arguments first, so it can be passed as a ResNet block's ``conv_layer`` (same in/out channels and
    spatial size as the 3×3 conv it replaces); ``conv_layer`` builds the value path.

    Shapes: ``(N, in_ch, H, W)`` → ``(N, out_ch, H', W')`` with ``H', W'`` those of the value conv.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        bias: bool = False,
        num_heads: int = 4,
        spatial_reduction: int = 16,
        channel_reduction: int = 16,
        min_hidden: int = 4,
        conv_layer: Callable[..., nn.Module] = nn.Conv2d,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.value = conv_layer(in_ch, out_ch, kernel_size=kernel_size, stride=stride, padding=padding, bias=bias)
        self.spatial = MultiHeadSpatialAttention(out_ch, max(out_ch // spatial_reduction, min_hidden), num_heads, norm_layer)
        self.channel = MultiHeadChannelAttention(out_ch, max(out_ch // channel_reduction, min_hidden), num_heads)
        self.record_partition_loss = False
        self.last_partition_loss: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value = self.value(x)
        spatial = self.spatial(value)  # (N, heads, H, W)
        self._record(spatial)
        return value * self.fused_weights(value, spatial)

    def fused_weights(self, value: torch.Tensor, spatial: torch.Tensor) -> torch.Tensor:
        """``Σ_h s_h ⊙ c_h``, ``(N, C, H, W)``: channel maps of the spatially attended values, crossed with the spatial maps."""
        n, c, h, w = value.shape
        value_flat, spatial_flat = value.flatten(2), spatial.flatten(2).to(value.dtype)  # (N, C, HW), (N, heads, HW)
        pooled = torch.bmm(spatial_flat, value_flat.transpose(1, 2)) / (h * w)  # GAP(value ⊙ s_h): (N, heads, C)
        channel = self.channel(pooled).to(value.dtype)  # (N, heads, C)
        # built in the value's memory layout: `value * weights` on mixed layouts measured ~9× slower (bf16, channels_last)
        if value.is_contiguous(memory_format=torch.channels_last):
            return torch.bmm(spatial_flat.transpose(1, 2), channel).view(n, h, w, c).permute(0, 3, 1, 2)
        return torch.bmm(channel.transpose(1, 2), spatial_flat).view(n, c, h, w)

    def _record(self, spatial: torch.Tensor) -> None:
        if self.record_partition_loss and self.training:
            self.last_partition_loss = partition_loss(spatial)
