"""Inception depthwise convolution and the depthwise-separable conv built on it (Yu et al., "InceptionNeXt: When Inception Meets
ConvNeXt", CVPR 2024) — the large-kernel token mixer of LKCNN (paper §4.2.1).

A k×k depthwise convolution with a large k (ConvNeXt's 7×7, RepLKNet's 31×31) is slow for its FLOPs. InceptionNeXt
splits the channels into four branches instead: an identity, a small square depthwise kernel, and two orthogonal band
depthwise kernels 1×k and k×1 — a large receptive field along rows and columns at a fraction of the cost:

    X_id, X_hw, X_w, X_h = Split(X)                           (g = ⌊C · branch_ratio⌋ channels per conv branch)
    X' = Concat(X_id, DWConv_{s×s}(X_hw), DWConv_{1×k}(X_w), DWConv_{k×1}(X_h))

:class:`InceptionSeparableConv2d` follows the mixer with a pointwise conv, BatchNorm and an activation: the
"Inception depthwise separable convolution" of §4.2.1.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_matrix_index(size: tuple[int, int], kernel_size: tuple[int, int]) -> torch.Tensor:
    """``(H·W, H·W)`` map from (output pixel, input pixel) to the flat kernel tap joining them in a "same"-padded conv
    on an ``H × W`` map, or ``kh·kw`` (no tap: the pair is farther apart than the kernel reaches)."""
    (h, w), (kh, kw) = size, kernel_size
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    tap_y = ys[None, :] - ys[:, None] + kh // 2  # [output, input]
    tap_x = xs[None, :] - xs[:, None] + kw // 2
    inside = (tap_y >= 0) & (tap_y < kh) & (tap_x >= 0) & (tap_x < kw)
    return torch.where(inside, tap_y * kw + tap_x, kh * kw)


def depthwise_conv_as_matmul(x: torch.Tensor, conv: nn.Conv2d, index: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for a depthwise, stride-1, "same"-padded ``conv`` on maps of a fixed size, as one matmul per channel
    with the conv's ``(H·W, H·W)`` matrix (built from its kernel through :func:`conv_matrix_index`).

    Same function and gradients as ``conv(x)``; on CPU 3–8× faster (1 thread, fwd + bwd) for maps of a few pixels in
    large batches (LKCNN's 7×7 to 1×1 blocks), where oneDNN's depthwise kernels spend their time on per-image overhead.
    Shapes: ``(N, C, H, W)`` → ``(N, C, H, W)``.
    """
    taps = torch.nn.functional.pad(conv.weight.flatten(1), (0, 1))  # (C, kh·kw + 1): the extra tap is the zero
    out = torch.einsum("nci,coi->nco", x.flatten(2), taps[:, index])
    return (out if conv.bias is None else out + conv.bias[:, None]).view_as(x)


def pointwise_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` for a bias-free 1×1 ``conv``, as one matrix product over the channels. On CPU 1.5–5× faster than
    oneDNN's conv for the narrow (8–32 channel) few-pixel maps of LKCNN's blocks (1 thread, fwd + bwd).
    Shapes: ``(N, C_in, H, W)`` → ``(N, C_out, H, W)``.
    """
    return torch.einsum("oc,nchw->nohw", conv.weight.flatten(1), x)


class InceptionDWConv2d(nn.Module):
    """Identity + s×s + 1×k + k×1 band depthwise branches on a split of the channels (InceptionNeXt's token mixer).

    ``input_size``: the fixed ``H × W`` of every input, to run the depthwise convs as matmuls
    (:func:`depthwise_conv_as_matmul`: same weights, same function, faster on tiny maps); ``None`` runs ``nn.Conv2d``
    on any size. Shapes: ``(N, C, H, W)`` → ``(N, C, H, W)``. Kernels must be odd ("same" padding).
    """

    def __init__(
        self,
        channels: int,
        square_kernel_size: int = 3,
        band_kernel_size: int = 11,
        branch_ratio: float = 0.125,
        input_size: int | tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        if square_kernel_size % 2 == 0 or band_kernel_size % 2 == 0:
            raise ValueError(f"kernel sizes must be odd, got {square_kernel_size} and {band_kernel_size}")
        branch = int(channels * branch_ratio)
        if not 1 <= branch <= channels // 3:
            raise ValueError(f"branch_ratio {branch_ratio} gives {branch} channels per conv branch out of {channels}; need 1 to {channels // 3}")
        self.dwconv_hw = nn.Conv2d(branch, branch, square_kernel_size, padding=square_kernel_size // 2, groups=branch)
        self.dwconv_w = nn.Conv2d(branch, branch, (1, band_kernel_size), padding=(0, band_kernel_size // 2), groups=branch)
        self.dwconv_h = nn.Conv2d(branch, branch, (band_kernel_size, 1), padding=(band_kernel_size // 2, 0), groups=branch)
        self.split_sizes = (channels - 3 * branch, branch, branch, branch)
        self.input_size = (input_size, input_size) if isinstance(input_size, int) else input_size
        if self.input_size is not None:  # derived from the kernel shapes, so not saved in checkpoints
            for name, conv in (("hw", self.dwconv_hw), ("w", self.dwconv_w), ("h", self.dwconv_h)):
                self.register_buffer(f"index_{name}", conv_matrix_index(self.input_size, conv.kernel_size), persistent=False)

    def _depthwise(self, branch: str, x: torch.Tensor) -> torch.Tensor:
        conv = getattr(self, f"dwconv_{branch}")
        if self.input_size is None:
            return conv(x)
        if x.shape[-2:] != self.input_size:
            raise ValueError(f"built for {self.input_size[0]}×{self.input_size[1]} inputs, got {x.shape[-2]}×{x.shape[-1]}")
        return depthwise_conv_as_matmul(x, conv, getattr(self, f"index_{branch}"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_id, *branches = torch.split(x, self.split_sizes, dim=1)
        return torch.cat((x_id, *(self._depthwise(name, part) for name, part in zip(("hw", "w", "h"), branches))), dim=1)


class InceptionSeparableConv2d(nn.Module):
    """Inception depthwise *separable* convolution: the Inception depthwise mixer (spatial, per channel), then a 1×1
    pointwise conv (across channels, may change the width), BatchNorm and an activation — MobileNet's depthwise-
    separable pattern with InceptionNeXt's mixer as the depthwise part (LKCNN, paper §4.2.1).

    Shapes: ``(N, in_ch, H, W)`` → ``(N, out_ch, H, W)``; ``input_size`` as for :class:`InceptionDWConv2d`.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        square_kernel_size: int = 3,
        band_kernel_size: int = 11,
        branch_ratio: float = 0.125,
        input_size: int | tuple[int, int] | None = None,
        act_layer: type[nn.Module] = nn.ReLU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.mixer = InceptionDWConv2d(in_ch, square_kernel_size, band_kernel_size, branch_ratio, input_size)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.norm = norm_layer(out_ch)
        self.act = act_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(pointwise_conv(self.mixer(x), self.pointwise)))
