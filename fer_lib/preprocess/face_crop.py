"""How a detected face box becomes a model input: the crop recipe a model was trained on, applied to new frames.

A model trained on FER2013 has only ever seen FER2013's framing: 48×48 grey crops, upright (not eye-aligned). To
use it on a camera frame, a face detector's box must be widened to that framing before resizing, or the model sees
a tighter (or looser) face than any it was trained on. :class:`FaceCrop` records that recipe next to the weights
(:mod:`fer_lib.model_file`), and :func:`crop_faces` applies it to any number of boxes in one frame.

The recipe is the one the ``fer`` package uses for its FER2013 model (a Haar box, a small margin, grey, resized), with
the margin measured on the training crops (:func:`measure_framing`) instead of fixed in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .align import crop_face_box, eye_angle, find_eyes
from .detect import FaceBox, FaceDetector, HaarFaceDetector


@dataclass(frozen=True)
class FaceCrop:
    """How a detected face box becomes a model input, as in training.

    Attributes:
        size: output side in pixels (48 for FER2013).
        grayscale: one grey channel (FER2013) rather than three RGB channels.
        margin: the square around the box (side = the longer box side) is enlarged by this fraction of its side on
            each side before cropping, so the crop side is ``(1 + 2·margin)`` × the box side.
        align: rotate about the box centre so the eye line is horizontal (:func:`fer_lib.preprocess.align.find_eyes`)
            before cropping; upright when the eyes are not found.
    """

    size: int
    grayscale: bool
    margin: float
    align: bool

    def __post_init__(self) -> None:
        if self.size < 1 or self.margin <= -0.5:
            raise ValueError(f"FaceCrop needs size >= 1 and margin > -0.5, got size={self.size} margin={self.margin}")

    @property
    def channels(self) -> int:
        """Channels of a crop: 1 (grey) or 3 (RGB)."""
        return 1 if self.grayscale else 3

    def to_dict(self) -> dict[str, int | float | bool]:
        """Plain types, for a model file's metadata."""
        return {"size": self.size, "grayscale": self.grayscale, "margin": self.margin, "align": self.align}


@dataclass(frozen=True)
class Framing:
    """How tightly a dataset's face crops frame the face, in the terms of :attr:`FaceCrop.margin`.

    ``margin`` (median), ``margin_q25`` and ``margin_q75`` are over the ``detected`` crops (of ``images`` tried)
    in which the detector found a face: ``(crop side / detected box side − 1) / 2``; NaN when ``detected`` is 0.
    """

    images: int
    detected: int
    margin: float
    margin_q25: float
    margin_q75: float


def measure_framing(faces: np.ndarray, detector: FaceDetector | None = None, sample: int = 600, seed: int = 0, upscale: int = 4) -> Framing:
    """Measure the margin that reproduces the framing of ``faces`` (uint8 ``(N, H, W, C)`` square crops) from ``detector``'s boxes.

    Each of a random ``sample`` of crops is upscaled ``upscale``× (the Haar cascade misses faces only 48 px wide) and
    padded with black by half its side, so a detected box may be larger than the crop; the crop's side over the box's
    side gives the margin. Applying :func:`crop_faces` with that margin to the same detector's boxes on new images
    gives faces framed like the training set's. Default detector: :class:`HaarFaceDetector`.
    """
    if faces.dtype != np.uint8 or faces.ndim != 4 or faces.shape[1] != faces.shape[2] or len(faces) == 0:
        raise ValueError(f"measure_framing expects non-empty square uint8 crops (N, S, S, C), got {faces.dtype} {faces.shape}")
    detector = detector or HaarFaceDetector()
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(faces), min(sample, len(faces)), replace=False))
    side = faces.shape[1] * upscale
    pad = side // 2
    margins = []
    for face in faces[picks]:
        big = cv2.resize(face, (side, side), interpolation=cv2.INTER_LINEAR)
        big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        boxes = detector.detect(big)
        if boxes:
            margins.append((side / max(boxes[0].w, boxes[0].h) - 1) / 2)
    if not margins:
        return Framing(len(picks), 0, float("nan"), float("nan"), float("nan"))
    q25, median, q75 = np.percentile(margins, [25, 50, 75])
    return Framing(len(picks), len(margins), float(median), float(q25), float(q75))


def crop_faces(frame_bgr: np.ndarray, boxes: np.ndarray, crop: FaceCrop) -> np.ndarray:
    """Crop every face box of one frame as ``crop`` says.

    Args:
        frame_bgr: uint8 ``(H, W, 3)`` in OpenCV's BGR order (as ``cv2.imread`` / ``VideoCapture`` give it), or a grey
            ``(H, W)`` / ``(H, W, 1)`` frame.
        boxes: ``(N, 4)`` face boxes ``x, y, w, h`` in frame pixels (e.g. from a detector), any numeric type.
        crop: the recipe.

    Returns:
        uint8 ``(N, size, size, C)``, C = 1 when ``crop.grayscale`` else 3 in RGB order (the order every loader gives
        training images). A box partly outside the frame is kept and its outside part filled with black (zeros), as
        :func:`fer_lib.preprocess.align.crop_face_box` does; no box is dropped.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as x, y, w, h, got {boxes.shape}")
    bad = np.flatnonzero((boxes[:, 2] <= 0) | (boxes[:, 3] <= 0) | ~np.isfinite(boxes).all(axis=1))
    if bad.size:
        raise ValueError(f"face box {bad[0]} is {boxes[bad[0]].tolist()}: x, y, w, h must be finite with w > 0 and h > 0")
    source = _source_image(frame_bgr, crop.grayscale)
    color = "gray" if crop.grayscale else "rgb"
    faces = np.zeros((len(boxes), crop.size, crop.size, crop.channels), np.uint8)
    for i, (x, y, w, h) in enumerate(boxes):
        box = FaceBox(float(x), float(y), float(w), float(h), score=0.0)
        eyes = find_eyes(source, box) if crop.align else None
        angle = eye_angle(eyes) if eyes is not None else 0.0
        faces[i] = crop_face_box(source, box, crop.size, crop.margin, color, angle)
    return faces


def _source_image(frame_bgr: np.ndarray, grayscale: bool) -> np.ndarray:
    """The frame as the crop's colour: grey ``(H, W)`` or RGB ``(H, W, 3)``."""
    frame = frame_bgr
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3))):
        shape, dtype = getattr(frame, "shape", None), getattr(frame, "dtype", type(frame).__name__)
        raise ValueError(f"expected a uint8 frame (H, W), (H, W, 1) or (H, W, 3) in BGR order, got {dtype} {shape}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim == 2:
        return frame if grayscale else cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if grayscale else cv2.COLOR_BGR2RGB)
