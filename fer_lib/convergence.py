"""Did a run's training converge? One rule, read from its ``history.csv`` (one row per epoch and fold).

With a validation split (FER2013 PublicTest; CK+ held-out training subjects) the curve is the validation metric,
averaged over folds per epoch. Training is **not converged** when the best epoch falls in the last
:data:`LAST_FRACTION` of the schedule *and* the metric still rose by at least :data:`MIN_RISE_POINTS` percentage
points over the last :data:`WINDOW_FRACTION` of it: accuracy was still climbing when the schedule ended. The rise is
read off a least-squares line through every epoch of that window, not off its two end epochs: one evaluation per epoch
on a small validation part (CK+: about 90 faces per fold, a tenth of the training subjects) moves by about a point
from epoch to epoch, enough to flip a verdict read off two single epochs either way.

Without a validation split (leave-one-subject-out micro-expression runs train a fixed budget) the test curve is not
used, since reading it would select on the test subjects; the rule is applied to the training loss averaged over
folds instead (a plateau: the last quarter removed under :data:`LOSS_PLATEAU_FRACTION` of the total fall). That says
the optimiser had settled, not that test accuracy had peaked.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

LAST_FRACTION = 0.15  # the best epoch in the last 15 % of the schedule may still be on the rise
WINDOW_FRACTION = 0.25  # the change over the last quarter of the schedule tells whether it still was
MIN_RISE_POINTS = 0.5  # validation metric rise (percentage points) over the last quarter that counts as rising
LOSS_PLATEAU_FRACTION = 0.05  # no validation: share of the total training-loss fall still happening in the last quarter


def convergence(history: pd.DataFrame, metric: str = "val_acc") -> dict[str, Any]:
    """Whether the run behind ``history`` converged (see the module docstring for the rule).

    ``metric`` is the validation column the run selected its epoch on. Returns ``basis`` (``"validation"`` or
    ``"training loss"``), ``epochs`` (the schedule), ``best_epoch`` (best validation metric, or lowest training loss;
    the first when tied), ``best_late`` (in the last :data:`LAST_FRACTION` of the schedule), ``change`` (validation:
    rise in points over the last quarter, fitted; training loss: share of the total fall in the last quarter) and
    ``converged``. Raises ``ValueError`` naming the missing column when the history cannot be read so.
    """
    missing = [c for c in ("epoch", "train_loss", metric) if c not in history.columns]
    if missing or history.empty:
        raise ValueError(f"history lacks the columns {missing} (has {list(history.columns)})" if missing else "history has no rows")
    by_epoch = history.groupby("epoch")
    epochs = int(history["epoch"].max())
    start = max(1, math.floor(epochs * (1 - WINDOW_FRACTION)))  # the epoch before the last quarter begins
    validation = by_epoch[metric].mean()
    if validation.notna().all():
        best = int(validation.idxmax())
        change = _fitted_rise(validation.loc[start:epochs]) * 100
        settled = change < MIN_RISE_POINTS
        basis = "validation"
    else:
        loss = by_epoch["train_loss"].mean()
        best = int(loss.idxmin())
        total_fall = float(loss[loss.index.min()] - loss[epochs])
        change = float(loss[start] - loss[epochs]) / total_fall if total_fall > 0 else math.inf
        settled = change < LOSS_PLATEAU_FRACTION
        basis = "training loss"
    best_late = best > epochs * (1 - LAST_FRACTION)
    return {"basis": basis, "epochs": epochs, "best_epoch": best, "best_late": best_late, "change": change, "converged": (not best_late) or settled}


def _fitted_rise(curve: pd.Series) -> float:
    """The rise from the first to the last epoch of ``curve`` (indexed by epoch) along its least-squares line."""
    if len(curve) < 2:
        return 0.0
    slope = np.polyfit(curve.index.to_numpy(dtype=float), curve.to_numpy(dtype=float), 1)[0]
    return float(slope * (curve.index[-1] - curve.index[0]))
