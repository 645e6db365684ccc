"""Face figures: detections drawn on frames with their aligned crops, and rows of images (clips, augmentations)."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..preprocess import AlignedFace


def _as_display(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """uint8/float ``(H, W, C)`` or ``(C, H, W)`` tensor -> array for imshow (grey squeezed)."""
    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu().movedim(0, -1).numpy()
    return image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image


def plot_face_detections(frames: Sequence[np.ndarray], faces: Sequence[AlignedFace | None], titles: Sequence[str]) -> Figure:
    """Top row: frames with the detected box (and eye centres); bottom row: the aligned crops ("no face" when ``None``)."""
    fig, axes = plt.subplots(2, len(frames), figsize=(2.2 * len(frames), 3.6), squeeze=False)
    for (top, bottom), frame, face, title in zip(axes.T, frames, faces, titles):
        top.imshow(_as_display(frame), cmap="gray")
        top.set_title(title, fontsize=7)
        if face is not None:
            top.add_patch(Rectangle((face.box.x, face.box.y), face.box.w, face.box.h, fill=False, color="lime", lw=1.2))
            if face.eyes is not None:
                top.plot(*zip(*face.eyes), "r.", ms=4)
            bottom.imshow(_as_display(face.image), cmap="gray", vmin=0, vmax=255)
            bottom.set_title(f"{face.angle_deg:+.1f}°", fontsize=7)
        else:
            bottom.text(0.5, 0.5, "no face", ha="center", va="center", transform=bottom.transAxes)
        top.axis("off")
        bottom.axis("off")
    fig.tight_layout()
    return fig


def plot_image_rows(rows: dict[str, Sequence[np.ndarray | torch.Tensor]], cmap: str = "gray", scale: float = 1.3) -> Figure:
    """One titled row (a sub-figure) per entry of ``rows``; each image is shown with its own intensity range."""
    width = max(len(images) for images in rows.values())
    fig = plt.figure(figsize=(scale * width, (scale + 0.35) * len(rows)), layout="constrained")
    for subfig, (title, images) in zip(np.atleast_1d(fig.subfigures(len(rows), 1)), rows.items()):
        subfig.suptitle(title, fontsize=8, x=0.01, ha="left")
        for ax, image in zip(np.atleast_1d(subfig.subplots(1, width)), [*images, *[None] * (width - len(images))]):
            ax.axis("off")
            if image is not None:
                ax.imshow(_as_display(image), cmap=cmap)
    return fig
