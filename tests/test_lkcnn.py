"""LKCNN (paper §4.2.1) and its layers: Inception depthwise conv, block partition, relative position attention."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fer_lib.layers import InceptionDWConv2d, RelativePositionAttention, RelativePositionGate, capture_attention_maps, relative_position_index
from fer_lib.layers.inception_dwconv import conv_matrix_index, depthwise_conv_as_matmul
from fer_lib.models import create_model
from fer_lib.models.lkcnn import LKCNN, partition_blocks


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("size,kernel", [((7, 7), (1, 11)), ((7, 7), (11, 1)), ((7, 7), (3, 3)), ((4, 5), (3, 7)), ((1, 1), (1, 1))])
def test_depthwise_conv_as_matmul_is_the_conv(size: tuple[int, int], kernel: tuple[int, int]) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 3, kernel, padding=(kernel[0] // 2, kernel[1] // 2), groups=3)
    x = torch.randn(4, 3, *size, requires_grad=True)
    expected, got = conv(x), depthwise_conv_as_matmul(x, conv, conv_matrix_index(size, kernel))
    torch.testing.assert_close(got, expected)
    grads = [torch.autograd.grad(y.square().sum(), (x, conv.weight, conv.bias)) for y in (expected, got)]
    for g_conv, g_matmul in zip(*grads):
        torch.testing.assert_close(g_matmul, g_conv, rtol=1e-4, atol=1e-4)


def test_inception_dwconv_branches() -> None:
    """Identity channels pass unchanged; the band branches only mix along their row / column; both code paths agree."""
    torch.manual_seed(0)
    mixer = InceptionDWConv2d(16, 3, 11, branch_ratio=0.25)
    assert mixer.split_sizes == (4, 4, 4, 4)
    assert mixer.dwconv_w.kernel_size == (1, 11) and mixer.dwconv_h.kernel_size == (11, 1) and mixer.dwconv_hw.kernel_size == (3, 3)
    x = torch.randn(2, 16, 9, 9)
    torch.testing.assert_close(mixer(x)[:, :4], x[:, :4])
    bump = torch.zeros_like(x)
    bump[:, :, 4, 4] = 1.0
    change = (mixer(x + bump) - mixer(x)).abs().sum(0)  # (C, H, W)
    rows, cols = change[8:12].nonzero()[:, 1:].unique(dim=0).T
    assert (rows == 4).all() and len(cols) == 9  # 1×11 band: the whole row of a 9 px map, nothing else
    rows, cols = change[12:16].nonzero()[:, 1:].unique(dim=0).T
    assert (cols == 4).all() and len(rows) == 9
    fixed = InceptionDWConv2d(16, 3, 11, branch_ratio=0.25, input_size=9)
    fixed.load_state_dict(mixer.state_dict())
    torch.testing.assert_close(fixed(x), mixer(x))
    with pytest.raises(ValueError, match="9×9"):
        fixed(torch.randn(1, 16, 7, 7))
    with pytest.raises(ValueError, match="branch_ratio"):
        InceptionDWConv2d(8, branch_ratio=0.1)


def test_blocks_partition_the_map_exactly() -> None:
    x = torch.arange(2 * 3 * 28 * 28, dtype=torch.float32).view(2, 3, 28, 28)
    blocks = partition_blocks(x, 7)
    assert blocks.shape == (2 * 16, 3, 7, 7)
    for n in range(2):
        for r in range(4):
            for c in range(4):
                assert torch.equal(blocks[n * 16 + r * 4 + c], x[n, :, 7 * r : 7 * r + 7, 7 * c : 7 * c + 7])
    assert torch.equal(blocks.flatten().sort().values, x.flatten())  # every pixel exactly once
    with pytest.raises(ValueError, match="evenly"):
        partition_blocks(x, 6)


def test_relative_position_index() -> None:
    h, w = 3, 4
    index = relative_position_index((h, w))
    assert index.shape == (12, 12)
    assert index.min() == 0 and index.max() == (2 * h - 1) * (2 * w - 1) - 1
    assert len(index.unique()) == (2 * h - 1) * (2 * w - 1)
    assert (index.diagonal() == (h - 1) * (2 * w - 1) + (w - 1)).all()  # zero offset
    # the same offset gives the same entry wherever the pair sits: (0,0)→(1,2) and (1,1)→(2,3)
    token = lambda y, x: y * w + x  # noqa: E731
    assert index[token(0, 0), token(1, 2)] == index[token(1, 1), token(2, 3)] == (0 - 1 + h - 1) * (2 * w - 1) + (0 - 2 + w - 1)
    assert index[token(0, 0), token(1, 2)] != index[token(1, 2), token(0, 0)]


def test_relative_position_bias_steers_attention() -> None:
    """A bias table that allows only offset "key one column to the right" makes each token read its right neighbour."""
    torch.manual_seed(0)
    h, w, dim = 3, 3, 8
    attn = RelativePositionAttention(dim, (h, w), num_heads=2)
    with torch.no_grad():
        nn.init.zeros_(attn.qkv.weight[: 2 * dim])  # q = k = 0: logits are the bias alone
        nn.init.zeros_(attn.qkv.bias[: 2 * dim])
        attn.relative_position_bias_table.fill_(-1e4)
        right = (0 + h - 1) * (2 * w - 1) + (-1 + w - 1)  # offset (y_i − y_j, x_i − x_j) = (0, −1)
        attn.relative_position_bias_table[right] = 0.0
    x = torch.randn(2, h * w, dim)
    out = attn(x)
    values = F.linear(x, attn.qkv.weight[2 * dim :], attn.qkv.bias[2 * dim :])
    for y in range(h):
        for col in range(w - 1):
            torch.testing.assert_close(out[:, y * w + col], attn.proj(values[:, y * w + col + 1]))
    assert attn.relative_position_bias().shape == (2, 9, 9)
    assert "relative_position_index" not in attn.state_dict()


def test_gate_weights_are_relu_then_sigmoid() -> None:
    torch.manual_seed(0)
    gate = RelativePositionGate(16, 4)
    x = torch.randn(2, 16, 16)
    maps = capture_attention_maps(gate, x)
    weights = maps["map"]
    assert weights.shape == (2, 16, 4, 4)
    assert weights.min() >= 0.5 and weights.max() < 1
    expected = torch.sigmoid(torch.relu(gate.attn(gate.norm(x))))
    torch.testing.assert_close(weights.flatten(2).transpose(1, 2), expected)
    torch.testing.assert_close(gate(x), x * expected)


def test_lkcnn_structure() -> None:
    model = create_model("lkcnn", num_classes=3)
    assert sum(p.numel() for p in model.parameters()) < 300_000
    assert len(model.paths) == 3
    encoder = model.paths[0].encoder
    assert [stage[0].mixer.dwconv_w.kernel_size for stage in encoder.stages] == [(1, 11), (1, 7), (1, 3), (1, 1)]
    assert model.forward_features(torch.randn(2, 3, 28, 28)).shape == (2, 3 * 64, 4, 4)
    assert not any(isinstance(m, RelativePositionGate) for m in create_model("lkcnn_no_attention").modules())
    assert LKCNN(block_size=14).eval().forward_features(torch.randn(2, 3, 28, 28)).shape == (2, 3 * 64, 2, 2)
    with pytest.raises(ValueError, match="block_size"):
        LKCNN(block_size=8)


def test_each_path_sees_its_own_map_and_blocks_stay_independent() -> None:
    torch.manual_seed(0)
    model = create_model("lkcnn_no_attention").eval()
    x = torch.randn(2, 3, 28, 28)
    bumped = x.clone()
    bumped[:, 1, 10, 17] += 5.0  # path 1 (v), block row 1, column 2
    change = (model.forward_features(bumped) - model.forward_features(x)).abs().sum((0, 1))  # (4, 4) block grid
    assert change.nonzero().tolist() == [[1, 2]]
    per_path = (model.forward_features(bumped) - model.forward_features(x)).abs().unflatten(1, (3, -1)).sum((0, 2, 3, 4))
    assert per_path[0] == 0 and per_path[2] == 0 and per_path[1] > 0
    # with the relative-position gate, blocks inform each other's weights
    gated = create_model("lkcnn").eval()
    change = (gated.forward_features(bumped) - gated.forward_features(x)).abs().sum((0, 1))
    assert (change > 0).sum() > 1
