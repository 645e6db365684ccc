"""CBAM (Woo et al. 2018; paper §4.1.2, figs 3–4): shapes, maps, exact formulas, capture."""

from __future__ import annotations

import torch
from torch import nn

from fer_lib.layers import CBAM, ChannelAttention, SpatialAttention, capture_attention_maps
from fer_lib.models import create_model


def _zero_parameters(module: nn.Module) -> None:
    """Zero every conv/MLP weight and bias (BatchNorm keeps γ = 1, β = 0, so it maps 0 to 0)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.zeros_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def test_shapes_and_maps_in_unit_interval() -> None:
    x = torch.randn(3, 32, 7, 5)
    cbam = CBAM(32)
    assert cbam(x).shape == x.shape
    maps = capture_attention_maps(cbam, x)
    assert set(maps) == {"cam.map", "sam.map"}
    assert maps["cam.map"].shape == (3, 32, 1, 1) and maps["sam.map"].shape == (3, 1, 7, 5)
    for m in maps.values():
        assert 0 <= m.min() and m.max() <= 1


def test_zeroed_weights_give_constant_scaling() -> None:
    """σ(0) = 0.5 in both maps: CAM and SAM each halve the input, CBAM quarters it (train and eval mode)."""
    x = torch.randn(2, 16, 6, 6)
    cam, sam, cbam = ChannelAttention(16), SpatialAttention(), CBAM(16)
    for module in (cam, sam, cbam):
        _zero_parameters(module)
    torch.testing.assert_close(cam(x), 0.5 * x)
    torch.testing.assert_close(sam(x), 0.5 * x)
    torch.testing.assert_close(cbam(x), 0.25 * x)
    torch.testing.assert_close(cbam.eval()(x), 0.25 * x)


def test_channel_attention_formula() -> None:
    """M_c = σ(MLP(AvgPool F) + MLP(MaxPool F)) with one shared MLP (fig. 3)."""
    torch.manual_seed(0)
    cam = ChannelAttention(32, reduction=4)
    x = torch.randn(2, 32, 5, 5)
    avg, mx = x.mean((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    expected = torch.sigmoid(cam.mlp(avg) + cam.mlp(mx))
    torch.testing.assert_close(cam(x), x * expected)
    assert cam.mlp[0].out_channels == 8


def test_spatial_attention_formula() -> None:
    """M_s = σ(f^{7×7}([AvgPool_c F; MaxPool_c F])) (fig. 4; no norm layer = Woo et al.'s eq. 3)."""
    torch.manual_seed(0)
    sam = SpatialAttention(kernel_size=7, norm_layer=None)
    x = torch.randn(2, 8, 9, 9)
    pooled = torch.cat((x.mean(1, keepdim=True), x.amax(1, keepdim=True)), 1)
    expected = torch.sigmoid(nn.functional.conv2d(pooled, sam.conv.weight, sam.conv.bias, padding=3))
    torch.testing.assert_close(sam(x), x * expected)


def test_cbam_is_channel_then_spatial() -> None:
    torch.manual_seed(0)
    cbam = CBAM(16, reduction=4).eval()
    x = torch.randn(2, 16, 6, 6)
    torch.testing.assert_close(cbam(x), cbam.sam(cbam.cam(x)))
    assert not torch.allclose(cbam(x), cbam.cam(cbam.sam(x)))


def test_backward_reaches_every_parameter() -> None:
    cbam = CBAM(16, reduction=4)
    x = torch.randn(2, 16, 6, 6, requires_grad=True)
    cbam(x).square().sum().backward()
    assert x.grad is not None
    for name, p in cbam.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_capture_in_the_cbam_backbone() -> None:
    """Every block of resnet18_cbam exposes its channel and spatial maps for figures."""
    maps = capture_attention_maps(create_model("resnet18_cbam").eval(), torch.randn(2, 1, 48, 48))
    assert len(maps) == 16
    assert maps["stages.0.0.attn.sam.map"].shape == (2, 1, 24, 24)
    assert maps["stages.3.1.attn.cam.map"].shape == (2, 512, 1, 1)
