"""Dataset overview figures: class balance per split, a grid of real samples per class, samples per subject."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from ..data.base import FaceDataset


def plot_class_balance(entries: list[dict[str, Any]]) -> Figure:
    """One bar chart per found dataset: samples per class, one bar colour per split (from :func:`summarize_all`)."""
    found = [e for e in entries if e["found"] and "splits" in e]
    fig, axes = plt.subplots(1, len(found), figsize=(4.5 * len(found), 3.6), squeeze=False)
    for ax, entry in zip(axes[0], found):
        rows = [{"split": s, "class": c, "n": n} for s, counts in entry["splits"].items() for c, n in counts["classes"].items()]
        sns.barplot(pd.DataFrame(rows), x="class", y="n", hue="split", ax=ax)
        ax.set_title(entry["title"])
        ax.tick_params(axis="x", rotation=45)
        ax.set_xlabel("")
    fig.tight_layout()
    return fig


def _display_image(image: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 -> what imshow draws; clips (T, H, W, C) show their last frame (the apex when T=2)."""
    image = image[-1] if image.ndim == 4 else image
    return image[..., 0] if image.shape[-1] == 1 else image


def plot_sample_grid(dataset: FaceDataset, per_class: int = 8, seed: int = 0, title: str | None = None) -> Figure:
    """A grid of real samples: one row per class, ``per_class`` randomly drawn samples (fewer if a class is small)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(dataset.num_classes, per_class, figsize=(per_class * 1.1, dataset.num_classes * 1.2), squeeze=False)
    for label, row in enumerate(axes):
        members = np.flatnonzero(dataset.labels == label)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False) if len(members) else []
        for ax in row:
            ax.axis("off")
        for ax, index in zip(row, chosen):
            ax.imshow(_display_image(dataset.images[index]), cmap="gray", vmin=0, vmax=255)
        row[0].set_title(dataset.class_names[label], fontsize=8, loc="left")
    fig.suptitle(title or f"{dataset.name} ({dataset.split})")
    fig.tight_layout()
    return fig


def plot_subject_counts(dataset: FaceDataset, group: str | None = None) -> Figure:
    """Histogram of samples per subject; ``group`` names a meta column (e.g. ``database``) to colour by."""
    if dataset.subjects is None:
        raise ValueError(f"{dataset.name} has no subject ids")
    frame = pd.DataFrame({"subject": dataset.subjects})
    if group:
        frame[group] = dataset.meta[group]
    per_subject = frame.groupby(["subject", *([group] if group else [])]).size().rename("samples").reset_index()
    fig, ax = plt.subplots(figsize=(6, 3))
    sns.histplot(per_subject, x="samples", hue=group, multiple="stack", discrete=True, ax=ax)
    ax.set_title(f"{dataset.name}: {len(per_subject)} subjects, samples per subject")
    fig.tight_layout()
    return fig
