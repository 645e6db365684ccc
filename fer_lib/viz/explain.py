"""Figures that explain a trained model: Grad-CAM, the model's own attention maps, deformable sampling positions."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn


def _overlay(ax: plt.Axes, face: np.ndarray, heat: np.ndarray | None, title: str) -> None:
    ax.imshow(face[..., 0] if face.shape[-1] == 1 else face, cmap="gray", vmin=0, vmax=255)
    if heat is not None:
        ax.imshow(heat, cmap="jet", alpha=0.45, vmin=0, vmax=1, extent=(-0.5, face.shape[1] - 0.5, face.shape[0] - 0.5, -0.5))
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def plot_gradcam(
    model: nn.Module, target_layer: nn.Module, inputs: torch.Tensor, faces: np.ndarray, labels: Sequence[int], class_names: Sequence[str]
) -> Figure:
    """Grad-CAM (pytorch-grad-cam) for the predicted class of each input, over the face.

    ``inputs``: normalised float ``(N, C, H, W)`` on the model's device; ``faces``: the same images as uint8 ``(N, H, W, C)``.
    """
    model.eval()
    with torch.no_grad():
        preds = model(inputs).argmax(1).tolist()
    with GradCAM(model=model, target_layers=[target_layer]) as cam:
        heat = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(p) for p in preds])
    fig, axes = plt.subplots(1, len(faces), figsize=(1.5 * len(faces), 1.9), squeeze=False)
    for ax, face, h, y, p in zip(axes[0], faces, heat, labels, preds):
        _overlay(ax, face, h, f"true {class_names[y]}\npred {class_names[p]}")
    fig.tight_layout()
    return fig


def plot_attention_maps(maps: dict[str, torch.Tensor], faces: np.ndarray, max_rows: int = 6) -> Figure:
    """Spatial attention maps ``(N, 1, h, w)`` (from :func:`~fer_lib.layers.capture_attention_maps`) upsampled over each face.

    One row per map (the last ``max_rows`` spatial ones: the deepest layers), one column per face; each map is scaled to [0, 1] per image.
    """
    spatial = [(name, m) for name, m in maps.items() if m.ndim == 4 and m.shape[1] == 1 and m.shape[-1] > 1][-max_rows:]
    if not spatial:
        raise ValueError("no spatial attention maps (N, 1, h, w) among the captured maps")
    size = faces.shape[1:3]
    fig, axes = plt.subplots(len(spatial), len(faces), figsize=(1.4 * len(faces), 1.5 * len(spatial)), squeeze=False)
    for row, (name, m) in zip(axes, spatial):
        up = F.interpolate(m.float(), size=size, mode="bilinear", align_corners=False)[:, 0]
        low, high = up.amin((1, 2), keepdim=True), up.amax((1, 2), keepdim=True)
        up = ((up - low) / (high - low).clamp_min(1e-6)).numpy()
        for ax, face, heat in zip(row, faces, up):
            _overlay(ax, face, heat, "")
        row[0].set_title(name, fontsize=6, loc="left")
    fig.tight_layout()
    return fig


def plot_sampling_positions(positions: torch.Tensor, faces: np.ndarray, centres: Sequence[tuple[float, float]] = ((0.35, 0.4), (0.65, 0.4), (0.5, 0.75)), title: str = "") -> Figure:
    """Deformable-conv sampling points over each face: for each output location near a relative (x, y) in ``centres``
    (default: both eyes and the mouth), its k·k points (one colour per location; "+" marks their mean).

    ``positions``: ``(N, G·k·k, H_out, W_out, 2)`` image-pixel (x, y) coordinates, e.g. one entry of
    :func:`~fer_lib.layers.capture_sampling_positions`.
    """
    _, _, h_out, w_out, _ = positions.shape
    fig, axes = plt.subplots(1, len(faces), figsize=(1.9 * len(faces), 2.1), squeeze=False)
    for ax, face, points in zip(axes[0], faces, positions):
        _overlay(ax, face, None, "")
        for (cx, cy), colour in zip(centres, ("cyan", "yellow", "magenta", "lime")):
            i, j = min(int(cy * h_out), h_out - 1), min(int(cx * w_out), w_out - 1)
            xy = points[:, i, j].numpy()
            ax.scatter(xy[:, 0], xy[:, 1], s=9, c=colour, edgecolors="black", linewidths=0.3)
            ax.scatter(*xy.mean(0), s=30, marker="+", c=colour)
        ax.set(xlim=(-0.5, face.shape[1] - 0.5), ylim=(face.shape[0] - 0.5, -0.5))  # points beyond the border read zero padding
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig
