"""Drawing a frame's faces on it (OpenCV, in place): the box, ``#id label``, and one probability bar per class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

# BGR, one per class (matplotlib's tab10, so the video's bars match the timeline figure's lines).
PALETTE = (
    (180, 119, 31),
    (14, 127, 255),
    (44, 160, 44),
    (40, 39, 214),
    (189, 103, 148),
    (75, 86, 140),
    (194, 119, 227),
    (127, 127, 127),
    (34, 189, 188),
    (207, 190, 23),
)
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class FaceAnnotation:
    """What is drawn for one face: its id, its box ``(x, y, w, h)`` in frame pixels, and the (smoothed) probabilities."""

    face_id: int
    box: np.ndarray
    probabilities: np.ndarray


def class_color(index: int) -> tuple[int, int, int]:
    """The BGR colour of class ``index`` (cycling through :data:`PALETTE`)."""
    return PALETTE[index % len(PALETTE)]


def draw_faces(frame_bgr: np.ndarray, faces: Sequence[FaceAnnotation], class_names: Sequence[str]) -> np.ndarray:
    """Draw every face of ``faces`` on ``frame_bgr`` (uint8 ``(H, W, 3)``, modified in place) and return it.

    The label is the class with the highest probability; the bar panel sits right of the box, or left of it when the
    box touches the right edge, scaled with the frame so it stays legible from 360p to 4K.
    """
    height, width = frame_bgr.shape[:2]
    scale = max(height, width) / 640
    line = max(1, round(2 * scale))
    font_scale, row = 0.45 * scale, max(8, round(14 * scale))
    bar_width = round(70 * scale)
    text_width = max(cv2.getTextSize(name, FONT, font_scale, 1)[0][0] for name in class_names)
    for face in faces:
        x, y, w, h = (int(round(v)) for v in face.box)
        best = int(np.argmax(face.probabilities))
        color = class_color(best)
        cv2.rectangle(frame_bgr, (x, y), (x + w, y + h), color, line)
        title = f"#{face.face_id} {class_names[best]} {face.probabilities[best]:.2f}"
        cv2.putText(frame_bgr, title, (x, max(row, y - line * 2)), FONT, font_scale * 1.2, color, line, cv2.LINE_AA)
        panel_width = text_width + bar_width + 3 * line
        left = x + w + 2 * line if x + w + 2 * line + panel_width <= width else max(0, x - panel_width - 2 * line)
        top = max(0, min(y, height - row * len(class_names)))
        for k, (name, p) in enumerate(zip(class_names, face.probabilities)):
            baseline = top + row * (k + 1) - 3
            cv2.putText(frame_bgr, name, (left, baseline), FONT, font_scale, (255, 255, 255), 1, cv2.LINE_AA)
            bar_left = left + text_width + 2 * line
            cv2.rectangle(frame_bgr, (bar_left, baseline - row + 4), (bar_left + bar_width, baseline), (60, 60, 60), -1)
            cv2.rectangle(frame_bgr, (bar_left, baseline - row + 4), (bar_left + round(bar_width * float(p)), baseline), class_color(k), -1)
    return frame_bgr
