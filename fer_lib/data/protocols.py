"""Evaluation protocols: how a dataset is split into train / validation / test folds (docs/architecture.md §3).

Each dataset declares its protocol in its :class:`~fer_lib.data.registry.DatasetSpec`, so the experiment needs no
edit for a new dataset:

* :class:`OfficialSplit` — the dataset's own splits (FER2013 Training / PublicTest / PrivateTest; RAF-DB train /
  test; AffectNet train / validation). Without an official validation split one is carved from the training split.
* :class:`SubjectKFold` — subject-independent k-fold (CK+, JAFFE: no official split), a validation part carved from
  each fold's training subjects.
* :class:`LeaveOneSubjectOut` — one fold per subject (micro-expressions, the MEGC2019 protocol, paper §4.2); the
  headline metrics are computed on the predictions of all folds pooled.
* :class:`RandomHoldout` — a stratified random test part (in-the-wild sets with neither splits nor subject ids).

The recipe decides the budget: ``img_size``, ``train_limit`` / ``eval_limit`` (stratified samples), ``k_folds``,
``max_folds``, ``val_fraction`` (``None``: no validation part; honest = the last epoch of a fixed budget).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from .base import FaceDataset
from .splits import Fold, loso_folds, stratified_subset, subject_kfold, validation_split

SplitLoader = Callable[[str], FaceDataset]  # split name -> that split of the dataset, decoded at the recipe's size


@dataclass
class FoldData:
    """One fold's datasets: ``val`` is ``None`` when the recipe trains a fixed budget without a validation part."""

    name: str
    train: FaceDataset
    val: FaceDataset | None
    test: FaceDataset


class EvaluationProtocol(ABC):
    """How a dataset is split for training and evaluation."""

    kind: ClassVar[str]
    pooled: ClassVar[bool] = False  # headline metrics on all folds' predictions pooled, instead of the mean over folds

    @abstractmethod
    def folds(self, load: SplitLoader, recipe: dict[str, Any], seed: int) -> list[FoldData]:
        """The folds of this protocol under ``recipe``'s data settings, drawn with ``seed``."""

    @abstractmethod
    def describe(self, n_folds: int) -> str:
        """What the test metrics are measured on, for tables (e.g. ``"PrivateTest"``, ``"LOSO, 68 subjects"``)."""


@dataclass(frozen=True)
class OfficialSplit(EvaluationProtocol):
    """The dataset's own ``train`` / ``test`` splits, and ``val`` where it has one (else carved from ``train``)."""

    train: str = "train"
    test: str = "test"
    val: str | None = None
    test_label: str = "official test split"
    kind: ClassVar[str] = "official"

    def folds(self, load: SplitLoader, recipe: dict[str, Any], seed: int) -> list[FoldData]:
        train, test = load(self.train), load(self.test)
        train = train.subset(stratified_subset(train, recipe["train_limit"], seed))
        test = test.subset(stratified_subset(test, recipe["eval_limit"], seed))
        if self.val is not None:
            val = load(self.val)
            return [FoldData("official", train, val.subset(stratified_subset(val, recipe["eval_limit"], seed)), test)]
        return [_with_validation("official", train, np.arange(len(train)), test, recipe, seed)]

    def describe(self, n_folds: int) -> str:
        return self.test_label


@dataclass(frozen=True)
class SubjectKFold(EvaluationProtocol):
    """Subject-independent, label-stratified k-fold over the ``all`` split (``k`` = the recipe's ``k_folds``)."""

    kind: ClassVar[str] = "subject_kfold"

    def folds(self, load: SplitLoader, recipe: dict[str, Any], seed: int) -> list[FoldData]:
        full = _with_subjects(load("all"), self.kind)
        return _fold_data(full, subject_kfold(full, recipe["k_folds"], seed), recipe, seed)

    def describe(self, n_folds: int) -> str:
        return f"{n_folds} subject-independent folds"


@dataclass(frozen=True)
class LeaveOneSubjectOut(EvaluationProtocol):
    """One fold per subject of the ``all`` split; metrics on the pooled predictions (MEGC2019: UF1, UAR)."""

    kind: ClassVar[str] = "leave_one_subject_out"
    pooled: ClassVar[bool] = True

    def folds(self, load: SplitLoader, recipe: dict[str, Any], seed: int) -> list[FoldData]:
        full = _with_subjects(load("all"), self.kind)
        return _fold_data(full, loso_folds(full), recipe, seed)

    def describe(self, n_folds: int) -> str:
        return f"LOSO, {n_folds} subjects"


@dataclass(frozen=True)
class RandomHoldout(EvaluationProtocol):
    """A label-stratified random ``test_fraction`` of the ``all`` split as test (not subject-independent: the
    dataset names no subjects), the validation part carved from the rest."""

    test_fraction: float = 0.1
    kind: ClassVar[str] = "random_holdout"

    def folds(self, load: SplitLoader, recipe: dict[str, Any], seed: int) -> list[FoldData]:
        full = load("all")
        train, test = validation_split(full, None, self.test_fraction, seed)
        test = test[stratified_subset(full.subset(test), recipe["eval_limit"], seed)]
        train = train[stratified_subset(full.subset(train), recipe["train_limit"], seed)]
        return [_with_validation("holdout", full, train, full.subset(test, "test"), recipe, seed)]

    def describe(self, n_folds: int) -> str:
        return f"random {self.test_fraction:.0%} hold-out"


def _with_subjects(full: FaceDataset, kind: str) -> FaceDataset:
    if full.subjects is None:
        raise ValueError(f"{full.name} names no subjects, which the {kind} protocol needs; declare another protocol for it")
    return full


def _fold_data(full: FaceDataset, folds: list[Fold], recipe: dict[str, Any], seed: int) -> list[FoldData]:
    return [_with_validation(f.name, full, f.train, full.subset(f.test, "test"), recipe, seed) for f in folds[: recipe["max_folds"]]]


def _with_validation(name: str, source: FaceDataset, train: np.ndarray, test: FaceDataset, recipe: dict[str, Any], seed: int) -> FoldData:
    """The fold with a validation part of ``recipe["val_fraction"]`` carved from the ``train`` rows of ``source``
    (whole subjects where it names them), or without one when the fraction is ``None``."""
    if recipe["val_fraction"] is None:
        return FoldData(name, source.subset(train, "train"), None, test)
    train_idx, val_idx = validation_split(source, train, recipe["val_fraction"], seed)
    return FoldData(name, source.subset(train_idx, "train"), source.subset(val_idx, "val"), test)
