"""Video figures: each class's probability over time, one panel per tracked face, from the pipeline's per-frame table."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def plot_timeline(table: pd.DataFrame, class_names: Sequence[str], max_faces: int = 6, title: str | None = None) -> Figure:
    """Smoothed probability of every class against time (solid), the per-frame probability behind it (faint).

    ``table`` is the per-frame CSV of :func:`fer_lib.video.analyze_video` (columns ``frame, time_s, face_id,
    p_<class>, p_smoothed_<class>``). One panel per face id, the ``max_faces`` faces seen in most frames; a line
    breaks where its face is not in the frame. Colours follow matplotlib's tab10 cycle, as the annotated video's bars do.
    """
    times = table.drop_duplicates("frame").set_index("frame")["time_s"]
    faces = table.dropna(subset=["face_id"])
    shown = faces["face_id"].value_counts(sort=False).sort_index().sort_values(ascending=False, kind="stable").index[:max_faces]
    shown = sorted(int(face_id) for face_id in shown)
    fig, axes = plt.subplots(max(len(shown), 1), 1, sharex=True, figsize=(10, 0.6 + 2.0 * max(len(shown), 1)), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, face_id in zip(axes[:, 0], shown):
        rows = faces[faces["face_id"] == face_id].set_index("frame")
        for k, name in enumerate(class_names):
            # Reindexed on every frame: NaN where the face is absent breaks the line instead of bridging the gap.
            ax.plot(times.to_numpy(), rows[f"p_{name}"].reindex(times.index).to_numpy(), color=colors[k % 10], lw=0.6, alpha=0.3)
            ax.plot(times.to_numpy(), rows[f"p_smoothed_{name}"].reindex(times.index).to_numpy(), color=colors[k % 10], lw=1.6, label=name)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"face #{face_id}\nprobability", fontsize=8)
        ax.grid(alpha=0.3)
    if not shown:
        axes[0, 0].text(0.5, 0.5, f"no face found in {len(times)} frames", ha="center", va="center", transform=axes[0, 0].transAxes)
        axes[0, 0].set_xlim(float(np.nanmin(times, initial=0.0)), float(np.nanmax(times, initial=1.0)))
    else:
        axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    hidden = faces["face_id"].nunique() - len(shown)
    axes[-1, 0].set_xlabel("time (s)" + (f"; {hidden} more face ids not shown" if hidden > 0 else ""))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
