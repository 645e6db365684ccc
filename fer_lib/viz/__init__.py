"""Figures: dataset overviews and face preprocessing (more come with the models: confusion matrices, CAMs, attention maps)."""

from .datasets import plot_class_balance, plot_sample_grid, plot_subject_counts
from .faces import plot_face_detections, plot_image_rows

__all__ = ["plot_class_balance", "plot_face_detections", "plot_image_rows", "plot_sample_grid", "plot_subject_counts"]
