"""DeformConv2d / deform_conv2d (paper §4.1.2, eq. 1) against torchvision.ops.deform_conv2d: values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from fer_lib.layers.deform_conv import DeformConv2d, capture_sampling_positions, deform_conv2d
from fer_lib.models import create_model

# (N, C_in, C_out, H, W, kernel, stride, padding, dilation, groups, offset_groups, modulated)
CASES = [
    (2, 6, 4, 7, 9, (3, 3), 1, 1, 1, 1, 1, False),  # the model's case: 3×3, stride 1, padding 1
    (2, 8, 6, 9, 7, (3, 2), 2, 1, 2, 2, 2, True),  # non-square kernel, stride, dilation, groups, offset groups, mask
    (3, 4, 4, 5, 5, (3, 3), 1, 0, 1, 1, 4, True),  # no padding, one offset group per channel
    (2, 4, 8, 1, 6, (3, 3), (1, 2), (1, 2), 1, 2, 1, False),  # a one-pixel-high input (grid normalisation edge case)
]


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return v if isinstance(v, tuple) else (v, v)


def _fraction_outside(offset: torch.Tensor, size: tuple[int, int], kernel: tuple[int, int], stride: tuple, padding: tuple, dilation: tuple) -> float:
    """Share of samples (eq. 1, torchvision's offset layout) with no pixel within reach: they must read as zero."""
    n, _, h_out, w_out = offset.shape
    delta = offset.detach().view(n, -1, kernel[0], kernel[1], 2, h_out, w_out)
    i, j = torch.arange(kernel[0]).view(-1, 1, 1, 1), torch.arange(kernel[1]).view(1, -1, 1, 1)
    y = torch.arange(h_out).view(-1, 1) * stride[0] - padding[0] + i * dilation[0] + delta[..., 0, :, :]
    x = torch.arange(w_out).view(1, -1) * stride[1] - padding[1] + j * dilation[1] + delta[..., 1, :, :]
    return ((y <= -1) | (y >= size[0]) | (x <= -1) | (x >= size[1])).float().mean().item()


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-4)], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_matches_torchvision_values_and_gradients(case: tuple, dtype: torch.dtype, tol: float) -> None:
    n, c, c_out, h, w, (kh, kw), stride, padding, dilation, groups, offset_groups, modulated = case
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    h_out, w_out = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, w, dtype=dtype, generator=gen, requires_grad=True)
    # offsets of a few pixels: many samples fall between pixels and some outside the image
    offset = (3 * torch.randn(n, 2 * offset_groups * kh * kw, h_out, w_out, dtype=dtype, generator=gen)).requires_grad_()
    weight = torch.randn(c_out, c // groups, kh, kw, dtype=dtype, generator=gen, requires_grad=True)
    bias = torch.randn(c_out, dtype=dtype, generator=gen, requires_grad=True)
    mask = torch.rand(n, offset_groups * kh * kw, h_out, w_out, dtype=dtype, generator=gen, requires_grad=True) if modulated else None
    inputs = [t for t in (x, offset, weight, bias, mask) if t is not None]
    assert 0.02 < _fraction_outside(offset, (h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw)) < 0.9  # zero padding is exercised

    ours = deform_conv2d(x, offset, weight, bias, stride, padding, dilation, mask)
    ref = tv_deform_conv2d(x, offset, weight, bias, (sh, sw), (ph, pw), (dh, dw), mask)
    torch.testing.assert_close(ours, ref, atol=tol, rtol=tol)

    grad_out = torch.randn(ref.shape, dtype=dtype, generator=gen)  # a random cotangent catches layout mix-ups a sum would hide
    names = ["input", "offset", "weight", "bias", "mask"]
    for name, ours_grad, ref_grad in zip(names, torch.autograd.grad(ours, inputs, grad_out), torch.autograd.grad(ref, inputs, grad_out)):
        torch.testing.assert_close(ours_grad, ref_grad, atol=tol * 10, rtol=tol, msg=lambda m, name=name: f"grad {name}: {m}")


def test_gradcheck_float64() -> None:
    """Finite-difference gradients, independent of torchvision."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    offset = (1.7 * torch.randn(1, 18, 4, 5, dtype=torch.float64, generator=gen)).requires_grad_()
    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: deform_conv2d(*t, padding=1), (x, offset, weight))


def test_new_layer_is_a_plain_conv() -> None:
    """Zero-initialised offsets (Dai et al.): a fresh DeformConv2d computes exactly nn.Conv2d with its weights."""
    layer = DeformConv2d(5, 7, 3, stride=2, padding=1, dilation=1)
    assert not layer.offset_weight.any() and not layer.offset_bias.any()
    x = torch.randn(2, 5, 11, 10)
    torch.testing.assert_close(layer(x), F.conv2d(x, layer.weight, layer.bias, 2, 1), atol=1e-5, rtol=1e-5)


def test_module_uses_predicted_offsets_and_mask() -> None:
    torch.manual_seed(0)
    layer = DeformConv2d(4, 6, 3, padding=1, offset_groups=2, modulated=True)
    nn.init.normal_(layer.offset_weight, std=0.3)
    nn.init.normal_(layer.offset_bias, std=1.0)
    x = torch.randn(2, 4, 6, 6)
    offset, mask = layer.offsets(x)
    assert offset.shape == (2, 36, 6, 6) and mask is not None and mask.shape == (2, 18, 6, 6)
    assert 0 < mask.min() and mask.max() < 1
    ref = tv_deform_conv2d(x, offset, layer.weight, layer.bias, padding=(1, 1), mask=mask)
    torch.testing.assert_close(layer(x), ref, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(layer(x), F.conv2d(x, layer.weight, layer.bias, padding=1), atol=1e-2)


def test_backbone_init_keeps_offsets_zero() -> None:
    """ResNet._init_weights re-initialises every nn.Conv2d; the offset predictor must stay zero inside dcn_cbam."""
    model = create_model("dcn_cbam", deformable_stages=(2, 3, 4))
    layers = [m for m in model.modules() if isinstance(m, DeformConv2d)]
    assert len(layers) == 6
    for layer in layers:
        assert not layer.offset_weight.any() and not layer.offset_bias.any()
        assert layer.weight.std() > 0


def test_sampling_positions_base_grid_and_shift() -> None:
    layer = DeformConv2d(3, 3, 3, stride=2, padding=1, dilation=2)
    x = torch.randn(1, 3, 8, 8)
    positions = layer.sampling_positions(x)  # zero offsets: the regular dilated grid
    h_out = _out_size(8, 3, 2, 1, 2)
    assert positions.shape == (1, 9, h_out, h_out, 2)
    # kernel point j = (row 1, col 2) at output (row 1, col 0): x = 0·2 − 1 + 2·2, y = 1·2 − 1 + 1·2
    torch.testing.assert_close(positions[0, 5, 1, 0], torch.tensor([3.0, 3.0]))
    with torch.no_grad():
        layer.offset_bias.view(9, 2)[:, 0] = 0.25  # Δy
        layer.offset_bias.view(9, 2)[:, 1] = -0.5  # Δx
    torch.testing.assert_close(layer.sampling_positions(x)[0, 5, 1, 0], torch.tensor([2.5, 3.25]))


def test_capture_sampling_positions_maps_to_image_pixels() -> None:
    model = create_model("dcn_cbam").eval()
    positions = capture_sampling_positions(model, torch.randn(2, 1, 48, 48))
    assert sorted(positions) == ["stages.2.0.conv2.0", "stages.2.1.conv2.0", "stages.3.0.conv2.0", "stages.3.1.conv2.0"]
    last = positions["stages.3.1.conv2.0"]  # 3×3 feature map: one feature pixel = 16 image pixels
    assert last.shape == (2, 9, 3, 3, 2)
    centre = last[0, 4]  # kernel centre, zero offsets: feature pixel p sits at image pixel (p + 0.5)·16 − 0.5
    torch.testing.assert_close(centre[1, 2], torch.tensor([2.5 * 16 - 0.5, 1.5 * 16 - 0.5]))


def test_bf16_autocast_and_channels_last() -> None:
    torch.manual_seed(0)
    layer = DeformConv2d(8, 8, 3, padding=1)
    nn.init.normal_(layer.offset_weight, std=0.05)
    x = torch.randn(2, 8, 6, 6)
    ref = layer(x)
    out_cl = layer(x.to(memory_format=torch.channels_last))
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out_cl, ref, atol=1e-5, rtol=1e-5)
    with torch.autocast("cpu", torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, atol=0.1, rtol=0.05)
    out.float().sum().backward()
    assert layer.weight.grad is not None and layer.offset_weight.grad is not None and torch.isfinite(layer.offset_weight.grad).all()


def test_rejects_indivisible_channels() -> None:
    with pytest.raises(ValueError, match="divisible"):
        DeformConv2d(6, 4, 3, offset_groups=4)


def test_rejects_offsets_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="offset has 10 channels"):
        deform_conv2d(torch.randn(1, 4, 5, 5), torch.randn(1, 10, 5, 5), torch.randn(4, 4, 3, 3), padding=1)
