"""Face and eye detection behind one small interface: ``detector.detect(image) -> list[FaceBox]``, largest first.

* :class:`HaarFaceDetector` — OpenCV's bundled Viola–Jones cascade. No model file to fetch; frontal faces only.
  It runs on a copy downscaled to ``working_size`` (max side) and scales the boxes back: 25–70 ms per 640-px
  frame at 512 px on the 2-core study CPU (CASME II frames, the Pexels video); the cost grows with pixel count.
* :class:`YuNetFaceDetector` — OpenCV's ``FaceDetectorYN`` (a small CNN, robust to pose) for an ONNX file the
  user supplies (``face_detection_yunet_2023mar.onnx`` from the OpenCV model zoo); nothing is downloaded.
  It also returns the two eye centres, which :func:`fer_lib.preprocess.align.align_face` then uses.
* :func:`detect_eyes` — the Haar eye cascade searched in the upper 60 % of a face crop, for eye-line alignment.

Images are uint8 ``(H, W)`` or ``(H, W, 1|3)`` with colour channels in RGB order (as every loader returns them).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

Point = tuple[float, float]
CASCADE_FIX = "install opencv-contrib-python-headless==4.14.0.94; OpenCV 5 wheels ship no cascades"


class NoFaceError(ValueError):
    """The detector found no face in an image; the message names the image and what to do."""


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle in pixel coordinates of the image it was found in.

    ``eyes`` holds the (image-left, image-right) eye centres when the detector provides landmarks (YuNet), else ``None``.
    """

    x: float
    y: float
    w: float
    h: float
    score: float
    eyes: tuple[Point, Point] | None = None

    @property
    def area(self) -> float:
        return self.w * self.h

    @property
    def center(self) -> Point:
        return self.x + self.w / 2, self.y + self.h / 2

    def scaled(self, factor: float) -> "FaceBox":
        """The same box (and eyes) in an image resized by ``factor``."""
        eyes = None
        if self.eyes is not None:
            (lx, ly), (rx, ry) = self.eyes
            eyes = ((lx * factor, ly * factor), (rx * factor, ry * factor))
        return FaceBox(self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.score, eyes)


class FaceDetector(Protocol):
    """Anything with ``detect(image) -> list[FaceBox]`` (largest face first) can be used for alignment."""

    def detect(self, image: np.ndarray) -> list[FaceBox]: ...


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W)`` / ``(H, W, 1)`` / ``(H, W, 3)`` RGB -> uint8 ``(H, W)``."""
    _check_image(image)
    if image.ndim == 2:
        return image
    return image[..., 0] if image.shape[2] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3))):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ValueError(f"expected a uint8 image (H, W) or (H, W, 1|3) in RGB order, got {dtype} {shape}")


def load_cascade(name: str) -> cv2.CascadeClassifier:
    """Load one of OpenCV's bundled Haar cascades by file name; the error names the file and the fix."""
    path = Path(cv2.data.haarcascades) / name
    cascade = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    if cascade is None or cascade.empty():
        raise FileNotFoundError(f"OpenCV Haar cascade {path} is missing or unreadable: {CASCADE_FIX}")
    return cascade


