"""Splits as code: subject-independent k-fold, leave-one-subject-out, and validation splits for honest selection.

Official splits (FER2013 Training/PublicTest/PrivateTest, RAF-DB train/test) are the loaders' ``split``
argument. Everything here returns index arrays into a :class:`~fer_lib.data.base.FaceDataset`, so a fold
is ``dataset.subset(train_idx)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold, StratifiedShuffleSplit

from .base import FaceDataset


@dataclass(frozen=True)
class Fold:
    """One fold: ``train`` and ``test`` index arrays; ``name`` is the fold number or the left-out subject."""

    name: str
    train: np.ndarray
    test: np.ndarray


def _require_subjects(dataset: FaceDataset) -> np.ndarray:
    if dataset.subjects is None:
        raise ValueError(f"{dataset.name} has no subject ids: subject-independent splits need them")
    return dataset.subjects


def subject_kfold(dataset: FaceDataset, k: int = 10, seed: int = 0) -> list[Fold]:
    """Subject-independent, label-stratified k-fold (CK+, JAFFE): no subject is in both parts of a fold.

    Uses scikit-learn's ``StratifiedGroupKFold`` (shuffled with ``seed``), which balances the class
    distribution of folds as far as whole subjects allow.
    """
    subjects = _require_subjects(dataset)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return [Fold(str(i), tr, te) for i, (tr, te) in enumerate(splitter.split(np.zeros(len(dataset)), dataset.labels, subjects))]


def loso_folds(dataset: FaceDataset) -> list[Fold]:
    """Leave-one-subject-out (micro-expressions, MEGC2019 protocol): one fold per subject, named by it."""
    subjects = _require_subjects(dataset)
    return [Fold(str(subjects[te[0]]), tr, te) for tr, te in LeaveOneGroupOut().split(np.zeros(len(dataset)), groups=subjects)]


def validation_split(dataset: FaceDataset, indices: np.ndarray | None = None, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation part out of ``indices`` (default: all rows) for honest model selection.

    With subject ids the validation part holds whole subjects (about ``fraction`` of the samples, label
    stratified); without them it is a stratified random ``fraction`` of the samples. Returns
    ``(train_idx, val_idx)`` as subsets of ``indices``.
    """
    indices = np.arange(len(dataset)) if indices is None else np.asarray(indices)
    labels = dataset.labels[indices]
    if dataset.subjects is not None:
        groups = dataset.subjects[indices]
        n_splits = max(2, min(round(1 / fraction), len(np.unique(groups))))
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        train, val = next(splitter.split(np.zeros(len(indices)), labels, groups))
    else:
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train, val = next(splitter.split(np.zeros(len(indices)), labels))
    return indices[np.sort(train)], indices[np.sort(val)]


def stratified_subset(dataset: FaceDataset, n: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a label-stratified random sample of ``n`` rows (all rows when ``n`` is ``None`` or ≥ the size)."""
    if n is None or n >= len(dataset):
        return np.arange(len(dataset))
    splitter = StratifiedShuffleSplit(n_splits=1, train_size=n, random_state=seed)
    chosen, _ = next(splitter.split(np.zeros(len(dataset)), dataset.labels))
    return np.sort(chosen)
