"""Self-attention over a grid of tokens with a learned relative position bias (Swin, Liu et al. 2021; CoAtNet, Dai et al.
2021), and the relative-position attention gate of LKCNN (paper §4.2.1, "RPI": relative position information).

Tokens sit on an ``h × w`` grid (LKCNN: the blocks a flow map is cut into). Each head adds a bias that depends only on
the offset between query and key, read from a table of ``(2h − 1)(2w − 1)`` learned entries per head:

    Attention(Q, K, V) = SoftMax(Q Kᵀ / √d + B) V,     B[i, j] = table[(y_i − y_j + h − 1)(2w − 1) + (x_i − x_j + w − 1)]

so "the block two to the left" is one learned quantity wherever the query block is. The gate turns the attention
output into weights — ReLU then sigmoid, as §4.2.1 says — and multiplies them back onto the block features.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention_capture import AttentionMap


def relative_position_index(grid_size: tuple[int, int]) -> torch.Tensor:
    """``(L, L)`` indices into the bias table for the ``L = h·w`` tokens of a row-major ``h × w`` grid (Swin's layout)."""
    h, w = grid_size
    coords = torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")).flatten(1)  # (2, L)
    offsets = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # (L, L, 2): (dy, dx) of query i to key j
    return (offsets[..., 0] + h - 1) * (2 * w - 1) + (offsets[..., 1] + w - 1)


class RelativePositionAttention(nn.Module):
    """Multi-head self-attention over the tokens of an ``h × w`` grid with a learned relative position bias per head.

    Shapes: ``(N, L, C)`` with ``L = h·w`` tokens in row-major order → ``(N, L, C)``.
    """

    def __init__(self, dim: int, grid_size: int | tuple[int, int], num_heads: int = 4, qkv_bias: bool = True, attn_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.grid_size = (grid_size, grid_size) if isinstance(grid_size, int) else tuple(grid_size)
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        h, w = self.grid_size
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * h - 1) * (2 * w - 1), num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)  # as Swin
        # derived from grid_size, so not saved: checkpoints hold only learned tensors
        self.register_buffer("relative_position_index", relative_position_index(self.grid_size), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)

    def relative_position_bias(self) -> torch.Tensor:
        """The bias ``B`` added to the attention logits, ``(heads, L, L)``."""
        return self.relative_position_bias_table[self.relative_position_index].permute(2, 0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)  # each (N, heads, L, d)
        attn = self.attn_drop(((q * self.scale) @ k.transpose(-2, -1) + self.relative_position_bias()).softmax(-1))
        return self.proj((attn @ v).transpose(1, 2).reshape(n, length, dim))


class RelativePositionGate(nn.Module):
    """LKCNN's RPI module: block features F_k → LayerNorm → relative-position attention → ReLU → sigmoid = weights W;
    returns F_k ⊙ W.

    ReLU before the sigmoid (§4.2.1) puts every weight in [0.5, 1): a block feature is kept in full or damped by
    up to half, never switched off. The weights pass through ``self.map`` as ``(N, C, h, w)`` (channels × block grid;
    their mean over C is a per-block map for figures).

    Shapes: ``(N, L, C)`` → ``(N, L, C)``.
    """

    def __init__(self, dim: int, grid_size: int | tuple[int, int], num_heads: int = 4, norm_layer: type[nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.norm = norm_layer(dim)  # pre-norm, as Swin/CoAtNet put LayerNorm before attention
        self.attn = RelativePositionAttention(dim, grid_size, num_heads)
        self.map = AttentionMap()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(torch.relu(self.attn(self.norm(x))))
        grid = weights.transpose(1, 2).unflatten(2, self.attn.grid_size)  # (N, C, h, w)
        return x * self.map(grid).flatten(2).transpose(1, 2)
