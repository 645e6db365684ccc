"""Evaluation protocols declared by datasets: each builds disjoint train / validation / test folds from a split loader."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lib.data import FaceDataset, get_dataset_spec, list_datasets
from fer_lib.data.protocols import EvaluationProtocol, LeaveOneSubjectOut, OfficialSplit, RandomHoldout, SubjectKFold

RECIPE = {"train_limit": None, "eval_limit": None, "k_folds": 4, "max_folds": None, "val_fraction": 0.2}


def faces(n: int, split: str, subjects: bool = True, classes: int = 3) -> FaceDataset:
    rng = np.random.default_rng(len(split))
    return FaceDataset(
        name="toy",
        split=split,
        images=rng.integers(0, 255, (n, 4, 4, 1), dtype=np.uint8),
        labels=np.arange(n) % classes,
        class_names=tuple(f"c{i}" for i in range(classes)),
        sample_ids=np.array([f"{split}/{i}" for i in range(n)]),
        subjects=np.array([f"s{i % 8}" for i in range(n)]) if subjects else None,
    )


def loader(subjects: bool = True, splits: dict[str, int] | None = None):
    sizes = splits or {"all": 96}
    return lambda split: faces(sizes[split], split, subjects)


def ids(dataset: FaceDataset | None) -> set[str]:
    return set() if dataset is None else set(dataset.sample_ids)


def test_official_split_uses_the_official_test_and_carves_validation_from_train() -> None:
    folds = OfficialSplit(test_label="official test").folds(loader(False, {"train": 100, "test": 30}), RECIPE, seed=0)
    (fold,) = folds
    assert ids(fold.test) == {f"test/{i}" for i in range(30)}
    assert len(fold.val) == 20 and not ids(fold.val) & ids(fold.train) and len(fold.train) + len(fold.val) == 100
    with_val = OfficialSplit(val="val").folds(loader(False, {"train": 50, "val": 10, "test": 10}), RECIPE, seed=0)[0]
    assert ids(with_val.val) == {f"val/{i}" for i in range(10)} and len(with_val.train) == 50


@pytest.mark.parametrize("protocol, n_folds", [(SubjectKFold(), 4), (LeaveOneSubjectOut(), 8)])
def test_subject_protocols_keep_subjects_apart(protocol: EvaluationProtocol, n_folds: int) -> None:
    recipe = RECIPE | {"val_fraction": None} if protocol.pooled else RECIPE
    folds = protocol.folds(loader(), recipe, seed=0)
    assert len(folds) == n_folds
    for fold in folds:
        held_out = set(fold.test.subjects) | (set(fold.val.subjects) if fold.val is not None else set())
        assert not set(fold.train.subjects) & held_out
    assert set().union(*(ids(f.test) for f in folds)) == {f"all/{i}" for i in range(96)}  # every sample tested once
    assert protocol.describe(len(folds))


def test_random_holdout_is_stratified_and_disjoint() -> None:
    (fold,) = RandomHoldout(test_fraction=0.25).folds(loader(False), RECIPE, seed=0)
    assert len(fold.test) == 24 and np.bincount(fold.test.labels).tolist() == [8, 8, 8]
    assert not ids(fold.test) & (ids(fold.train) | ids(fold.val))


def test_a_subject_protocol_without_subjects_says_what_to_declare() -> None:
    with pytest.raises(ValueError, match="names no subjects.*declare another protocol"):
        SubjectKFold().folds(loader(False), RECIPE, seed=0)


def test_max_folds_limits_the_folds() -> None:
    assert len(LeaveOneSubjectOut().folds(loader(), RECIPE | {"max_folds": 3, "val_fraction": None}, seed=0)) == 3


def test_every_registered_dataset_declares_a_protocol() -> None:
    for name in list_datasets():
        protocol = get_dataset_spec(name).protocol
        assert isinstance(protocol, EvaluationProtocol)
        if isinstance(protocol, OfficialSplit):  # the splits it names are the dataset's own
            spec = get_dataset_spec(name)
            assert {protocol.train, protocol.test} | ({protocol.val} - {None}) <= set(spec.splits)
