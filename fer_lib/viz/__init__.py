"""Figures: dataset overviews, face preprocessing, and trained models (confusion matrices, curves, CAMs, attention maps)."""

from .datasets import plot_class_balance, plot_sample_grid, plot_subject_counts
from .faces import plot_face_detections, plot_image_rows
from .training import plot_attention_maps, plot_confusion_matrix, plot_gradcam, plot_history, plot_sampling_positions

__all__ = [
    "plot_attention_maps",
    "plot_class_balance",
    "plot_confusion_matrix",
    "plot_face_detections",
    "plot_gradcam",
    "plot_history",
    "plot_image_rows",
    "plot_sample_grid",
    "plot_sampling_positions",
    "plot_subject_counts",
]
