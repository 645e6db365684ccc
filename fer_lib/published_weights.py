"""An external correctness check: the published per-subject STSTNet weights, evaluated leave-one-subject-out on our
loader's inputs, must reproduce the published MEGC2019 result (UF1 0.7209, UAR 0.7250 for the PyTorch weights).

Nothing of ours is trained here, so a mismatch can only come from the flow loader (file order, plane order, value
range), the label mapping, the fold construction or the metrics — exactly the parts every micro-expression number of
the study rests on. The weights (``<megc2019>/ststnet_weights/<subject>.pth``, one plain state dict per left-out
subject, from github.com/christy1206/STSTNet) are loaded with ``weights_only=True``: a file from elsewhere cannot run code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .claims import load_claims
from .data import DatasetNotFoundError, create_dataset, locate_dataset, loso_folds
from .metrics import classification_metrics
from .models import create_model

WEIGHTS_DIR = "ststnet_weights"
# The authors' log (STSTNet_python_logfile.txt, "Final Evaluation"), from claims.yaml: what the check must reproduce.
PUBLISHED: dict[str, float] = load_claims()["ststnet_weights"].metrics


@dataclass
class PublishedCheck:
    """Pooled metrics of the published weights (``uf1``, ``uar``, ``accuracy``, ...) and one row per test sample."""

    metrics: dict
    predictions: pd.DataFrame

    def table(self) -> pd.DataFrame:
        """Published figure beside ours, per metric."""
        ours = {metric: self.metrics[metric] for metric in PUBLISHED}
        return pd.DataFrame({"published": PUBLISHED, "ours (published weights, our loader)": ours}).rename_axis("metric")


@torch.no_grad()
def check_ststnet_weights(root: str | os.PathLike[str] | None = None) -> PublishedCheck:
    """Evaluate every ``<subject>.pth`` on its left-out subject (inputs as ``cv2.imread`` gives them: B, G, R planes,
    0–255, no normalisation) and pool the predictions of the 68 folds, as MEGC2019 prescribes."""
    folder = locate_dataset("megc2019", root)
    dataset = create_dataset("megc2019", root, "all", modality="flow")
    rows = []
    for fold in loso_folds(dataset):
        path = folder / WEIGHTS_DIR / f"{fold.name}.pth"
        if not path.exists():
            raise DatasetNotFoundError(f"{path} is missing: the published STSTNet weights for subject {fold.name} (github.com/christy1206/STSTNet)")
        net = create_model("ststnet", num_classes=dataset.num_classes).eval()
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        x = torch.from_numpy(dataset.images[fold.test][..., ::-1].copy()).movedim(-1, 1).float()  # (strain, v, u): cv2.imread's B, G, R
        rows.append(pd.DataFrame({"sample_id": dataset.sample_ids[fold.test], "subject": fold.name, "label": dataset.labels[fold.test], "pred": net(x).argmax(1).numpy()}))
    predictions = pd.concat(rows, ignore_index=True)
    metrics = classification_metrics(predictions["label"].to_numpy(np.int64), predictions["pred"].to_numpy(np.int64), dataset.class_names)
    return PublishedCheck(metrics, predictions)

