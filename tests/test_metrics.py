"""Metrics on pooled predictions: hand-computed answers, agreement with scikit-learn, fold summaries and pooling."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score

from fer_lib.metrics import classification_metrics, fold_summary, pooled_metrics

CLASSES = ("neg", "pos", "sur")


def test_known_answer() -> None:
    # true: neg neg neg pos pos sur ; pred: neg neg pos pos sur sur
    m = classification_metrics([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], CLASSES)
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # per class: neg P=2/2 R=2/3 F1=0.8; pos P=1/2 R=1/2 F1=0.5; sur P=1/2 R=1 F1=2/3
    assert m["per_class"]["neg"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert m["per_class"]["pos"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["sur"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["uar"] == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)


def test_agrees_with_sklearn_when_all_classes_present() -> None:
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    m = classification_metrics(y_true, y_pred, CLASSES)
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m["uar"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert sum(map(sum, m["confusion_matrix"])) == 500


def test_class_absent_from_truth_is_listed_but_not_averaged() -> None:
    # "sur" has no true sample: it is reported with support 0 and left out of both macro averages
    m = classification_metrics([0, 0, 1, 1], [0, 2, 1, 1], CLASSES)
    assert m["per_class"]["sur"]["support"] == 0
    assert m["uar"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1.0) / 2)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="equal length"):
        classification_metrics([0, 1], [0], CLASSES)
    with pytest.raises(ValueError, match="class ids"):
        classification_metrics([0, 3], [0, 1], CLASSES)


def test_fold_summary_mean_and_sample_std() -> None:
    folds = [{"accuracy": 0.5, "macro_f1": 0.4, "uar": 0.3}, {"accuracy": 0.7, "macro_f1": 0.6, "uar": 0.5}]
    s = fold_summary(folds)
    assert s["n_folds"] == 2
    assert s["accuracy"]["mean"] == pytest.approx(0.6)
    assert s["accuracy"]["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert fold_summary(folds[:1])["uar"] == {"mean": 0.3, "std": None}


def test_pooled_over_folds_differs_from_mean_of_folds() -> None:
    # fold 1: 1 of 1 right; fold 2: 1 of 3 right -> pooled accuracy 2/4, mean of fold accuracies (1 + 1/3) / 2
    y_trues, y_preds = [np.array([0]), np.array([1, 1, 2])], [np.array([0]), np.array([1, 0, 0])]
    pooled = pooled_metrics(y_trues, y_preds, CLASSES)
    assert pooled["n"] == 4 and pooled["accuracy"] == pytest.approx(0.5)
    per_fold = [classification_metrics(t, p, CLASSES) for t, p in zip(y_trues, y_preds)]
    assert fold_summary(per_fold)["accuracy"]["mean"] == pytest.approx(2 / 3)
    assert pooled == classification_metrics(np.concatenate(y_trues), np.concatenate(y_preds), CLASSES)
