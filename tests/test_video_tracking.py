"""Face tracking by box overlap: ids kept through moves and short misses, new ids for new or long-gone faces."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lib.video import IouTracker, box_iou


def test_box_iou_by_hand() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]])
    # Overlap 5×10 = 50; union 100 + 100 - 50 = 150.
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_moving_face_keeps_its_id() -> None:
    tracker = IouTracker()
    ids = [tracker.update(np.array([[10.0 + 8 * k, 50, 100, 100]]), k / 24)[0].id for k in range(30)]
    assert ids == [1] * 30


def test_two_faces_crossing_keep_their_ids() -> None:
    tracker = IouTracker()
    left, right = np.array([0.0, 0, 50, 50]), np.array([60.0, 0, 50, 50])
    first = tracker.update(np.stack([left, right]), 0.0)
    assert [t.id for t in first] == [1, 2]
    # The detector lists them in the other order and both moved a little: the assignment follows overlap, not order.
    second = tracker.update(np.stack([right + [4, 0, 0, 0], left + [4, 0, 0, 0]]), 0.04)
    assert [t.id for t in second] == [2, 1]


def test_short_miss_keeps_id_long_absence_does_not() -> None:
    tracker = IouTracker(max_gap_s=1.0)
    box = np.array([[100.0, 100, 80, 80]])
    assert tracker.update(box, 0.0)[0].id == 1
    assert tracker.update(np.zeros((0, 4)), 0.5) == []
    assert tracker.update(box, 0.9)[0].id == 1  # missed for 0.9 s: the same face
    assert tracker.update(np.zeros((0, 4)), 2.5) == [] and tracker.ids == set()  # gone for 1.6 s: forgotten
    assert tracker.update(box, 2.6)[0].id == 2


def test_face_elsewhere_is_a_new_face() -> None:
    tracker = IouTracker(min_iou=0.3)
    tracker.update(np.array([[0.0, 0, 50, 50]]), 0.0)
    assert tracker.update(np.array([[200.0, 0, 50, 50]]), 0.04)[0].id == 2
    assert tracker.ids == {1, 2}


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="min_iou"):
        IouTracker(min_iou=0.0)
