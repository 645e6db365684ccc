"""The training loss: cross-entropy with label smoothing and, for macro metrics on imbalanced classes, class weights.

``class_weights="balanced"`` weights each class's loss by ``n / (k · n_class)`` over the training labels (scikit-learn's
``compute_class_weight``), so every class contributes equally to the gradient. Macro-averaged metrics (MEGC2019's UF1
and UAR, paper §4.2) score every class equally however rare: the micro-expression composite holds about three
negative clips for each surprise clip, and an unweighted loss spends its errors on the rare classes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch import nn

ClassWeights = Literal["balanced"]


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``n / (k · n_class)`` for each of ``num_classes`` classes; a class without a training label is an error."""
    missing = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
    if missing:
        raise ValueError(
            f"class_weights='balanced' needs every class in the training labels; class ids {missing} of {num_classes} "
            "have none (a fold too small for its classes): use class_weights=None or a split that keeps every class"
        )
    return compute_class_weight("balanced", classes=np.arange(num_classes), y=labels)


def build_criterion(
    class_weights: ClassWeights | None, label_smoothing: float, labels: np.ndarray, num_classes: int, device: torch.device
) -> nn.CrossEntropyLoss:
    """The training criterion: plain mean cross-entropy, or class-weighted by the training ``labels``."""
    weight = None
    if class_weights == "balanced":
        weight = torch.as_tensor(balanced_class_weights(labels, num_classes), dtype=torch.float32, device=device)
    return nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
