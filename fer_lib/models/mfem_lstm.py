"""MFEM-BiLSTM — ResNet34 with multi-region feature extraction and multi-layer feature fusion, then a bidirectional
LSTM over the frames (paper §4.2.2, figs 6–7; cited as C. Cao, D. Zhang, "Micro-expression recognition combining
multi-region features and feature fusion", Small and Micro Computer Systems, 2024). Claimed: MEGC 3 classes,
Acc 84.96 %, F1 85.50 %.

Reading of the paper: ResNet34 has five stages; after each of stages 2–5 (the four residual stages) an MFEM — one
spatial attention and two channel attentions in parallel (:class:`~fer_lib.layers.mfem.MFEM`) — re-weights the
features that go on to the next stage. A multi-layer feature fusion module (MFFM) fuses the four stages' features
through an interaction module (FIM, :class:`~fer_lib.layers.feature_fusion.MultiLevelFeatureFusion`) into one vector
per frame; the frame vectors of a clip go through a bidirectional LSTM, whose output is classified.

Registered:

* ``mfem_lstm`` — the model.
* ``resnet34_lstm`` — ablation: the same ResNet34 + BiLSTM without MFEM and without fusion (the last stage's pooled
  features feed the LSTM): what the two modules add together. ``create_model("mfem_lstm", mfem=False)`` or
  ``fusion=False`` separates them.

Shapes: clips ``(N, T, C, H, W)`` (or one frame ``(N, C, H, W)``, read as T = 1) → ``forward_features`` per-frame
vectors ``(N, T, D)`` → logits ``(N, num_classes)``. The frames of a clip are folded into the batch for the CNN.

Deviations from paper (everything the paper leaves open):

* **Backbone.** The study's ResNet34 (:mod:`fer_lib.models.resnet`: BasicBlocks [3, 4, 6, 3], widths
  ``width × (1, 2, 4, 8)``, default 64 = ResNet34's) with its small-input stem for ≤ 64 px frames (3×3 s1 + 3×3 s2
  convs; ``stem_stride=4`` adds a max-pool); ImageNet stem above 64 px. ``width=32`` is the narrow variant for CPUs
  (≈ 4× fewer FLOPs). No pretrained weights (none are reachable here): trained from scratch.
* **MFEM.** SAM and two independent CAMs (CBAM's, reduction 16, 7×7 spatial kernel with BN) all read the stage
  output; the three attended features are averaged and added to it (``F + mean``; see :mod:`fer_lib.layers.mfem`).
  The paper gives no difference between the two CAMs: they are two heads with their own weights.
* **MFFM / FIM.** The four stages' outputs (after MFEM) are average-pooled, each projected to D = ``8 × width``
  (linear + LayerNorm), made to interact by one multi-head self-attention across the four level tokens (4 heads,
  residual + LayerNorm), and averaged into the frame vector (see :mod:`fer_lib.layers.feature_fusion`).
* **BiLSTM and head.** One bidirectional layer, hidden size ``lstm_hidden`` (default 4 × width = 256); its outputs
  are averaged over time (every frame's forward and backward context, independent of T), then dropout and a linear
  classifier. The mean of a BiLSTM's outputs still depends on frame order (each output depends on its neighbours).
* **Grad-CAM.** ``cam_layer`` is the last module of the last stage (its MFEM; the last block for ``resnet34_lstm``),
  explained on single frames ``(N, C, H, W)``. pytorch-grad-cam runs the model in eval mode, where cuDNN's LSTM has
  no backward: on a GPU the LSTM then runs without cuDNN (eval mode with gradients on only).
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers.feature_fusion import MultiLevelFeatureFusion
from ..layers.mfem import MFEM
from .registry import register_model
from .resnet import BasicBlock, ResNet


class MFEMBiLSTM(ResNet):
    """ResNet34 (+ MFEM after every residual stage, + MFFM over the stages) per frame, BiLSTM over the frames.

    Shapes: ``(N, T, in_chans, img_size, img_size)`` or ``(N, in_chans, img_size, img_size)`` → logits ``(N, num_classes)``.
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_chans: int = 3,
        img_size: int = 64,
        width: int = 64,
        mfem: bool = True,
        fusion: bool = True,
        reduction: int = 16,
        fusion_heads: int = 4,
        lstm_hidden: int | None = None,
        drop_rate: float = 0.0,
        stem_stride: int = 2,
    ) -> None:
        widths = tuple(width * m for m in (1, 2, 4, 8))
        super().__init__(BasicBlock, (3, 4, 6, 3), num_classes, in_chans, img_size, widths=widths, drop_rate=drop_rate, stem_stride=stem_stride)
        if mfem:
            for stage, channels in zip(self.stages, widths):
                stage.append(MFEM(channels, reduction))
            self._init_weights()  # ResNet initialises the convs that exist when it runs: include the MFEMs'
        self.fusion = MultiLevelFeatureFusion(widths, widths[-1], fusion_heads) if fusion else None
        hidden = lstm_hidden or 4 * width
        self.temporal = nn.LSTM(widths[-1], hidden, batch_first=True, bidirectional=True)
        self.num_features = 2 * hidden
        self.fc = nn.Linear(self.num_features, num_classes)

    @property
    def cam_layer(self) -> nn.Module:
        return self.stages[-1][-1]

    def frame_features(self, frames: torch.Tensor) -> torch.Tensor:
        """One vector per frame: ``(B, C, H, W)`` → ``(B, widths[-1])`` (MFFM over the stages, or the last stage pooled)."""
        levels, x = [], self.stem(frames)
        for stage in self.stages:
            x = stage(x)
            levels.append(x)
        return self.fusion(levels) if self.fusion is not None else self.pool(x).flatten(1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Clips ``(N, T, C, H, W)`` (or frames ``(N, C, H, W)``, T = 1) → frame vectors ``(N, T, widths[-1])``."""
        clips = x.unsqueeze(1) if x.dim() == 4 else x
        if clips.dim() != 5:
            raise ValueError(f"expected clips (N, T, C, H, W) or frames (N, C, H, W), got shape {tuple(x.shape)}")
        return self.frame_features(clips.flatten(0, 1)).unflatten(0, clips.shape[:2])

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Frame vectors ``(N, T, D)`` → BiLSTM → mean over time → logits ``(N, num_classes)``."""
        return self.fc(self.drop(self._temporal(features).mean(1)))

    def _temporal(self, features: torch.Tensor) -> torch.Tensor:
        if features.is_cuda and torch.is_grad_enabled() and not self.training:
            # cuDNN's LSTM has no backward in eval mode, which Grad-CAM needs: run this one without cuDNN
            with torch.backends.cudnn.flags(enabled=False):
                return self.temporal(features)[0]
        return self.temporal(features)[0]


@register_model(input_kind="clip", modality="apex_flow")
def mfem_lstm(num_classes: int = 3, in_chans: int = 3, img_size: int = 64, width: int = 64, **kwargs) -> MFEMBiLSTM:
    """MFEM-BiLSTM on clips of ``in_chans``×``img_size``² frames; ``kwargs`` go to :class:`MFEMBiLSTM`."""
    return MFEMBiLSTM(num_classes, in_chans, img_size, width, **kwargs)


@register_model(input_kind="clip", modality="apex_flow")
def resnet34_lstm(num_classes: int = 3, in_chans: int = 3, img_size: int = 64, width: int = 64, **kwargs) -> MFEMBiLSTM:
    """Ablation: ResNet34 + BiLSTM, no MFEM and no multi-layer fusion."""
    return MFEMBiLSTM(num_classes, in_chans, img_size, width, mfem=False, fusion=False, **kwargs)
