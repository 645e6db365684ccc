"""The external correctness check of the micro-expression pipeline: the published per-subject STSTNet weights,
evaluated leave-one-subject-out on our loader's inputs, reproduce the published UF1 0.7209 / UAR 0.7250 (± 0.0005).

A wrong plane order, value range, label mapping, subject grouping or pooled metric each breaks it (two are shown).
The weights expect cv2.imread's B, G, R planes, i.e. (strain, v, u); our loader gives (u, v, strain).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_lib.data import create_dataset, loso_folds
from fer_lib.models import create_model
from fer_lib.published_weights import PUBLISHED, check_ststnet_weights


@pytest.fixture(scope="module")
def check(fer_data):
    return check_ststnet_weights(fer_data)


def test_published_weights_reproduce_the_published_uf1_and_uar(check):
    assert check.metrics["macro_f1"] == pytest.approx(PUBLISHED["macro_f1"], abs=5e-4)
    assert check.metrics["uar"] == pytest.approx(PUBLISHED["uar"], abs=5e-4)
    assert check.metrics["n"] == 442 and check.predictions["subject"].nunique() == 68


def test_the_check_can_fail(fer_data, check):
    """Feeding the planes in the loader's (u, v, strain) order instead of cv2.imread's, or averaging per-subject
    accuracies instead of pooling predictions, gives other numbers."""
    dataset = create_dataset("megc2019", fer_data, "all")
    swapped = []
    for fold in loso_folds(dataset)[:20]:
        net = create_model("ststnet", num_classes=3).eval()
        net.load_state_dict(torch.load(fer_data / "megc2019" / "ststnet_weights" / f"{fold.name}.pth", weights_only=True, map_location="cpu"))
        x = torch.from_numpy(dataset.images[fold.test]).movedim(-1, 1).float()
        with torch.no_grad():
            swapped.append(net(x).argmax(1).numpy())
    first = check.predictions["subject"].isin([f.name for f in loso_folds(dataset)[:20]])
    assert not np.array_equal(np.concatenate(swapped), check.predictions.loc[first, "pred"].to_numpy())
    per_subject = check.predictions.groupby("subject").apply(lambda g: (g["label"] == g["pred"]).mean(), include_groups=False)
    assert abs(per_subject.mean() - check.metrics["accuracy"]) > 5e-3
