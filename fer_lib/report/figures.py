"""The report's own figure: how much higher each run reads when its epoch is chosen on the test split."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def plot_protocol_gaps(runs: list[str], gaps: dict[str, list[float]]) -> Figure:
    """Horizontal bars, one group per run: test-selected minus honest, in percentage points, per metric in ``gaps``
    (metric name -> one gap per run, in the order of ``runs``)."""
    figure = Figure(figsize=(7.5, 0.45 * len(runs) + 1.4))
    axes = figure.add_subplot()
    positions = np.arange(len(runs))
    height = 0.8 / max(len(gaps), 1)
    for i, (metric, values) in enumerate(gaps.items()):
        axes.barh(positions + (i - (len(gaps) - 1) / 2) * height, values, height=height, label=metric)
    axes.set_yticks(positions, runs, fontsize=8)
    axes.invert_yaxis()
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("test-selected − honest (percentage points)")
    axes.set_title("What choosing the epoch on the test split adds, per run")
    axes.legend(loc="best", fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure
