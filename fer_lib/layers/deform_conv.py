"""Deformable convolution (Dai et al., ICCV 2017; DCNv2 modulation: Zhu et al., CVPR 2019) — paper §4.1.2, eq. 1.

    y(A_0) = Σ_n w(A_n) · x(A_0 + A_n + ΔA_n)                                           (eq. 1)

A_0 is an output position, A_n runs over the k×k kernel grid and ΔA_n are learned, fractional offsets; x at a
fractional position is read by bilinear interpolation (zero outside the image), exactly as
``torchvision.ops.deform_conv2d`` does — the tests compare values and gradients against it.

How it is computed (im2col with a learned gather): every sample of eq. 1 is a weighted sum of the ≤ 4 input pixels
around its position, and those pixels are whole rows of the channels-last input ``(N·H·W, C)``. One
``F.embedding_bag(mode="sum")`` over that table, with the 4 corner indices as a bag and the bilinear weights as
``per_sample_weights``, gathers and blends contiguous channel rows for all N·H_out·W_out·k·k samples at once, already
in the order of the column matrix ``(N·H_out·W_out, k·k·C)``; one matmul with the weight, permuted once to the same
(kernel point, channel) order, finishes the convolution, its result already the channels-last output. Corners outside
the image get weight 0 (zero padding) and index 0, so they add nothing and pass no gradient. Autograd gives the
gradients of input (embedding_bag's dense backward), offsets (through the bilinear weights), mask and weight, with
vectorised, multi-threaded kernels on CPU and GPU; torchvision's CPU kernel is single-threaded and ~20–50× slower
than a Conv2d. The gather reads contiguous rows where ``F.grid_sample`` (the usual way to write this layer) reads one
value per channel per sample, which is slower both ways (``benchmarks/deform_conv.py`` measures this one).
The column matrix is k·k times the layer's input (for stride 1): 42 MB in fp32 for a batch of 64 at 128×12×12.
The result is deterministic on CPU; on CUDA, ``torch.use_deterministic_algorithms(True)`` refuses EmbeddingBag's
backward only for ``mode="max"``.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

IntPair = int | tuple[int, int]


def _arange(size: int, step: int, start: int, like: torch.Tensor) -> torch.Tensor:
    """``start + step · [0, 1, …, size − 1]`` on ``like``'s device and dtype."""
    return torch.arange(size, device=like.device, dtype=like.dtype) * step + start


def _base_grid(
    out_hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int], like: torch.Tensor
) -> torch.Tensor:
    """The regular grid A_0 + A_n of eq. 1 as pixel positions (x, y): ``(k·k, H_out·W_out, 2)``, on ``like``'s device/dtype.

    A_0 is output position × stride − padding, A_n the dilated kernel point (row-major, as torchvision orders offsets).
    """
    y = _arange(out_hw[0], stride[0], -padding[0], like).view(1, -1, 1) + _arange(kernel[0], dilation[0], 0, like).view(-1, 1, 1, 1)
    x = _arange(out_hw[1], stride[1], -padding[1], like).view(1, 1, -1) + _arange(kernel[1], dilation[1], 0, like).view(1, -1, 1, 1)
    return torch.stack(torch.broadcast_tensors(x, y), dim=-1).reshape(kernel[0] * kernel[1], out_hw[0] * out_hw[1], 2)


def _sample_positions(
    offset: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int], dilation: tuple[int, int]
) -> torch.Tensor:
    """A_0 + A_n + ΔA_n of eq. 1 as pixel positions (x, y): ``(N, G, k·k, H_out·W_out, 2)``, in ``offset``'s dtype.

    Offset channels follow torchvision: for offset group g and kernel point j, channel ``2(g·k·k + j)`` is Δy and the
    next one Δx.
    """
    n, _, h_out, w_out = offset.shape
    delta = offset.reshape(n, -1, kernel[0] * kernel[1], 2, h_out * w_out).flip(3).transpose(3, 4)  # (Δy, Δx) -> (Δx, Δy) last
    return delta + _base_grid((h_out, w_out), kernel, stride, padding, dilation, offset)


