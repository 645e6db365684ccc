"""Classification metrics on pooled predictions (scikit-learn), per-fold summaries and pooling over folds.

Every metric is computed once on all predictions of a split (or of all folds, for CV/LOSO), never averaged over
batches: a batch mean of accuracies is wrong whenever batches differ in size, and a batch mean of F1 is wrong always.

* ``accuracy`` — fraction correct.
* ``macro_f1`` — unweighted mean of the per-class F1 (the micro-expression "UF1" of MEGC2019).
* ``uar`` — unweighted average recall = balanced accuracy (MEGC2019's "UAR").

Both macro averages run over the classes present in ``y_true``: a class with no test sample has no recall to
average (scikit-learn's ``balanced_accuracy_score`` does the same). When every class is present — the normal case,
and always for folds pooled as MEGC2019 prescribes — ``macro_f1`` equals ``f1_score(average="macro")``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

SUMMARY_KEYS = ("accuracy", "macro_f1", "uar")


def classification_metrics(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Metrics of integer predictions ``y_pred`` against ``y_true`` (both ``(n,)``, ids into ``class_names``).

    Returns ``{n, accuracy, macro_f1, uar, per_class: {name: {precision, recall, f1, support}}, confusion_matrix}``;
    ``confusion_matrix[i][j]`` counts samples of true class i predicted as j. JSON types only.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"y_true and y_pred must be non-empty 1-D arrays of equal length, got {y_true.shape} and {y_pred.shape}")
    labels = np.arange(len(class_names))
    if y_true.min() < 0 or max(y_true.max(), y_pred.max()) >= len(labels) or y_pred.min() < 0:
        raise ValueError(f"class ids must lie in [0, {len(labels)}) for classes {list(class_names)}")
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    present = support > 0
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1[present].mean()),
        "uar": float(recall[present].mean()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def fold_summary(fold_metrics: Sequence[dict[str, Any]], keys: Sequence[str] = SUMMARY_KEYS) -> dict[str, Any]:
    """Mean and sample standard deviation (ddof=1) over folds of each metric in ``keys``: ``{key: {mean, std}, n_folds}``.

    The std is the spread between folds (how much the number depends on which subjects are tested), not a standard
    error; with a single fold it is ``None``.
    """
    if not fold_metrics:
        raise ValueError("fold_summary needs at least one fold")
    summary: dict[str, Any] = {"n_folds": len(fold_metrics)}
    for key in keys:
        values = np.array([m[key] for m in fold_metrics], dtype=np.float64)
        summary[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else None}
    return summary


def pooled_metrics(
    y_trues: Sequence[Sequence[int] | np.ndarray], y_preds: Sequence[Sequence[int] | np.ndarray], class_names: Sequence[str]
) -> dict[str, Any]:
    """:func:`classification_metrics` of the predictions of all folds pooled together (the MEGC2019 LOSO protocol)."""
    if len(y_trues) != len(y_preds) or not y_trues:
        raise ValueError(f"need one y_pred per y_true and at least one fold, got {len(y_trues)} and {len(y_preds)}")
    return classification_metrics(np.concatenate([np.asarray(y) for y in y_trues]), np.concatenate([np.asarray(y) for y in y_preds]), class_names)
