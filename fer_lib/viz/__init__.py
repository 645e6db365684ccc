"""Figures: datasets, face preprocessing, trained models (confusion matrices, curves, CAMs, attention maps), video timelines."""

from .datasets import plot_class_balance, plot_sample_grid, plot_subject_counts
from .faces import plot_face_detections, plot_image_rows
from .flow import plot_flow_maps
from .evaluation import plot_confusion_matrix, plot_history, plot_loso_curve
from .explain import plot_attention_maps, plot_gradcam, plot_sampling_positions
from .video import plot_timeline

__all__ = [
    "plot_attention_maps",
    "plot_class_balance",
    "plot_confusion_matrix",
    "plot_face_detections",
    "plot_flow_maps",
    "plot_gradcam",
    "plot_history",
    "plot_image_rows",
    "plot_loso_curve",
    "plot_sample_grid",
    "plot_sampling_positions",
    "plot_subject_counts",
    "plot_timeline",
]
