"""Intensity normalisation: dataset channel statistics, a device-side ``Normalize`` module, per-image standardisation."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def channel_stats(images: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std ``(C,)`` in [0, 1] units of uint8 ``(N, H, W, C)`` images.

    Why: normalising with the training set's own statistics (not ImageNet's) suits grey FER data trained
    from scratch. Sums run in float64 over ``chunk`` images at a time, so memory stays at one chunk.
    """
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) == 0:
        raise ValueError(f"channel_stats expects a non-empty uint8 array (N, H, W, C), got {images.dtype} {images.shape}")
    channels = images.shape[-1]
    total = np.zeros(channels)
    total_sq = np.zeros(channels)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].reshape(-1, channels).astype(np.float64)
        total += block.sum(0)
        total_sq += np.square(block).sum(0)
    count = images.size // channels
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return (mean / 255).astype(np.float32), (std / 255).astype(np.float32)


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel for batches ``(N, C, H, W)``: uint8 in [0, 255] or float in [0, 1].

    Why: zero-mean unit-scale inputs train faster; doing it on the device after the uint8 batch transfer moves
    4× fewer bytes than shipping floats. uint8 input gives float32; float input keeps its dtype (bf16 stays bf16).
    One fused multiply-add, so the output keeps the input's memory format (``channels_last`` stays).
    """

    def __init__(self, mean: float | tuple[float, ...] | np.ndarray, std: float | tuple[float, ...] | np.ndarray) -> None:
        super().__init__()
        mean_t = torch.as_tensor(np.atleast_1d(mean), dtype=torch.float32).view(1, -1, 1, 1)
        std_t = torch.as_tensor(np.atleast_1d(std), dtype=torch.float32).view(1, -1, 1, 1)
        if mean_t.shape != std_t.shape or bool((std_t <= 0).any()):
            raise ValueError(f"Normalize needs mean and std of equal length with std > 0, got mean={mean} std={std}")
        self.register_buffer("scale", 1 / std_t)
        self.register_buffer("shift", -mean_t / std_t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` uint8 or float -> normalised float of the same shape."""
        if x.dtype == torch.uint8:  # addcmul promotes uint8 to float32 without a separate copy
            return torch.addcmul(self.shift, x, self.scale / 255)
        return torch.addcmul(self.shift.to(x.dtype), x, self.scale.to(x.dtype))


def standardize_per_image(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Zero mean, unit variance per image over ``(C, H, W)``: ``(N, C, H, W)`` uint8 or float -> float, same shape.

    Why: removes each image's brightness and contrast, which in FER2013 and CK+ vary with the camera, not the expression.
    """
    x = x.float() if x.dtype == torch.uint8 else x
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True, correction=0)
    return (x - mean) / (std + eps)
