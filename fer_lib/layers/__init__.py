"""Building blocks, one concept per file (as timm's ``layers/``)."""

from .cbam import CBAM, ChannelAttention, SpatialAttention
from .cross_attention import MultiHeadCrossAttention
from .deform_conv import DeformConv2d, capture_sampling_positions, deform_conv2d
from .attention_capture import AttentionMap, capture_attention_maps

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
from .feature_fusion import FeatureInteraction, MultiLevelFeatureFusion  # noqa: E402
from .inception_dwconv import InceptionDWConv2d, InceptionSeparableConv2d, depthwise_conv_as_matmul, pointwise_conv  # noqa: E402
from .mfem import MFEM  # noqa: E402
from .relative_position_attention import RelativePositionAttention, RelativePositionGate, relative_position_index  # noqa: E402

__all__ += [
    "FeatureInteraction",
    "InceptionDWConv2d",
    "InceptionSeparableConv2d",
    "MFEM",
    "MultiLevelFeatureFusion",
    "RelativePositionAttention",
    "RelativePositionGate",
    "depthwise_conv_as_matmul",
    "pointwise_conv",
    "relative_position_index",
]
