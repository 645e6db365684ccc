"""Building blocks, one concept per file (as timm's ``layers/``)."""

from .cbam import CBAM, ChannelAttention, SpatialAttention
from .cross_attention import MultiHeadCrossAttention
from .deform_conv import DeformConv2d, capture_sampling_positions, deform_conv2d
from .maps import AttentionMap, capture_attention_maps

__all__ = [
    "AttentionMap",
    "CBAM",
    "ChannelAttention",
    "DeformConv2d",
    "MultiHeadCrossAttention",
    "SpatialAttention",
    "capture_attention_maps",
    "capture_sampling_positions",
    "deform_conv2d",
]
