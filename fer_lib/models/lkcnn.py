"""LKCNN — large-kernel CNN on optical-flow blocks for micro-expression recognition (paper §4.2.1, fig. 5; cited as
Z. Cao, Qilu University of Technology, 2024; published as "InceptionNeXt Network with Relative Position Information for
Microexpression Recognition", WASA 2024). Claimed: MEGC 3 classes, Acc 86.01 %, F1 84.62 %.

Reading of the paper: the input is three onset→apex optical-flow maps (u, v, optical strain), one path each. A path
cuts its map evenly into square blocks of S×S pixels ("LK": block segmentation, as BDCNN, Chen et al. 2022, whose
block division LKCNN builds on); every block goes through four Inception depthwise convolutions (InceptionNeXt, Yu et
al. 2023: identity + 3×3 + 1×k + k×1 depthwise branches, :mod:`fer_lib.layers.inception_dwconv`), each followed by
max-pooling; the blocks' features, side by side along channels, are F_k; a relative-position attention module ("RPI",
:mod:`fer_lib.layers.relative_position_attention`), ReLU and a sigmoid turn F_k into attention weights that multiply
F_k; the three paths' weighted block features are concatenated and classified.

Registered:

* ``lkcnn`` — the model (three paths, 4×4 blocks of 7 px at 28 px, k = 11).
* ``lkcnn_no_attention`` — ablation: no relative-position attention (block features go straight to the classifier).

Shapes: ``(N, P, H, W)`` flow maps (P paths, default 3 × 28 × 28) → ``forward_features`` ``(N, P·C, H/S, W/S)``
(weighted block features on the block grid) → logits ``(N, num_classes)``.

Deviations from paper (everything the paper leaves open):

* **Block size.** S = 7 px: a 28×28 map becomes 4×4 = 16 blocks (``block_size``; it must divide the map). BDCNN
  cuts its 120 px maps into 3×3 to 15×15 grids of 8–40 px blocks; 4×4 is that regime at 28 px, and 16 tokens give the
  relative-position attention something to relate (``block_size=14`` gives 2×2 blocks, whose 4 tokens leave little).
* **Shared block encoder.** The blocks of one map share the encoder's weights and run as one batch of N·16 blocks
  (as BDCNN applies one conv to every block); the three paths have their own weights (u, v and strain differ).
* **The four Inception stages.** §4.2.1 calls them "Inception depthwise separable convolution": each is the
  InceptionNeXt mixer (identity + 3×3 + 1×k + k×1 depthwise branches, branch ratio 1/4) followed by a 1×1 pointwise
  conv that sets the width, BatchNorm and ReLU (:class:`~fer_lib.layers.inception_dwconv.InceptionSeparableConv2d`),
  then a 2×2 max-pool (ceil mode: 7 → 4 → 2 → 1 → 1 px). Not InceptionNeXt's full MetaNeXt block (mixer → BN → MLP
  with ratio 4 + shortcut + layer scale): that block serves deep ImageNet stacks; here it would double the cost of
  every stage, and a 1e-6 layer scale would stall every branch under the study's SGD recipe. A linear lift (a learned
  per-channel scale) first gives the one-channel block ``stem_width`` channels for the mixer to split. A global
  max-pool makes each block one vector of ``widths[-1]`` channels (a no-op at 7 px, where it is already 1×1).
* **Widths for 442 samples.** 8 → 8 → 16 → 32 → 64 channels per path (``stem_width``, ``widths``): ≈ 70 k parameters
  in all, about six times STSTNet's training cost per step (the report's costs section counts both), so 68-fold LOSO
  stays cheap. The cost is in the full-resolution first stage (16 blocks × 49 px per map), which
  is why it is the narrowest.
* **Kernel sizes.** k = 11 (InceptionNeXt's default) on the 7 px blocks; each stage clamps its kernels to
  2·side − 1, the largest that reaches anything but zero padding (11 → 7 → 3 → 1 as the blocks shrink): the same
  function without weights that could only ever multiply padding. Each block is zero-padded on its own (blocks are
  independent), and the depthwise and 1×1 convs run as matrix products
  (:func:`~fer_lib.layers.inception_dwconv.depthwise_conv_as_matmul`, ``pointwise_conv``): the same function, 3–8×
  (depthwise) and 1.5–5× (1×1) faster per op than oneDNN's kernels on batches of tiny maps (CPU, 1 thread).
* **RPI.** Pre-norm (LayerNorm) multi-head self-attention over the 16 block tokens with a Swin-style learned bias per
  relative offset (7×7 offsets × 4 heads), output projection, then ReLU and sigmoid as §4.2.1 says — so weights lie
  in [0.5, 1) — multiplied onto F_k. The weights are exposed as ``paths.<i>.gate.map``, ``(N, C, 4, 4)``.
* **Classifier.** The three paths' weighted block features are concatenated along channels, flattened (block
  position kept, as BDCNN's fully connected head) and classified by dropout (0.5, as STSTNet on the same inputs)
  and one linear layer.
* **Grad-CAM.** ``cam_layer`` is ``merge``, an identity on the concatenated block grid ``(N, P·C, H/S, W/S)``:
  its CAM says which blocks drove the prediction.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..layers.inception_dwconv import InceptionSeparableConv2d
from ..layers.relative_position_attention import RelativePositionGate
from .registry import register_model


def partition_blocks(x: torch.Tensor, block_size: int) -> torch.Tensor:
    """Cut maps ``(N, C, H, W)`` into non-overlapping ``block_size`` squares ``(N·L, C, S, S)``, ``L = (H/S)·(W/S)``,
    blocks of one map consecutive in row-major order (the token order of the relative position bias)."""
    n, c, h, w = x.shape
    if h % block_size or w % block_size:
        raise ValueError(f"block_size {block_size} does not divide the {h}×{w} input evenly")
    blocks = x.unflatten(2, (h // block_size, block_size)).unflatten(4, (w // block_size, block_size))  # (N, C, gh, S, gw, S)
    return blocks.permute(0, 2, 4, 1, 3, 5).reshape(-1, c, block_size, block_size)


class BlockEncoder(nn.Module):
    """A linear lift to ``stem_width`` channels, four (Inception depthwise separable conv → 2×2 max-pool) stages, then a
    global max-pool: one vector per block.

    Shapes: blocks ``(B, 1, S, S)`` → ``(B, widths[-1])``.
    """

    def __init__(
        self,
        block_size: int,
        stem_width: int = 8,
        widths: Sequence[int] = (8, 16, 32, 64),
        band_kernel_size: int = 11,
        branch_ratio: float = 0.25,
    ) -> None:
        super().__init__()
        # A linear lift of the one-channel block to stem_width channels (a 1×1 conv with one input channel is a per-
        # channel scale, computed as one: oneDNN's 1×1 conv from one channel measured ~8× slower on 7×7 blocks): the
        # mixer's four branches then apply 1×1, 3×3, 1×k and k×1 kernels to the flow map itself.
        self.lift = nn.Parameter(torch.randn(stem_width, 1, 1))
        stages, in_ch, side = [], stem_width, block_size
        for width in widths:
            reach = 2 * side - 1  # a larger kernel's outer taps only ever read padding
            conv = InceptionSeparableConv2d(in_ch, width, min(3, reach), min(band_kernel_size, reach), branch_ratio, input_size=side)
            stages.append(nn.Sequential(conv, nn.MaxPool2d(2, ceil_mode=True)))
            in_ch, side = width, -(-side // 2)  # ceil(side / 2), as the ceil-mode pool
        self.stages = nn.Sequential(*stages)
        self.num_features = in_ch

    def forward(self, blocks: torch.Tensor) -> torch.Tensor:
        return self.stages(blocks * self.lift).flatten(2).amax(2)  # global max-pool


class FlowPath(nn.Module):
    """One flow map: blocks → shared block encoder → F_k ``(N, L, C)`` → relative-position gate → block grid.

    Shapes: ``(N, 1, H, W)`` → ``(N, C, H/S, W/S)``.
    """

    def __init__(self, img_size: int, block_size: int, attention: bool, num_heads: int = 4, **encoder_kwargs) -> None:
        super().__init__()
        self.block_size = block_size
        self.grid_size = (img_size // block_size, img_size // block_size)
        self.encoder = BlockEncoder(block_size, **encoder_kwargs)
        self.gate = RelativePositionGate(self.encoder.num_features, self.grid_size, num_heads) if attention else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(partition_blocks(x, self.block_size)).unflatten(0, (x.shape[0], -1))  # F_k: (N, L, C)
        return self.gate(features).transpose(1, 2).unflatten(2, self.grid_size)


class LKCNN(nn.Module):
    """One :class:`FlowPath` per input map, concatenated block grids, dropout + linear classifier (module docstring).

    Shapes: ``(N, in_chans, img_size, img_size)`` → logits ``(N, num_classes)``.
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_chans: int = 3,
        img_size: int = 28,
        block_size: int = 7,
        stem_width: int = 8,
        widths: Sequence[int] = (8, 16, 32, 64),
        band_kernel_size: int = 11,
        branch_ratio: float = 0.25,
        num_heads: int = 4,
        attention: bool = True,
        drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        if img_size % block_size:
            raise ValueError(f"block_size {block_size} does not divide img_size {img_size}")
        encoder = {"stem_width": stem_width, "widths": widths, "band_kernel_size": band_kernel_size, "branch_ratio": branch_ratio}
        self.paths = nn.ModuleList(FlowPath(img_size, block_size, attention, num_heads, **encoder) for _ in range(in_chans))
        self.merge = nn.Identity()
        self.num_features = in_chans * widths[-1] * (img_size // block_size) ** 2
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(self.num_features, num_classes)

    @property
    def cam_layer(self) -> nn.Module:
        return self.merge

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, P, H, W)`` → the paths' weighted block features on the block grid, ``(N, P·C, H/S, W/S)``."""
        return self.merge(torch.cat([path(x[:, i : i + 1]) for i, path in enumerate(self.paths)], dim=1))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(features.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model(input_kind="flow", modality="flow")
def lkcnn(num_classes: int = 3, in_chans: int = 3, img_size: int = 28, **kwargs) -> LKCNN:
    """LKCNN on ``in_chans`` flow maps (u, v, optical strain) of ``img_size`` px; ``kwargs`` go to :class:`LKCNN`."""
    return LKCNN(num_classes, in_chans, img_size, **kwargs)


@register_model(input_kind="flow", modality="flow")
def lkcnn_no_attention(num_classes: int = 3, in_chans: int = 3, img_size: int = 28, **kwargs) -> LKCNN:
    """Ablation: LKCNN without the relative-position attention gate."""
    return LKCNN(num_classes, in_chans, img_size, attention=False, **kwargs)
