"""Device-resident tensor batching: the decoded uint8 dataset as one tensor, batches gathered by index, no DataLoader.

Decoding JPEGs per epoch is the classic FER bottleneck (docs/architecture.md §2). Here a split is decoded once (the data cache),
held as a uint8 tensor — on a GPU the whole of FER2013 (≈ 80 MB) lives in GPU memory — and a batch is one index
gather, one fused normalise (:class:`~fer_lib.preprocess.Normalize`, statistics of the training split) and one batched augmentation
(:class:`~fer_lib.preprocess.BatchAugment`) on the device. No per-image Python, no PIL, no worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ..data.base import FaceDataset
from ..preprocess.normalize import channel_stats


@dataclass
class TensorSplit:
    """One split as tensors: ``images`` uint8 ``(N, C, H, W)`` (clips ``(N, T, C, H, W)``), ``labels`` int64 ``(N,)``.

    ``images`` live on the compute device (``data_on_device``) or in CPU memory, from where each batch is copied.
    """

    images: torch.Tensor
    labels: torch.Tensor

    @classmethod
    def from_dataset(cls, dataset: FaceDataset, device: torch.device, on_device: bool = True) -> "TensorSplit":
        """Tensors of ``dataset``, moved to ``device`` when ``on_device`` (else kept in CPU memory)."""
        images, labels = dataset.tensors()
        return cls(images.to(device), labels.to(device)) if on_device else cls(images, labels)

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``indices`` ``(B,)`` as (uint8 images, labels) on ``device``."""
        indices = indices.to(self.images.device)
        return self.images[indices].to(device), self.labels[indices].to(device)


def normalization_stats(dataset: FaceDataset) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std ``(C,)`` of the TRAINING split, for :class:`Normalize` (val/test statistics would leak)."""
    return channel_stats(dataset.images.reshape(-1, *dataset.images.shape[-3:]))  # clips: every frame counts as one image


def batch_slices(indices: torch.Tensor, batch_size: int, drop_last: bool) -> Iterator[torch.Tensor]:
    """Consecutive ``(batch_size,)`` slices of ``indices``; the last partial one is dropped when ``drop_last``.

    Training drops it: a tiny last batch gives noisy BatchNorm statistics and a gradient step with outsized weight.
    Evaluation keeps it: every sample must be predicted.
    """
    stop = len(indices) - len(indices) % batch_size if drop_last else len(indices)
    for start in range(0, stop, batch_size):
        yield indices[start : start + batch_size]


def model_input(images_u8: torch.Tensor, normalize: nn.Module, augment: nn.Module | None, channels_last: bool) -> torch.Tensor:
    """uint8 batch ``(B, C, H, W)`` or clips ``(B, T, C, H, W)`` -> normalised (and augmented) float32 input, same shape.

    Clips fold their frames into channels for augmentation, so every frame of a clip gets the same flip/affine/erasing
    (a different warp per frame would invent motion).
    """
    x = normalize(images_u8)
    if augment is not None:
        x = augment(x.flatten(1, -3)).view_as(x)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def data_fingerprint(dataset: FaceDataset | None) -> str:
    """A short digest of a split's images and labels: a resumed run must train on exactly the data it started with."""
    if dataset is None:
        return "none"
    return f"{len(dataset)}:{dataset.content_digest()}"
