"""How often the video pipeline scans for faces at every size, and when it searches only at the tracked faces' sizes.

A full scan is the pipeline's most expensive step, and most of its time goes into the smallest scales, where the
cascade's window visits the most positions. Between two frames a face keeps its size, so while faces are tracked the
frame is scanned only at scales from ``1 / size_slack`` to ``size_slack`` times the tracked faces' sides. Those scales
are a subset of the full scan's (``minSize``/``maxSize`` of the same scale ladder), so a tracked face gets the box a full
scan would give it. The frame is scanned at every size again every ``rescan_s`` seconds (a new face of another size
is found at the latest then), whenever no face is tracked, and whenever a sized scan finds fewer faces than are tracked.
Detectors whose ``detect`` takes no ``side_range`` (e.g. YuNet) always scan fully.
"""

from __future__ import annotations

import inspect

import numpy as np

from ..preprocess.detect import FaceDetector


class FaceFinder:
    """Face boxes ``(N, 4)`` (``x, y, w, h``) of a grey frame, given the boxes of the faces tracked so far."""

    def __init__(self, detector: FaceDetector, rescan_s: float = 1.0, size_slack: float = 1.4) -> None:
        if rescan_s < 0 or size_slack < 1:
            raise ValueError(f"FaceFinder needs rescan_s >= 0 and size_slack >= 1, got {rescan_s} and {size_slack}")
        self.detector = detector
        self.rescan_s = rescan_s
        self.size_slack = size_slack
        self._last_full_s: float | None = None
        self._sized = "side_range" in inspect.signature(detector.detect).parameters

    def find(self, gray: np.ndarray, time_s: float, tracked: list[np.ndarray]) -> np.ndarray:
        """Faces in ``gray`` (uint8 ``(H, W)``) at ``time_s``; ``tracked`` are the boxes of the faces visible just before."""
        due = self._last_full_s is None or time_s - self._last_full_s >= self.rescan_s
        if tracked and not due and self._sized:
            sides = [max(box[2], box[3]) for box in tracked]
            found = _as_array(self.detector.detect(gray, (min(sides) / self.size_slack, max(sides) * self.size_slack)))
            if len(found) >= len(tracked):
                return found
        self._last_full_s = time_s
        return _as_array(self.detector.detect(gray))


def _as_array(boxes: list) -> np.ndarray:
    return np.array([[b.x, b.y, b.w, b.h] for b in boxes], np.float64).reshape(-1, 4)
