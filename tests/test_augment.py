"""Batch augmentation: known answers for flip, shift, rotation, identity and erasing; reproducibility; dtypes."""

from __future__ import annotations

import pytest
import torch

from fer_lib.preprocess import BatchAugment, affine_theta, warp_affine

NO_GEOMETRY = {"shift": 0.0, "scale": (1.0, 1.0), "rotation_deg": 0.0}


def _theta(n: int, h: int, w: int, angle: float = 0.0, scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    return affine_theta(torch.zeros(n, dtype=torch.bool), torch.full((n,), angle), torch.full((n,), scale), torch.tensor([shift] * n), h, w)


def _dot(h: int, w: int, row: int, col: int) -> torch.Tensor:
    x = torch.zeros(1, 1, h, w)
    x[0, 0, row, col] = 1.0
    return x


def _hot(x: torch.Tensor) -> list[list[int]]:
    return (x[0, 0] > 0.5).nonzero().tolist()


def test_flip_twice_is_identity_and_once_mirrors() -> None:
    flip = BatchAugment(flip_p=1.0, erase_p=0.0, **NO_GEOMETRY)
    x = torch.rand(4, 3, 16, 12)
    once = flip(x)
    torch.testing.assert_close(once, x.flip(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(flip(once), x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("k", [1, 3])
def test_shift_moves_pattern_by_k_pixels(k: int) -> None:
    x = _dot(10, 12, 4, 5)
    assert _hot(warp_affine(x, _theta(1, 10, 12, shift=(k / 12, 0)), "zeros")) == [[4, 5 + k]]
    assert _hot(warp_affine(x, _theta(1, 10, 12, shift=(0, -k / 10)), "zeros")) == [[4 - k, 5]]


def test_rotation_is_true_rotation_on_non_square_image() -> None:
    # Pixel (row 3, col 7) sits at (+1.5, -0.5) from the centre (5.5, 3.5) of an 8×12 image; 90° clockwise -> (+0.5, +1.5).
    assert _hot(warp_affine(_dot(8, 12, 3, 7), _theta(1, 8, 12, angle=90.0), "zeros")) == [[5, 6]]


def test_zoom_scales_a_ramp_about_the_centre() -> None:
    # Bilinear sampling reproduces a linear ramp exactly: zooming by 2 about column 7.5 maps value j to 7.5 + (j - 7.5) / 2.
    ramp = torch.arange(16.0).expand(1, 1, 16, 16)
    out = warp_affine(ramp, _theta(1, 16, 16, scale=2.0), "zeros")
    torch.testing.assert_close(out, 7.5 + (ramp - 7.5) / 2, atol=1e-4, rtol=0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_zero_geometry_is_identity(channels: int, dtype: torch.dtype) -> None:
    x = torch.rand(5, channels, 20, 20).to(dtype)
    out = BatchAugment(flip_p=0.0, erase_p=0.0, **NO_GEOMETRY)(x)
    assert out.dtype == dtype and out.shape == x.shape
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_random_shift_stays_within_range() -> None:
    x = _dot(40, 40, 20, 20).repeat(64, 1, 1, 1)
    out = BatchAugment(flip_p=0.0, shift=0.1, scale=(1.0, 1.0), rotation_deg=0.0, erase_p=0.0, padding_mode="zeros")(x)
    grid = torch.arange(40.0)
    mass = out.sum(dim=(1, 2, 3))
    col = (out.sum(dim=(1, 2)) * grid).sum(-1) / mass
    row = (out.sum(dim=(1, 3)) * grid).sum(-1) / mass
    torch.testing.assert_close(mass, torch.ones(64), atol=1e-4, rtol=0)
    assert (col - 20).abs().max() <= 4.01 and (row - 20).abs().max() <= 4.01 and (col - 20).abs().max() > 1


def test_erasing_touches_expected_area() -> None:
    x = torch.ones(400, 3, 64, 64)
    out = BatchAugment(flip_p=0.0, erase_p=0.5, erase_area=(0.02, 0.2), generator=torch.Generator().manual_seed(3), **NO_GEOMETRY)(x)
    erased = (out == 0).all(dim=1).float().mean(dim=(1, 2))  # every channel erased together
    changed = erased > 0
    assert 150 < changed.sum() < 250
    # Rounding the rectangle to whole pixels moves its area by at most ~13 % at the small end, ~4 % at the large end.
    assert erased[changed].min() >= 0.017 and erased[changed].max() <= 0.21
    assert ((out - x).abs() > 1e-5).any(dim=1).float().mean(dim=(1, 2)).sub(erased).abs().max() == 0


def test_same_seed_same_output_different_seed_differs() -> None:
    x = torch.rand(8, 1, 32, 32)
    outs = [BatchAugment(generator=torch.Generator().manual_seed(seed))(x) for seed in (7, 7, 8)]
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)
    assert not torch.allclose(outs[0], outs[2])


def test_default_recipe_keeps_dtype_and_shape() -> None:
    x = torch.rand(6, 3, 48, 48, dtype=torch.bfloat16)
    out = BatchAugment()(x)
    assert out.dtype == torch.bfloat16 and out.shape == x.shape and not torch.equal(out, x)


def test_eval_mode_is_identity() -> None:
    x = torch.rand(4, 3, 16, 16)
    assert BatchAugment().eval()(x) is x


def test_rejects_uint8_and_bad_padding() -> None:
    with pytest.raises(ValueError, match="float batch"):
        BatchAugment()(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="padding_mode"):
        BatchAugment(padding_mode="wrap")
