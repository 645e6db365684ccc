"""Face tracking by box overlap: each face keeps one id from frame to frame.

Detections of a new frame are matched to the tracks' last boxes by the assignment that maximises the total
intersection-over-union (``scipy.optimize.linear_sum_assignment``); a pair below ``min_iou`` is not a match. An
unmatched detection starts a new track (ids 1, 2, 3, ... in order of appearance). A track that goes unmatched is kept,
invisible, for ``max_gap_s`` seconds, so a face the detector misses for a moment keeps its id when it is found again
at about the same place; a face that leaves the picture for longer, or comes back elsewhere, gets a new id (the
tracker knows boxes, not identities).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass
class Track:
    """One face over time: its id, its last matched box ``(x, y, w, h)`` and when it was last matched."""

    id: int
    box: np.ndarray
    last_seen_s: float


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` ``(N, 4)`` with every box in ``b`` ``(M, 4)``, boxes as ``x, y, w, h``: ``(N, M)``."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    bottom = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


class IouTracker:
    """Keeps face ids across frames; call :meth:`update` with each frame's detections (see the module docstring)."""

    def __init__(self, min_iou: float = 0.3, max_gap_s: float = 1.0) -> None:
        if not 0 < min_iou <= 1 or max_gap_s < 0:
            raise ValueError(f"IouTracker needs 0 < min_iou <= 1 and max_gap_s >= 0, got min_iou={min_iou}, max_gap_s={max_gap_s}")
        self.min_iou = min_iou
        self.max_gap_s = max_gap_s
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: np.ndarray, time_s: float) -> list[Track]:
        """Match ``boxes`` ``(N, 4)`` (``x, y, w, h``) found at ``time_s``; return the N tracks they belong to, in box order."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        owners: list[Track | None] = [None] * len(boxes)
        if self.tracks and len(boxes):
            iou = box_iou(np.stack([t.box for t in self.tracks]), boxes)
            for t, b in zip(*linear_sum_assignment(iou, maximize=True)):
                if iou[t, b] >= self.min_iou:
                    owners[b] = self.tracks[t]
        for b, box in enumerate(boxes):
            track = owners[b]
            if track is None:
                track = Track(self._next_id, box, time_s)
                self._next_id += 1
                self.tracks.append(track)
                owners[b] = track
            track.box, track.last_seen_s = box, time_s
        self.tracks = [t for t in self.tracks if time_s - t.last_seen_s <= self.max_gap_s]
        return [t for t in owners if t is not None]

    @property
    def ids(self) -> set[int]:
        """Ids of the tracks still kept (visible or within ``max_gap_s`` of their last match)."""
        return {t.id for t in self.tracks}