def deform_conv2d(
    input: torch.Tensor,
    offset: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Deformable convolution with ``torchvision.ops.deform_conv2d``'s signature and semantics.

    Shapes: input ``(N, C, H, W)``, offset ``(N, 2·G·kh·kw, H_out, W_out)`` (G offset groups split the input channels),
    weight ``(C_out, C / groups, kh, kw)``, bias ``(C_out,)``, mask ``(N, G·kh·kw, H_out, W_out)`` (DCNv2 modulation)
    → ``(N, C_out, H_out, W_out)``, in ``input``'s memory format.

    Sampling runs in at least fp32 (bf16's 8 significant bits would misplace samples by up to 1/256 of the map size);
    the matmul runs in the autocast dtype when autocast is on, else in ``weight``'s dtype.
    """
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, w = input.shape
    c_out, c_per_group, kh, kw = weight.shape
    groups, k = c // c_per_group, kh * kw
    offset_groups = offset.shape[1] // (2 * k)
    if offset.shape[1] != 2 * offset_groups * k or c % offset_groups:
        raise ValueError(f"offset has {offset.shape[1]} channels: expected 2·G·{kh}·{kw} with G dividing the {c} input channels")
    h_out, w_out = offset.shape[-2:]
    c_per_offset_group = c // offset_groups
    sample_dtype = torch.promote_types(input.dtype, torch.float32)

    # Sample positions in pixels, ordered (N, H_out·W_out, G, k·k) like the column matrix's rows.
    px, py = _sample_positions(offset.to(sample_dtype), (kh, kw), stride, padding, dilation).permute(0, 3, 1, 2, 4).unbind(-1)
    x0, y0 = px.floor(), py.floor()
    fx, fy = px - x0, py - y0  # floor has zero gradient: d(fx)/d(px) = 1, as bilinear interpolation needs

    # The 4 corners (y0, x0), (y0, x0+1), (y0+1, x0), (y0+1, x0+1) along a last axis; their rows in the table
    # (N·H·W·G, C/G) that the channels-last input is (row ((n·H + y)·W + x)·G + g holds group g of pixel (y, x)).
    corner_y = y0.long().unsqueeze(-1) + torch.tensor([0, 0, 1, 1], device=input.device)
    corner_x = x0.long().unsqueeze(-1) + torch.tensor([0, 1, 0, 1], device=input.device)
    fy, fx = fy.unsqueeze(-1), fx.unsqueeze(-1)
    corner_weight = torch.cat((1 - fy, 1 - fy, fy, fy), -1) * torch.cat((1 - fx, fx, 1 - fx, fx), -1)
    inside = (corner_y >= 0) & (corner_y < h) & (corner_x >= 0) & (corner_x < w)
    image = torch.arange(n, device=input.device).view(n, 1, 1, 1, 1)
    group = torch.arange(offset_groups, device=input.device).view(1, 1, offset_groups, 1, 1)
    rows_index = torch.where(inside, ((image * h + corner_y) * w + corner_x) * offset_groups + group, 0)
    corner_weight = corner_weight * inside
    if mask is not None:  # DCNv2: Δm scales the sample, i.e. its 4 corner weights
        corner_weight = corner_weight * mask.to(sample_dtype).view(n, offset_groups, k, -1).permute(0, 3, 1, 2).unsqueeze(-1)
    table = input.to(sample_dtype).permute(0, 2, 3, 1).reshape(n * h * w * offset_groups, c_per_offset_group)  # a view if channels-last
    samples = F.embedding_bag(rows_index.reshape(-1, 4), table, per_sample_weights=corner_weight.reshape(-1, 4), mode="sum")

    # One GEMM over all images: rows (N·L, G·k·k·C/G) @ (·, C_out) = (N·L, C_out), the channels-last output. The
    # weight (C_out, C, kh, kw) is permuted to the rows' (offset group, kernel point, channel) order; with conv groups,
    # each group's channels must be contiguous, so the rows are copied into the weight's (channel, kernel point) order.
    gemm_dtype = torch.get_autocast_dtype(input.device.type) if torch.is_autocast_enabled(input.device.type) else weight.dtype
    samples = samples.to(gemm_dtype).view(n * h_out * w_out, offset_groups, k, c_per_offset_group)
    if groups == 1:
        weight = weight.to(gemm_dtype).view(c_out, offset_groups, c_per_offset_group, k).transpose(2, 3).reshape(c_out, c * k)
        out = samples.view(-1, c * k) @ weight.t()
    else:
        rows = samples.transpose(2, 3).reshape(-1, groups, c_per_group * k)
        weight = weight.to(gemm_dtype).reshape(groups, c_out // groups, c_per_group * k)
        out = torch.matmul(rows.transpose(0, 1), weight.transpose(1, 2)).transpose(0, 1).reshape(-1, c_out)
    if bias is not None:
        out = out + bias.to(out.dtype)
    out = out.view(n, h_out, w_out, c_out).permute(0, 3, 1, 2)  # (N, C_out, H_out, W_out) with channels-last strides
    channels_last = input.is_contiguous(memory_format=torch.channels_last) and not input.is_contiguous()
    return out if channels_last else out.contiguous()


class DeformConv2d(nn.Module):
    """Deformable 3×3 (or k×k) convolution that predicts its own offsets ΔA_n (eq. 1) from its input.

    Constructor as ``nn.Conv2d`` (so it can be the ``conv_layer`` of :mod:`fer_lib.models.resnet` blocks), plus
    ``offset_groups`` (input-channel groups sharing one offset field, torchvision's semantics) and ``modulated``
    (DCNv2: a sigmoid mask Δm_n scales each sample; off by default because eq. 1 has no mask).

    The offset predictor is a k×k conv with the main conv's stride, padding and dilation (so its output is H_out×W_out)
    and ``2·G·k·k`` (+ ``G·k·k`` mask) channels. It is zero-initialised, so a new layer is exactly a plain conv
    (and the DCNv2 mask starts at 0.5), as in Dai et al. Its parameters are ``offset_weight``/``offset_bias`` rather than
    an ``nn.Conv2d`` child so that backbone init loops over ``nn.Conv2d`` (e.g. ``ResNet._init_weights``) keep the zeros.

    Shapes: ``(N, in_channels, H, W)`` → ``(N, out_channels, H_out, W_out)``; for figures,
    :meth:`sampling_positions` gives where each kernel point reads the input.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair = 3,
        stride: IntPair = 1,
        padding: IntPair = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        offset_groups: int = 1,
        modulated: bool = False,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups or in_channels % offset_groups:
            raise ValueError(
                f"in_channels={in_channels}, out_channels={out_channels} must be divisible by groups={groups}; "
                f"in_channels by offset_groups={offset_groups}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.offset_groups, self.modulated = offset_groups, modulated
        self.kernel_size, self.stride, self.padding, self.dilation = _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation)
        kh, kw = self.kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.offset_weight = nn.Parameter(torch.zeros(offset_groups * kh * kw * (3 if modulated else 2), in_channels, kh, kw))
        self.offset_bias = nn.Parameter(torch.zeros(self.offset_weight.shape[0]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Main weight and bias as ``nn.Conv2d`` initialises them; offsets (and mask logits) to zero."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            nn.init.uniform_(self.bias, -1 / math.sqrt(self.weight[0].numel()), 1 / math.sqrt(self.weight[0].numel()))
        nn.init.zeros_(self.offset_weight)
        nn.init.zeros_(self.offset_bias)

    def offsets(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """ΔA_n ``(N, 2·G·k·k, H_out, W_out)`` and, if ``modulated``, the mask ``(N, G·k·k, H_out, W_out)`` in (0, 1)."""
        out = F.conv2d(x, self.offset_weight, self.offset_bias, self.stride, self.padding, self.dilation)
        n_offset = 2 * self.offset_groups * self.kernel_size[0] * self.kernel_size[1]
        return out[:, :n_offset], out[:, n_offset:].sigmoid() if self.modulated else None

    def sampling_positions(self, x: torch.Tensor) -> torch.Tensor:
        """Where eq. 1 reads ``x``: ``(N, G·k·k, H_out, W_out, 2)`` pixel coordinates (x, y) of ``x`` (fp32)."""
        offset, _ = self.offsets(x)
        positions = _sample_positions(offset.float(), self.kernel_size, self.stride, self.padding, self.dilation)
        return positions.reshape(x.shape[0], -1, *offset.shape[-2:], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset, mask = self.offsets(x)
        return deform_conv2d(x, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}, offset_groups={self.offset_groups}, "
            f"modulated={self.modulated}"
        )


def deform_convs(model: nn.Module) -> Iterator[tuple[str, DeformConv2d]]:
    """``(name, layer)`` for every :class:`DeformConv2d` in ``model``."""
    return ((name, m) for name, m in model.named_modules() if isinstance(m, DeformConv2d))


@torch.no_grad()
def capture_sampling_positions(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run ``model(x)`` once; return ``{layer name: (N, G·k·k, H_out, W_out, 2)}`` sampling positions (x, y) of every
    :class:`DeformConv2d`, mapped to pixel coordinates of the image ``x`` (CPU, fp32) — ready to draw over the face.

    A feature-map pixel p covers image pixels around (p + 0.5)·stride − 0.5 (pixel centres), with stride = image size /
    feature size of the layer's input.
    """
    positions: dict[str, torch.Tensor] = {}

    def hook(name: str, layer: DeformConv2d, inputs: tuple[torch.Tensor, ...]) -> None:
        feature = inputs[0]
        scale = torch.tensor([x.shape[-1] / feature.shape[-1], x.shape[-2] / feature.shape[-2]], device=feature.device)
        positions[name] = ((layer.sampling_positions(feature) + 0.5) * scale - 0.5).cpu()

    hooks = [layer.register_forward_pre_hook(lambda m, inp, name=name: hook(name, m, inp)) for name, layer in deform_convs(model)]
    try:
        model(x)
    finally:
        for handle in hooks:
            handle.remove()
    return positions
