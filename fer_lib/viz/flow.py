"""Flow-map figures: the (u, v, strain) maps of micro-expression clips, optionally beside reference maps (e.g. the composite's)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

CHANNELS = ("u", "v", "strain")


def plot_flow_maps(
    maps: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str],
    reference: Sequence[np.ndarray] | np.ndarray | None = None,
    labels: tuple[str, str] = ("ours", "shipped"),
    scale: float = 1.3,
) -> Figure:
    """One row per sample: its u, v and strain maps (uint8 ``(H, W, 3)``, channels in that order), grey 0–255.

    With ``reference`` (maps of the same samples, same channel order), each row shows ours then the reference,
    channel by channel, the columns titled with ``labels``.
    """
    if len(maps) != len(titles) or (reference is not None and len(reference) != len(maps)):
        references = "no" if reference is None else len(reference)
        raise ValueError(f"need one title (and reference map) per sample: {len(maps)} maps, {len(titles)} titles, {references} references")
    for image in [*maps, *([] if reference is None else reference)]:
        if np.ndim(image) != 3 or np.shape(image)[2] != len(CHANNELS):
            raise ValueError(f"flow maps must be (H, W, 3) arrays of (u, v, strain), got shape {np.shape(image)}")
    sources = [maps] if reference is None else [maps, reference]
    columns = [(channel, k, source) for k, channel in enumerate(CHANNELS) for source in range(len(sources))]
    fig, axes = plt.subplots(len(maps), len(columns), figsize=(scale * len(columns), (scale + 0.2) * len(maps)), squeeze=False)
    for row, title in enumerate(titles):
        for col, (channel, k, source) in enumerate(columns):
            ax = axes[row, col]
            ax.imshow(np.asarray(sources[source][row])[..., k], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(channel if reference is None else f"{channel} ({labels[source]})", fontsize=8)
        axes[row, 0].set_ylabel(title, fontsize=7)
    fig.tight_layout()
    return fig
