"""Expression probabilities for a batch of face crops, from a model file (the model file is the source of truth).

All faces of a batch of frames go through the network in one forward pass: per-call overhead is paid once, and
oneDNN's kernels run far faster on a batch of 32 faces than on 32 single faces. Inference runs in bf16 autocast
where :func:`fer_lib.engine.precision.resolve_amp` measures it faster on this CPU (the models trained in bf16 there
too), else in float32.
"""

from __future__ import annotations

import contextlib
import os
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..engine.precision import resolve_amp
from ..model_file import ModelInfo, default_model_path, load_model, model_file_path, to_model_input
from ..preprocess.face_crop import FaceCrop
from ..runs import model_file_sha256

Precision = Literal["auto", "bf16", "none"]


class FaceClassifier:
    """``classifier(faces)`` -> class probabilities ``(N, K)`` float32 for uint8 face crops ``(N, S, S, C)``
    made with :attr:`crop` (:func:`fer_lib.preprocess.face_crop.crop_faces`)."""

    def __init__(self, model: nn.Module, info: ModelInfo, precision: Precision = "auto", file_sha256: str | None = None) -> None:
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.info = info
        self.precision = resolve_amp(precision, torch.device("cpu"))
        # The model file's digest, when loaded from one: outputs name the exact weights that made them, so a video
        # analysed before its run was re-made (same run name, new weights) can be told apart.
        self.file_sha256 = file_sha256

    @classmethod
    def from_file(cls, path: str | os.PathLike[str] | None = None, precision: Precision = "auto") -> "FaceClassifier":
        """Load a model file or run folder (``None``: :func:`fer_lib.model_file.default_model_path`)."""
        file = model_file_path(default_model_path() if path is None else path)
        model, info = load_model(file)
        return cls(model, info, precision, model_file_sha256(file))

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def crop(self) -> FaceCrop:
        """How faces must be cropped for this model (as its training faces were)."""
        return self.info.crop

    @torch.inference_mode()
    def __call__(self, faces: np.ndarray) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, len(self.class_names)), np.float32)
        batch = to_model_input(faces, self.info).contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bf16" else contextlib.nullcontext()
        with autocast:
            logits = self.model(batch)
        return torch.softmax(logits.float(), dim=1).numpy()
