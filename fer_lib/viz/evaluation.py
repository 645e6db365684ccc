"""Figures of a trained model's results: confusion matrix, training curves, the LOSO learning curve."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def plot_confusion_matrix(matrix: Sequence[Sequence[int]] | np.ndarray, class_names: Sequence[str], title: str = "") -> Figure:
    """Row-normalised confusion matrix (each row: how one true class was predicted), counts in brackets."""
    counts = np.asarray(matrix)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    labels = np.array([[f"{r:.2f}\n({c})" for r, c in zip(rr, cc)] for rr, cc in zip(rates, counts)])
    fig, ax = plt.subplots(figsize=(1.0 * len(class_names) + 2, 0.9 * len(class_names) + 1.2))
    sns.heatmap(rates, annot=labels, fmt="", cmap="Blues", vmin=0, vmax=1, xticklabels=class_names, yticklabels=class_names, ax=ax, annot_kws={"size": 7})
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    return fig


def plot_history(history: pd.DataFrame, marks: dict[str, int] | None = None, title: str = "") -> Figure:
    """Loss and accuracy per epoch (train / val / test columns that exist); ``marks`` draws the selected epochs."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.4))
    for column in ("train_loss", "val_loss", "test_loss"):
        if column in history and history[column].notna().any():
            loss_ax.plot(history["epoch"], history[column], marker=".", label=column.removesuffix("_loss"))
    for column in ("train_acc", "val_acc", "test_acc"):
        if column in history and history[column].notna().any():
            acc_ax.plot(history["epoch"], history[column], marker=".", label=column.removesuffix("_acc"))
    for name, epoch in (marks or {}).items():
        acc_ax.axvline(epoch, ls="--", lw=1, color="gray")
        acc_ax.annotate(name, (epoch, acc_ax.get_ylim()[0]), rotation=90, fontsize=7, va="bottom", ha="right")
    return _finish_curves(fig, loss_ax, acc_ax, title)


def plot_loso_curve(histories: Sequence[pd.DataFrame], test_sizes: Sequence[int], records: Sequence[dict], title: str = "") -> Figure:
    """Leave-one-subject-out: pooled test accuracy had every fold stopped at epoch e (exact: Σ fold accuracy × fold size
    / N), mean training loss, and each protocol's pooled accuracy as a horizontal line (test_selected: per-subject best)."""
    correct = sum(h["test_acc"].to_numpy() * n for h, n in zip(histories, test_sizes))
    epochs = histories[0]["epoch"].to_numpy()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.4))
    loss_ax.plot(epochs, np.mean([h["train_loss"].to_numpy() for h in histories], axis=0), label="train (mean over folds)")
    acc_ax.plot(epochs, correct / sum(test_sizes), label="pooled test, same epoch for all folds")
    for record, style in zip(records, ("--", ":")):
        acc_ax.axhline(record["accuracy"], ls=style, color="gray", label=f"{record['protocol']}: {record['accuracy']:.3f}")
    return _finish_curves(fig, loss_ax, acc_ax, title)


def _finish_curves(fig: Figure, loss_ax: plt.Axes, acc_ax: plt.Axes, title: str) -> Figure:
    """Label the loss and accuracy panels of a curve figure, add their legends and the title."""
    loss_ax.set(xlabel="epoch", ylabel="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
