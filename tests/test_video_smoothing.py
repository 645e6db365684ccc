"""Probability smoothing in seconds: checked against a hand computation, and the same at 24 fps, 120 fps and irregular times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fer_lib.video import ProbabilitySmoother

A, B = np.array([1.0, 0.0]), np.array([0.0, 1.0])


def test_hand_computation() -> None:
    smoother = ProbabilitySmoother(time_constant_s=0.5)
    np.testing.assert_allclose(smoother.update(1, A, 0.0), A)  # the first frame starts the average
    # dt = 0.1 s, tau = 0.5 s: alpha = 1 - exp(-0.2) = 0.181269
    np.testing.assert_allclose(smoother.update(1, B, 0.1), [0.818731, 0.181269], atol=1e-6)
    # again: 0.181269 + 0.181269 * (1 - 0.181269) = 0.329680 = 1 - exp(-0.4)
    np.testing.assert_allclose(smoother.update(1, B, 0.2), [0.670320, 0.329680], atol=1e-6)


@pytest.mark.parametrize("fps", [24.0, 120.0])
def test_same_in_seconds_at_any_frame_rate(fps: float) -> None:
    smoother = ProbabilitySmoother(time_constant_s=0.25)
    smoother.update(7, A, 0.0)
    for k in range(1, int(fps) + 1):  # one second of B after A
        smoothed = smoother.update(7, B, k / fps)
    assert smoothed[1] == pytest.approx(1 - math.exp(-1 / 0.25), abs=1e-9)


def test_irregular_timestamps_use_real_deltas() -> None:
    smoother = ProbabilitySmoother(time_constant_s=1.0)
    smoother.update(1, A, 10.0)
    smoother.update(1, B, 10.05)
    smoother.update(1, B, 10.4)
    assert smoother.update(1, B, 11.0)[1] == pytest.approx(1 - math.exp(-1.0), abs=1e-9)


def test_faces_are_independent_and_forgotten() -> None:
    smoother = ProbabilitySmoother(time_constant_s=1.0)
    smoother.update(1, A, 0.0)
    np.testing.assert_allclose(smoother.update(2, B, 0.5), B)  # face 2 starts its own average
    smoother.keep_only([2])
    np.testing.assert_allclose(smoother.update(1, B, 0.6), B)  # face 1 was forgotten: starts again


def test_zero_time_constant_is_off_and_negative_refused() -> None:
    smoother = ProbabilitySmoother(time_constant_s=0.0)
    smoother.update(1, A, 0.0)
    np.testing.assert_allclose(smoother.update(1, B, 0.04), B)
    with pytest.raises(ValueError, match="time_constant_s"):
        ProbabilitySmoother(-0.1)
