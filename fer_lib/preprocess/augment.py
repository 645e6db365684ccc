"""Batch augmentation on the device: flip + random affine in one ``grid_sample`` pass, then random erasing.

The whole float batch ``(N, C, H, W)`` is augmented where it lives (GPU or CPU), with no PIL and no per-image
Python loop: per-image parameters are drawn as ``(N,)`` tensors, the horizontal flip is folded into each
image's affine matrix, and erasing rectangles are built as broadcast masks. All randomness comes from an
optional ``torch.Generator`` (on any device), so a seed reproduces a batch exactly, on CPU and GPU alike.

Use it after :class:`~fer_lib.preprocess.normalize.Normalize`: then the erase value 0 is the dataset mean.
Padding is ``"reflection"`` by default: shifted, shrunk or rotated faces get mirrored border content rather than
black wedges, whose hard edges a network trained from scratch can latch onto (``"zeros"`` is available).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

PADDING_MODES = ("reflection", "zeros", "border")


def affine_theta(flip: torch.Tensor, angle_deg: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Per-image ``F.affine_grid`` matrices ``(N, 2, 3)`` mapping output to input normalised coordinates.

    The content is flipped (``flip`` bool ``(N,)``), rotated by ``angle_deg`` ``(N,)`` (positive = clockwise on
    screen), scaled by ``scale`` ``(N,)`` (> 1 zooms in) about the centre, then shifted by ``shift`` ``(N, 2)``
    = (x, y) fractions of width and height (positive = right, down). Rotation is a true rotation in pixels
    also for non-square images.
    """
    angle = torch.deg2rad(angle_deg.float())
    cos, sin = torch.cos(angle), torch.sin(angle)
    sign = 1 - 2 * flip.float()
    aspect = width / height
    # Inverse map in centred pixel units: input = F · R(-angle) · (output - shift) / scale, then rescaled to [-1, 1] per axis.
    a = torch.stack([torch.stack([sign * cos, sign * sin / aspect], -1), torch.stack([-sin * aspect, cos], -1)], -2) / scale.float()[:, None, None]
    t = -(a @ (2 * shift.float())[..., None])
    return torch.cat([a, t], -1)


def warp_affine(x: torch.Tensor, theta: torch.Tensor, padding_mode: str = "reflection") -> torch.Tensor:
    """Resample ``x`` ``(N, C, H, W)`` float with ``theta`` ``(N, 2, 3)`` (bilinear, ``align_corners=False``); same shape and dtype.

    Sampling runs in float32: a bf16 grid is off by up to half a pixel at 224 px.
    """
    grid = F.affine_grid(theta.to(x.device, torch.float32), list(x.shape), align_corners=False)
    return F.grid_sample(x.float(), grid, mode="bilinear", padding_mode=padding_mode, align_corners=False).to(x.dtype)


class BatchAugment(nn.Module):
    """Random flip, affine (shift, scale, rotation) and erasing for a float batch ``(N, C, H, W)``; identity in ``eval()``.

    Defaults are the usual FER2013 recipe: flip 0.5, shift ±10 %, scale 0.9–1.1, rotation ±10°, erasing with
    p 0.5 of 2–20 % of the image (aspect ratio 0.3–3.3, as torchvision's ``RandomErasing``).
    """

    def __init__(
        self,
        flip_p: float = 0.5,
        shift: float = 0.1,
        scale: tuple[float, float] = (0.9, 1.1),
        rotation_deg: float = 10.0,
        erase_p: float = 0.5,
        erase_area: tuple[float, float] = (0.02, 0.2),
        erase_ratio: tuple[float, float] = (0.3, 3.3),
        padding_mode: str = "reflection",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if not (0 < erase_area[0] <= erase_area[1] <= 1 and 0 < erase_ratio[0] <= erase_ratio[1] and 0 < scale[0] <= scale[1]):
            raise ValueError(
                f"need 0 < erase_area[0] <= erase_area[1] <= 1 and positive low <= high ranges for erase_ratio and scale; "
                f"got {erase_area}, {erase_ratio}, {scale}"
            )
        self.flip_p, self.shift, self.scale, self.rotation_deg = flip_p, shift, scale, rotation_deg
        self.erase_p, self.erase_area, self.erase_ratio = erase_p, erase_area, erase_ratio
        self.padding_mode = padding_mode
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` float -> augmented batch of the same shape, dtype and device."""
        if not self.training:
            return x
        if not x.is_floating_point() or x.ndim != 4:
            raise ValueError(f"BatchAugment expects a float batch (N, C, H, W), got {x.dtype} {tuple(x.shape)}; apply Normalize first")
        n, _, h, w = x.shape
        x = warp_affine(x, self._sample_theta(n, h, w), self.padding_mode)
        return x.masked_fill(self._sample_erase_mask(n, h, w, x.device), 0)

    def _rand(self, *shape: int) -> torch.Tensor:
        """Uniform [0, 1) from the generator, on the generator's device (draws are tiny; results move to the batch)."""
        device = self.generator.device if self.generator is not None else "cpu"
        return torch.rand(shape, generator=self.generator, device=device)

    def _sample_theta(self, n: int, h: int, w: int) -> torch.Tensor:
        flip = self._rand(n) < self.flip_p
        angle = (2 * self._rand(n) - 1) * self.rotation_deg
        scale = self.scale[0] + self._rand(n) * (self.scale[1] - self.scale[0])
        shift = (2 * self._rand(n, 2) - 1) * self.shift
        return affine_theta(flip, angle, scale, shift, h, w)

    def _sample_erase_mask(self, n: int, h: int, w: int, device: torch.device) -> torch.Tensor:
        """Bool ``(N, 1, H, W)``: one rectangle per selected image, True where erased."""
        apply, area, log_ratio, top_u, left_u = self._rand(5, n)
        area = (self.erase_area[0] + area * (self.erase_area[1] - self.erase_area[0])) * h * w
        ratio = torch.exp(math.log(self.erase_ratio[0]) + log_ratio * math.log(self.erase_ratio[1] / self.erase_ratio[0]))
        eh = torch.sqrt(area * ratio).round().clamp(1, h)
        ew = torch.sqrt(area / ratio).round().clamp(1, w)
        top = torch.floor(top_u * (h - eh + 1))
        left = torch.floor(left_u * (w - ew + 1))
        box = torch.stack([top, top + eh, left, left + ew, (apply < self.erase_p).float()], 1).to(device)[..., None, None]
        rows = torch.arange(h, device=device).view(1, h, 1)
        cols = torch.arange(w, device=device).view(1, 1, w)
        inside = (rows >= box[:, 0]) & (rows < box[:, 1]) & (cols >= box[:, 2]) & (cols < box[:, 3]) & (box[:, 4] > 0)
        return inside[:, None]

    def extra_repr(self) -> str:
        return (
            f"flip_p={self.flip_p}, shift={self.shift}, scale={self.scale}, rotation_deg={self.rotation_deg}, "
            f"erase_p={self.erase_p}, erase_area={self.erase_area}, erase_ratio={self.erase_ratio}, padding_mode={self.padding_mode!r}"
        )
