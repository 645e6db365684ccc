"""Splits are code: subject-independent k-fold and LOSO never put a subject on both sides (real CK+ and MEGC data)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lib.data import FaceDataset, create_dataset, loso_folds, subject_kfold, validation_split


def assert_partition(dataset: FaceDataset, folds) -> None:
    tested = np.concatenate([f.test for f in folds])
    assert sorted(tested) == list(range(len(dataset)))  # every sample is tested exactly once
    for fold in folds:
        assert not set(dataset.subjects[fold.train]) & set(dataset.subjects[fold.test]), f"subject leak in fold {fold.name}"
        assert len(np.intersect1d(fold.train, fold.test)) == 0


@pytest.mark.parametrize("k", [5, 10])
def test_ckplus_subject_kfold_has_no_leak(fer_data, k):
    dataset = create_dataset("ckplus", fer_data)
    folds = subject_kfold(dataset, k=k, seed=0)
    assert len(folds) == k
    assert_partition(dataset, folds)
    # stratification keeps every class in every test fold's neighbourhood of its share
    shares = np.array([np.bincount(dataset.labels[f.test], minlength=7) / len(f.test) for f in folds])
    assert np.abs(shares - np.bincount(dataset.labels) / len(dataset)).max() < 0.15


def test_megc_loso_has_one_fold_per_subject_and_no_leak(fer_data):
    dataset = create_dataset("megc2019", fer_data)
    folds = loso_folds(dataset)
    assert len(folds) == 68
    assert_partition(dataset, folds)
    assert all(set(dataset.subjects[f.test]) == {f.name} for f in folds)


def test_validation_split_holds_whole_subjects(fer_data):
    dataset = create_dataset("ckplus", fer_data)
    fold = subject_kfold(dataset, k=10)[0]
    train, val = validation_split(dataset, fold.train, fraction=0.1, seed=1)
    assert np.isin(train, fold.train).all() and np.isin(val, fold.train).all()
    assert not set(dataset.subjects[train]) & set(dataset.subjects[val])
    assert 0.04 < len(val) / len(fold.train) < 0.2
    assert len(np.unique(np.concatenate([train, val]))) == len(fold.train)


def test_validation_split_without_subjects_is_stratified(fer_data):
    dataset = create_dataset("fer2013", fer_data, "val")
    train, val = validation_split(dataset, fraction=0.2, seed=0)
    assert len(val) == round(0.2 * len(dataset))
    shares = np.bincount(dataset.labels[val], minlength=7) / len(val)
    assert np.abs(shares - np.bincount(dataset.labels) / len(dataset)).max() < 0.01


def test_subject_splits_need_subjects(fer_data):
    with pytest.raises(ValueError, match="no subject ids"):
        subject_kfold(create_dataset("fer2013", fer_data, "val"))


def test_kfold_is_reproducible(fer_data):
    dataset = create_dataset("ckplus", fer_data)
    a, b = subject_kfold(dataset, seed=3), subject_kfold(dataset, seed=3)
    assert all((x.test == y.test).all() for x, y in zip(a, b))
