"""Face alignment: detect the largest face, level the eye line, crop a square with a margin, resize.

The crop is one affine warp about the face-box centre (rotation + translation), followed by an area resize,
so pixels outside the image are filled with black (``BORDER_CONSTANT``) rather than smeared edge pixels, and
shrinking does not alias. Rotating about the box centre and cropping around it gives the same pixels as
rotating about the eye midpoint and cropping around the rotated box centre: both map the box centre to the
crop centre with the same angle.

For clips (micro-expressions), detect once on the first (onset) frame and apply the same box and angle to
every frame with :func:`crop_face_box`: per-frame detection jitters by a few pixels, and that jitter would
show up as optical flow larger than the micro-movement itself.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import Literal, Sequence

import cv2
import numpy as np

from ..data.io import resize_square
from .detect import FaceBox, FaceDetector, HaarFaceDetector, NoFaceError, Point, detect_eyes, to_gray

log = logging.getLogger(__name__)
Color = Literal["gray", "rgb"]
NO_FACE_FIX = (
    "check that it shows a roughly frontal, unoccluded face at least ~40 px wide; for turned or occluded faces use "
    "YuNetFaceDetector(model_path), or align_faces(..., on_missing='skip') to drop such images with a warning"
)


@dataclass(frozen=True)
class AlignedFace:
    """An aligned face crop and how it was made.

    Attributes:
        image: uint8 ``(size, size, C)``, C = 1 (gray) or 3 (RGB).
        box: the detected face box in the source image.
        eyes: (image-left, image-right) eye centres in the source image, or ``None`` when none were found.
        angle_deg: rotation applied to level the eyes (0 without eyes); pass it to :func:`crop_face_box` to repeat the crop.
    """

    image: np.ndarray
    box: FaceBox
    eyes: tuple[Point, Point] | None
    angle_deg: float


def crop_face_box(
    image: np.ndarray, box: FaceBox, size: int = 112, margin: float = 0.25, color: Color = "gray", angle_deg: float = 0.0
) -> np.ndarray:
    """Crop the square around ``box`` (side = longer box side × (1 + 2·margin)), rotated by ``angle_deg``, to ``(size, size, C)``.

    ``image`` is uint8 ``(H, W[, C])`` RGB; parts of the square outside it are black. ``angle_deg`` follows
    ``cv2.getRotationMatrix2D`` (positive = anticlockwise on screen).
    """
    side = max(box.w, box.h) * (1 + 2 * margin)
    crop_side = max(1, round(side))
    cx, cy = box.center
    matrix = cv2.getRotationMatrix2D((cx, cy), angle_deg, crop_side / side)
    matrix[:, 2] += (crop_side / 2 - cx, crop_side / 2 - cy)
    source = _convert(image, color)
    crop = cv2.warpAffine(source, matrix, (crop_side, crop_side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return resize_square(crop[..., None] if crop.ndim == 2 else crop, size)


def _convert(image: np.ndarray, color: Color) -> np.ndarray:
    if color == "gray":
        return to_gray(image)
    if color != "rgb":
        raise ValueError(f"color must be 'gray' or 'rgb', got {color!r}")
    gray = to_gray(image) if image.ndim == 2 or image.shape[2] == 1 else None
    return image if gray is None else cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def eye_angle(eyes: tuple[Point, Point]) -> float:
    """Angle (degrees, ``getRotationMatrix2D`` convention) that makes the line from left to right eye horizontal."""
    (lx, ly), (rx, ry) = eyes
    return math.degrees(math.atan2(ry - ly, rx - lx))


def find_eyes(image: np.ndarray, box: FaceBox) -> tuple[Point, Point] | None:
    """Eye centres in ``image`` coordinates: the detector's landmarks if it gave them, else :func:`detect_eyes` in the box."""
    if box.eyes is not None:
        return box.eyes
    h, w = image.shape[:2]
    x0, y0 = max(0, int(box.x)), max(0, int(box.y))
    x1, y1 = min(w, int(box.x + box.w)), min(h, int(box.y + box.h))
    eyes = detect_eyes(image[y0:y1, x0:x1]) if x1 > x0 and y1 > y0 else None
    return None if eyes is None else ((eyes[0][0] + x0, eyes[0][1] + y0), (eyes[1][0] + x0, eyes[1][1] + y0))


def align_face(
    image: np.ndarray,
    detector: FaceDetector | None = None,
    size: int = 112,
    margin: float = 0.25,
    color: Color = "gray",
    align_eyes: bool = True,
    where: str = "image",
) -> AlignedFace:
    """Align the largest face in ``image`` (uint8 ``(H, W[, C])`` RGB) to ``(size, size, C)``.

    With ``align_eyes`` and both eyes found, the crop is rotated so the eye line is horizontal; otherwise it is
    cropped upright. Raises :class:`NoFaceError` naming ``where`` (a path, "frame 12 of clip.mp4") if no face is found.
    """
    boxes = (detector or _default_detector()).detect(image)
    if not boxes:
        raise NoFaceError(f"No face found in {where}: {NO_FACE_FIX}")
    box = boxes[0]
    eyes = find_eyes(image, box) if align_eyes else None
    angle = eye_angle(eyes) if eyes is not None else 0.0
    return AlignedFace(crop_face_box(image, box, size, margin, color, angle), box, eyes, angle)


def align_faces(
    images: Sequence[np.ndarray] | np.ndarray,
    detector: FaceDetector | None = None,
    size: int = 112,
    margin: float = 0.25,
    color: Color = "gray",
    align_eyes: bool = True,
    names: Sequence[str] | None = None,
    on_missing: Literal["raise", "skip"] = "raise",
) -> tuple[np.ndarray, np.ndarray]:
    """Align a batch of images; return uint8 ``(K, size, size, C)`` and the int64 indices ``(K,)`` of the images kept.

    ``names`` name the images in errors (default "image <i>"). ``on_missing="raise"`` raises :class:`NoFaceError`
    on the first image without a face; ``"skip"`` drops such images and logs a warning with their count.
    """
    if on_missing not in ("raise", "skip"):
        raise ValueError(f"on_missing must be 'raise' or 'skip', got {on_missing!r}")
    detector = detector or _default_detector()
    faces, kept, missed = [], [], []
    for i, image in enumerate(images):
        name = names[i] if names is not None else f"image {i}"
        try:
            faces.append(align_face(image, detector, size, margin, color, align_eyes, where=name).image)
            kept.append(i)
        except NoFaceError:
            if on_missing == "raise":
                raise
            missed.append(name)
    if missed:
        log.warning("align_faces: no face in %d of %d images, skipped them (first: %s)", len(missed), len(missed) + len(kept), ", ".join(missed[:5]))
    channels = 1 if color == "gray" else 3
    stacked = np.stack(faces) if faces else np.zeros((0, size, size, channels), np.uint8)
    return stacked, np.asarray(kept, dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _default_detector() -> HaarFaceDetector:
    return HaarFaceDetector()
