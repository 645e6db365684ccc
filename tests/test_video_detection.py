"""Sized scans between full scans: the same boxes as a full scan for tracked faces, full scans when due or when a face is lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_lib.video import iter_timed_frames, video_detector
from fer_lib.video.detection import FaceFinder


class CountingDetector:
    """The video detector, counting full and sized scans."""

    def __init__(self) -> None:
        self.inner = video_detector(256)
        self.calls: list[str] = []

    def detect(self, image: np.ndarray, side_range: tuple[float, float] | None = None) -> list:
        self.calls.append("full" if side_range is None else "sized")
        return self.inner.detect(image, side_range)


@pytest.fixture(scope="module")
def grey_frames(fer_data: Path) -> list[np.ndarray]:
    frames = [f.image[..., 1].copy() for f in iter_timed_frames(fer_data / "videos" / "WolfgangLanger_Pexels.mp4", max_seconds=0.5)]
    assert len(frames) == 12
    return frames


def test_sized_scan_gives_the_full_scan_box(grey_frames: list[np.ndarray]) -> None:
    detector = video_detector(256)
    for gray in grey_frames[:4]:
        full = detector.detect(gray)
        assert len(full) == 1
        side = full[0].w
        sized = detector.detect(gray, (side / 1.4, side * 1.4))
        assert [(b.x, b.y, b.w, b.h) for b in sized] == [(full[0].x, full[0].y, full[0].w, full[0].h)]
    assert detector.detect(grey_frames[0], (10, 40)) == []  # no face that small


def test_full_scan_when_due_or_untracked(grey_frames: list[np.ndarray]) -> None:
    detector = CountingDetector()
    finder = FaceFinder(detector, rescan_s=0.2)
    tracked: list[np.ndarray] = []
    for k, gray in enumerate(grey_frames[:8]):
        boxes = finder.find(gray, k / 24, tracked)
        assert len(boxes) == 1
        tracked = list(boxes)
    # t = 0 (nothing tracked): full; then sized until 0.2 s have passed (t = 5/24 = 0.208): full again.
    assert detector.calls == ["full", "sized", "sized", "sized", "sized", "full", "sized", "sized"]


def test_lost_face_triggers_full_scan(grey_frames: list[np.ndarray]) -> None:
    detector = CountingDetector()
    finder = FaceFinder(detector, rescan_s=10.0)
    first = finder.find(grey_frames[0], 0.0, [])
    ghost = np.array([5.0, 5.0, 30.0, 30.0])  # a second, small "tracked face" the sized scan cannot find
    boxes = finder.find(grey_frames[1], 1 / 24, [first[0], ghost])
    assert detector.calls == ["full", "sized", "full"] and len(boxes) == 1


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="rescan_s"):
        FaceFinder(video_detector(256), rescan_s=-1)
