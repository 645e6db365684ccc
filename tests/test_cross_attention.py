"""Multi-head cross-attention (§4.1.1): the batched module equals DAN's per-head formulation, stands in for a 3×3 conv,
exposes the maps it uses, and its partition loss / IRNet's auxiliary loss behave as documented."""

from __future__ import annotations

from typing import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fer_lib.layers import AttentionMap, MultiHeadCrossAttention, capture_attention_maps
from fer_lib.layers.cross_attention import partition_loss
from fer_lib.models import create_model
from fer_lib.models.resnet import Bottleneck


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Batches of 2 gain nothing from a second thread, and on a busy 2-core machine every OpenMP barrier waits for a
    descheduled thread (measured: ResNet50 forward 0.1 s with 1 thread, 0.2–3 s with 2 while other jobs run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _randomise_norms(module: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine parameters, so a wrong channel slice cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.3)


def _bn(x: torch.Tensor, bn: nn.Module, sl: slice) -> torch.Tensor:
    """Eval-mode BatchNorm restricted to the channels ``sl`` (dim 1)."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    mean, var = bn.running_mean[sl].view(shape), bn.running_var[sl].view(shape)
    return (x - mean) / torch.sqrt(var + bn.eps) * bn.weight[sl].view(shape) + bn.bias[sl].view(shape)


def _reference(module: MultiHeadCrossAttention, x: torch.Tensor) -> torch.Tensor:
    """DAN's formulation, one head at a time with three separate convs each, every head re-weighting the value path."""
    sp, ch = module.spatial, module.channel
    value = module.value(x)
    channels, heads, hidden = value.shape[1], sp.num_heads, sp.square.shape[1]
    channel_hidden = ch.mlp[0].out_channels // heads
    out = torch.zeros_like(value)
    for h in range(heads):
        s, c = slice(h * hidden, (h + 1) * hidden), slice(h * channel_hidden, (h + 1) * channel_hidden)
        r = _bn(F.conv2d(value, sp.reduce[0].weight[s]), sp.reduce[1], s)
        mixed = F.conv2d(r, sp.square[s], padding=1) + F.conv2d(r, sp.horizontal[s], padding=(0, 1)) + F.conv2d(r, sp.vertical[s], padding=(1, 0))
        energy = F.relu(_bn(mixed, sp.mix_norm, s)).sum(dim=1, keepdim=True)
        attended = value * torch.sigmoid(_bn(energy, sp.norm, slice(h, h + 1)))
        w1, b1 = ch.mlp[0].weight[c, :, 0], ch.mlp[0].bias[c]
        w2, b2 = ch.mlp[3].weight[h * channels : (h + 1) * channels, :, 0], ch.mlp[3].bias[h * channels : (h + 1) * channels]
        hidden_units = F.relu(_bn(attended.mean(dim=(2, 3)) @ w1.T + b1, ch.mlp[1], c))
        out = out + attended * torch.sigmoid(hidden_units @ w2.T + b2)[:, :, None, None]
    return out


@pytest.mark.parametrize("num_heads,channels,size", [(4, 64, (9, 7)), (1, 32, (5, 5)), (3, 48, (6, 8))])
def test_batched_heads_equal_per_head_dan_formulation(num_heads: int, channels: int, size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    module = MultiHeadCrossAttention(channels, channels, num_heads=num_heads).eval()
    _randomise_norms(module)
    x = torch.randn(3, channels, *size)
    with torch.no_grad():
        torch.testing.assert_close(module(x), _reference(module, x), atol=1e-4, rtol=1e-4)


def test_captured_maps_are_the_ones_applied() -> None:
    torch.manual_seed(1)
    module = MultiHeadCrossAttention(16, 16, num_heads=3).eval()
    _randomise_norms(module)
    x = torch.randn(2, 16, 6, 5)
    maps = capture_attention_maps(module, x)
    spatial = [maps[f"spatial.maps.{h}"] for h in range(3)]
    channel = [maps[f"channel.maps.{h}"] for h in range(3)]
    assert all(s.shape == (2, 1, 6, 5) for s in spatial) and all(c.shape == (2, 16, 1, 1) for c in channel)
    assert all(((m > 0) & (m < 1)).all() for m in spatial + channel)
    with torch.no_grad():
        value = module.value(x)
        torch.testing.assert_close(module(x), value * sum(s * c for s, c in zip(spatial, channel)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("stride", [1, 2])
def test_stands_in_for_the_bottleneck_3x3_conv(stride: int) -> None:
    x = torch.randn(2, 64, 12, 10)
    plain, attended = Bottleneck(64, 16, stride), Bottleneck(64, 16, stride, conv_layer=MultiHeadCrossAttention)
    assert attended(x).shape == plain(x).shape == (2, 64, 12 // stride, 10 // stride)
    assert isinstance(attended.conv2[0], MultiHeadCrossAttention)


def test_channels_last_and_contiguous_layouts_agree() -> None:
    torch.manual_seed(4)
    module = MultiHeadCrossAttention(24, 24, num_heads=2).eval()
    _randomise_norms(module)
    x = torch.randn(2, 24, 7, 5)
    with torch.no_grad():
        out = module.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
        assert out.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(out, module.to(memory_format=torch.contiguous_format)(x), atol=1e-5, rtol=1e-5)


def test_bf16_autocast_keeps_channels_last_and_values() -> None:
    torch.manual_seed(2)
    module = MultiHeadCrossAttention(32, 32).eval().to(memory_format=torch.channels_last)
    x = torch.randn(2, 32, 8, 8).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = module(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = module(x)
    assert low.dtype == torch.bfloat16 and low.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(low.float(), ref, atol=0.05 * ref.abs().max().item(), rtol=0.05)


def test_partition_loss_prefers_heads_on_different_regions() -> None:
    same = torch.full((2, 4, 6, 6), 0.5) + 0.01 * torch.rand(2, 1, 6, 6)
    apart = torch.zeros(2, 4, 6, 6)
    for h in range(4):
        apart[:, h, (h // 2) * 3 : (h // 2) * 3 + 3, (h % 2) * 3 : (h % 2) * 3 + 3] = 1.0
    assert partition_loss(apart) < partition_loss(same)
    assert torch.isfinite(partition_loss(torch.ones(1, 4, 3, 3)))
    assert partition_loss(torch.rand(2, 1, 4, 4)) == 0
    maps = torch.rand(2, 4, 5, 5, requires_grad=True)
    partition_loss(maps).backward()
    assert partition_loss(maps.detach() - 0.5 * maps.grad) < partition_loss(maps.detach())  # descent spreads the heads apart


def test_irnet_auxiliary_loss_is_the_weighted_partition_loss() -> None:
    torch.manual_seed(3)
    model = create_model("irnet", img_size=32, partition_weight=0.5).train()
    x = torch.randn(2, 1, 32, 32)
    model(x)
    aux = model.auxiliary_loss()
    maps = capture_attention_maps(model, x)  # train-mode BN uses batch statistics: the same maps as the forward above
    model.auxiliary_loss()
    expected = torch.stack(
        [partition_loss(torch.cat([maps[f"{name}.spatial.maps.{h}"] for h in range(4)], dim=1)) for name, _ in _cross_attention(model)]
    ).mean()
    torch.testing.assert_close(aux.detach(), 0.5 * expected, atol=1e-4, rtol=1e-4)
    aux.backward()
    assert all(m.spatial.square.grad is not None and m.spatial.square.grad.abs().sum() > 0 for _, m in _cross_attention(model))
    assert model.auxiliary_loss() == 0  # consumed
    model.eval()(x)
    assert model.auxiliary_loss() == 0  # nothing recorded outside training


def test_irnet_without_partition_weight_records_nothing() -> None:
    model = create_model("irnet", img_size=32).train()
    model(torch.randn(2, 1, 32, 32))
    assert all(m.last_partition_loss is None for _, m in _cross_attention(model))
    assert model.auxiliary_loss() == 0


@pytest.mark.parametrize("name,replace_last,expected_blocks,heads", [
    ("irnet", None, 16, 4),
    ("irnet", (1, 1, 1, 1), 4, 4),
    ("irnet", (0, 2, 0, 1), 3, 4),
    ("irnet_single_head", None, 16, 1),
])  # fmt: skip
def test_irnet_replaces_the_3x3_convs_of_conv2_to_conv5(name: str, replace_last: tuple[int, ...] | None, expected_blocks: int, heads: int) -> None:
    model = create_model(name, replace_last=replace_last)
    modules = _cross_attention(model)
    assert len(modules) == expected_blocks
    assert all(n.endswith(".conv2.0") and m.spatial.num_heads == heads for n, m in modules)
    if replace_last is not None:
        for stage, keep in zip(model.stages, replace_last):
            flags = [isinstance(block.conv2[0], MultiHeadCrossAttention) for block in stage]
            assert flags == [False] * (len(stage) - keep) + [True] * keep  # the last `keep` blocks of each stage
    assert sum(isinstance(m, AttentionMap) for m in model.modules()) == 2 * heads * expected_blocks


def _cross_attention(model: nn.Module) -> list[tuple[str, MultiHeadCrossAttention]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, MultiHeadCrossAttention)]
