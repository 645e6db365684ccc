"""The in-memory dataset every loader returns: uint8 images, integer labels, class names, subjects."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DatasetFormatError


@dataclass(eq=False)
class FaceDataset(Dataset):
    """A decoded face dataset held as arrays (decode once, train from tensors).

    Attributes:
        name: registry name of the dataset (``fer2013``, ``ckplus``, ...).
        split: split name (``train``, ``val``, ``test`` or ``all``).
        images: uint8 array, ``(N, H, W, C)`` for still images or ``(N, T, H, W, C)`` for clips
            (T frames of a micro-expression clip, e.g. onset and apex); C is 1 (grey) or 3 (RGB).
        labels: int64 array ``(N,)`` indexing ``class_names``.
        class_names: class names in label-id order (see :mod:`fer_lib.data.labels`).
        sample_ids: ``(N,)`` unique string ids (relative path or clip id) naming each sample's source.
        subjects: ``(N,)`` subject ids as strings, or ``None`` when the dataset has none.
        meta: extra per-sample columns of length N (e.g. ``database``, ``onset``, ``apex``).
    """

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    sample_ids: np.ndarray
    subjects: np.ndarray | None = None
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.class_names = tuple(str(c) for c in self.class_names)  # plain str: e.g. numpy's str_ would not survive JSON or weights_only loading
        n = len(self.labels)
        if self.images.dtype != np.uint8 or self.images.ndim not in (4, 5):
            raise DatasetFormatError(f"{self.name}: images must be uint8 (N,H,W,C) or (N,T,H,W,C), got {self.images.dtype} {self.images.shape}")
        columns = {"images": self.images, "sample_ids": self.sample_ids, **self.meta}
        if self.subjects is not None:
            columns["subjects"] = self.subjects
        for key, value in columns.items():
            if len(value) != n:
                raise DatasetFormatError(f"{self.name}: {key} has {len(value)} rows but there are {n} labels")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise DatasetFormatError(f"{self.name}: label ids must lie in [0, {len(self.class_names)}), got {self.labels.min()}..{self.labels.max()}")
        duplicated = [k for k, c in Counter(self.sample_ids.tolist()).items() if c > 1]
        if duplicated:
            raise DatasetFormatError(f"{self.name}: duplicate samples {duplicated[:5]} ({len(duplicated)} in all); every sample must appear once")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        """Return ``(image, label)``: image a uint8 tensor ``(C, H, W)`` (or ``(T, C, H, W)`` for clips)."""
        return torch.from_numpy(np.moveaxis(self.images[index], -1, -3).copy()), int(self.labels[index])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_subjects(self) -> int | None:
        return None if self.subjects is None else len(np.unique(self.subjects))

    def class_counts(self) -> dict[str, int]:
        """Samples per class, in class order."""
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def content_digest(self) -> str:
        """Hex digest of the images, labels and sample ids: equal digests, equal data (cache keys, resumed runs)."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(np.ascontiguousarray(self.images).data)
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        digest.update("\n".join(map(str, self.sample_ids)).encode())
        return digest.hexdigest()

    def subset(self, indices: Sequence[int] | np.ndarray, split: str | None = None) -> "FaceDataset":
        """A new dataset holding the rows ``indices`` (arrays are indexed, not shared)."""
        idx = np.asarray(indices, dtype=np.int64)
        return FaceDataset(
            name=self.name,
            split=split or self.split,
            images=self.images[idx],
            labels=self.labels[idx],
            class_names=self.class_names,
            sample_ids=self.sample_ids[idx],
            subjects=None if self.subjects is None else self.subjects[idx],
            meta={k: v[idx] for k, v in self.meta.items()},
        )

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images as one uint8 tensor ``(N, C, H, W)`` (clips: ``(N, T, C, H, W)``) and labels ``(N,)``."""
        images = torch.from_numpy(self.images).movedim(-1, -3).contiguous()
        return images, torch.from_numpy(self.labels)
