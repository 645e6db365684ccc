"""The training criterion: class-balanced weights for macro metrics, and a clear error for a fold missing a class."""

import numpy as np
import pytest
import torch

from fer_lib.engine import TrainConfig
from fer_lib.engine.loss import balanced_class_weights, build_criterion


def test_balanced_weights_make_every_class_contribute_the_same_total_weight():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
    weights = balanced_class_weights(labels, 3)
    np.testing.assert_allclose(weights, [10 / 18, 10 / 9, 10 / 3])
    totals = weights * np.bincount(labels)
    np.testing.assert_allclose(totals, totals[0])


def test_balanced_weights_name_the_class_a_fold_lacks():
    with pytest.raises(ValueError, match=r"class ids \[2\] of 3"):
        balanced_class_weights(np.array([0, 1, 1]), 3)


def test_weighted_criterion_raises_the_loss_of_a_rare_class_error():
    labels = np.array([0] * 8 + [1] * 2)
    logits = torch.tensor([[0.0, 2.0], [2.0, 0.0]])  # one majority sample wrong, one minority sample wrong
    targets = torch.tensor([0, 1])
    plain = build_criterion(None, 0.0, labels, 2, torch.device("cpu"))
    balanced = build_criterion("balanced", 0.0, labels, 2, torch.device("cpu"))
    assert plain.weight is None
    per_sample = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    w = torch.tensor([10 / 16, 10 / 4])
    assert balanced(logits, targets).item() == pytest.approx((w * per_sample).sum().item() / w.sum().item())
    assert plain(logits, targets).item() == pytest.approx(per_sample.mean().item())


def test_config_refuses_an_unknown_class_weighting():
    with pytest.raises(ValueError, match="class_weights"):
        TrainConfig(class_weights="inverse")  # type: ignore[arg-type]