def _downscale(gray: np.ndarray, working_size: int) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most ``working_size``; return the image and the factor back to the original."""
    longest = max(gray.shape)
    if longest <= working_size:
        return gray, 1.0
    factor = working_size / longest
    small = cv2.resize(gray, (round(gray.shape[1] * factor), round(gray.shape[0] * factor)), interpolation=cv2.INTER_AREA)
    return small, 1 / factor


class HaarFaceDetector:
    """Frontal-face Viola–Jones cascade (``haarcascade_frontalface_default.xml``) run at ``working_size``.

    ``min_size`` is the smallest face side in working-size pixels; ``score`` is the cascade's level weight
    (higher = more confident), from ``detectMultiScale3``. ``equalize`` equalises the grey histogram first; the
    cascade already normalises every window's contrast itself, and on well-exposed video the global equalisation can
    cost detections (the video pipeline turns it off).
    """

    def __init__(
        self, working_size: int = 512, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 40, equalize: bool = True
    ) -> None:
        self.cascade = load_cascade("haarcascade_frontalface_default.xml")
        self.working_size = working_size
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.equalize = equalize

    def detect(self, image: np.ndarray, side_range: tuple[float, float] | None = None) -> list[FaceBox]:
        """Faces in ``image`` (uint8 ``(H, W[, C])`` RGB), largest first, in the image's own pixel coordinates.

        ``side_range`` ``(smallest, largest)`` face side in ``image`` pixels limits the scales searched (a video
        tracker knows its faces' sizes); the scales searched are a subset of the full search's, so a face found both
        ways gets the same box. Most of a full search's time goes into the smallest scales.
        """
        small, back = _downscale(to_gray(image), self.working_size)
        if self.equalize:
            # Equalising the histogram makes the cascade far less sensitive to under-exposed video frames.
            small = cv2.equalizeHist(small)
        min_size, max_size = min(self.min_size, *small.shape), 0
        if side_range is not None:
            min_size = max(min_size, int(side_range[0] / back))
            max_size = max(min_size, int(np.ceil(side_range[1] / back)))
        rects, _, weights = self.cascade.detectMultiScale3(
            small, self.scale_factor, self.min_neighbors, minSize=(min_size, min_size), maxSize=(max_size, max_size), outputRejectLevels=True
        )
        boxes = [FaceBox(*map(float, rect), score=float(weight)).scaled(back) for rect, weight in zip(rects, np.ravel(weights))]
        return sorted(boxes, key=lambda b: b.area, reverse=True)


class YuNetFaceDetector:
    """OpenCV ``FaceDetectorYN`` on a user-supplied YuNet ONNX file (e.g. ``face_detection_yunet_2023mar.onnx``).

    Boxes carry the two eye centres from YuNet's five landmarks, so alignment needs no eye cascade.
    """

    def __init__(self, model_path: str | os.PathLike[str], score_threshold: float = 0.7, nms_threshold: float = 0.3, working_size: int = 640) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"YuNet model {path} does not exist: download face_detection_yunet_2023mar.onnx from the OpenCV model zoo "
                "(github.com/opencv/opencv_zoo, models/face_detection_yunet) and pass its path, or use HaarFaceDetector()"
            )
        self.model = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold, nms_threshold)
        self.working_size = working_size

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in ``image`` (uint8 ``(H, W[, C])`` RGB), largest first, with eye centres."""
        _check_image(image)
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 or image.shape[2] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        small, back = _downscale(bgr, self.working_size)
        self.model.setInputSize((small.shape[1], small.shape[0]))
        _, faces = self.model.detect(small)
        boxes = [_yunet_box(row).scaled(back) for row in (faces if faces is not None else [])]
        return sorted(boxes, key=lambda b: b.area, reverse=True)


def _yunet_box(row: np.ndarray) -> FaceBox:
    # YuNet rows: x, y, w, h, then (x, y) of right eye, left eye, nose, mouth corners (subject's view), then score.
    eyes = sorted([(float(row[4]), float(row[5])), (float(row[6]), float(row[7]))])
    return FaceBox(float(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[14]), (eyes[0], eyes[1]))


@functools.lru_cache(maxsize=None)
def _eye_cascade() -> cv2.CascadeClassifier:
    return load_cascade("haarcascade_eye.xml")


def detect_eyes(face_image: np.ndarray) -> tuple[Point, Point] | None:
    """Eye centres ``(image-left, image-right)`` in ``face_image`` coordinates, or ``None`` if no plausible pair.

    ``face_image`` is a face crop (uint8 ``(H, W[, C])``). The cascade searches the upper 60 % only (nostrils
    and mouth corners are its usual false hits below; eyes sit at 35–45 % of a Haar face box's height), then picks
    the pair on either side of the centre line, at similar height and size, 25–65 % of the face width apart.
    """
    gray = cv2.equalizeHist(to_gray(face_image))
    h, w = gray.shape
    top = gray[: h * 6 // 10]
    min_side = max(4, w // 10)
    rects = _eye_cascade().detectMultiScale(top, 1.1, 3, minSize=(min_side, min_side), maxSize=(w // 2, w // 2))
    centres = [(x + rw / 2, y + rh / 2, rw) for x, y, rw, rh in rects]
    left = [c for c in centres if c[0] < w / 2]
    right = [c for c in centres if c[0] >= w / 2]
    best, best_cost = None, np.inf
    for lx, ly, ls in left:
        for rx, ry, rs in right:
            gap = (rx - lx) / w
            if not 0.25 <= gap <= 0.65:
                continue
            # Penalise tilt beyond what a real head shows, size mismatch and asymmetry about the centre line.
            cost = abs(ry - ly) / w + abs(rs - ls) / w + abs((lx + rx) / 2 - w / 2) / w
            if cost < best_cost:
                best, best_cost = ((float(lx), float(ly)), (float(rx), float(ry))), cost
    return best
