"""Smoothing each face's class probabilities over time, with a time constant in seconds.

A per-frame classifier flickers between classes when a face sits between two expressions; video FER integrates
evidence over time instead (the survey's sequence model does it with an LSTM over frames, §4.2.2). For any per-frame
model, without training, this module uses an exponential moving average per face with time constant ``tau`` seconds::

    s_t = s_prev + alpha * (p_t - s_prev),   alpha = 1 - exp(-dt / tau)

where ``dt`` is the real time since the face's previous frame. Because ``(1 - alpha)`` compounds to
``exp(-T / tau)`` over any ``T`` seconds whatever the steps, the smoothing means the same at 24 and at 120 fps and
with irregular timestamps: after a step change of the input, ``s`` has covered ``1 - exp(-T / tau)`` of the step
(63 % after ``tau`` seconds). ``tau = 0`` turns smoothing off. The first frame of a face starts its average.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np


class ProbabilitySmoother:
    """Exponential moving average of class probabilities per face id, with time constant ``time_constant_s`` seconds."""

    def __init__(self, time_constant_s: float) -> None:
        if not time_constant_s >= 0:
            raise ValueError(f"time_constant_s must be >= 0 seconds, got {time_constant_s}")
        self.time_constant_s = time_constant_s
        self._state: dict[int, tuple[float, np.ndarray]] = {}

    def update(self, face_id: int, probabilities: np.ndarray, time_s: float) -> np.ndarray:
        """Fold the probabilities of face ``face_id`` observed at ``time_s`` into its average; return the average."""
        probabilities = np.asarray(probabilities, np.float64)
        previous = self._state.get(face_id)
        if previous is None or self.time_constant_s == 0:
            smoothed = probabilities
        else:
            last_time, last = previous
            alpha = -np.expm1(-max(time_s - last_time, 0.0) / self.time_constant_s)
            smoothed = last + alpha * (probabilities - last)
        self._state[face_id] = (time_s, smoothed)
        return smoothed

    def keep_only(self, face_ids: Iterable[int]) -> None:
        """Drop the averages of faces not in ``face_ids`` (tracks that ended), so memory stays bounded."""
        keep = set(face_ids)
        self._state = {k: v for k, v in self._state.items() if k in keep}
