"""Video frame reading: real video, synthetic round trip, and every bad-input case."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lib.video import iter_video_frames, read_video, video_info

REAL_VIDEO = "videos/WolfgangLanger_Pexels.mp4"


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write BGR frames with the first codec this OpenCV build can write (MJPG/.avi, else mp4v/.mp4)."""
    h, w = frames[0].shape[:2]
    for fourcc, suffix in (("MJPG", ".avi"), ("mp4v", ".mp4")):
        target = path.with_suffix(suffix)
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
        if writer.isOpened():
            for frame in frames:
                writer.write(frame)
            writer.release()
            return target
        writer.release()
    pytest.fail("this OpenCV build can write neither MJPG/.avi nor mp4v/.mp4; install the pinned opencv-contrib-python-headless")


def _frames(count: int) -> list[np.ndarray]:
    # Flat grey levels 20, 50, 80, ...: distinct after JPEG compression, so frame order can be checked.
    return [np.full((24, 32, 3), 20 + 30 * k, np.uint8) for k in range(count)]


@pytest.fixture
def real_video(fer_data: Path) -> Path:
    path = fer_data / REAL_VIDEO
    assert path.is_file(), f"missing {path}"
    return path


def test_real_video_step(real_video: Path) -> None:
    frames, info = read_video(real_video, step=24)
    assert frames.shape == (20, 360, 640, 3) and frames.dtype == np.uint8  # ceil(472 / 24)
    assert (info.width, info.height, info.frame_count) == (640, 360, 472)
    assert info.fps == pytest.approx(23.976, abs=0.01)


def test_real_video_gray_max_frames(real_video: Path) -> None:
    frames, _ = read_video(real_video, step=10, max_frames=3, color="gray")
    assert frames.shape == (3, 360, 640, 1)


def test_synthetic_round_trip(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "clip", _frames(7))
    frames, info = read_video(path)
    assert frames.shape == (7, 24, 32, 3) and info.frame_count == 7
    levels = frames.mean(axis=(1, 2, 3))
    np.testing.assert_allclose(levels, 20 + 30 * np.arange(7), atol=4)


def test_synthetic_step_indices(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "clip", _frames(7))
    indexed = list(iter_video_frames(path, step=3))
    assert [i for i, _ in indexed] == [0, 3, 6]
    assert abs(indexed[1][1].mean() - 110) < 4  # frame 3 really is the fourth frame, not a key frame


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        read_video(tmp_path / "nope.mp4")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty or unreadable video: .*empty.mp4"):
        read_video(path)


def test_text_file_renamed(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(ValueError, match="empty or unreadable video: .*notes.mp4"):
        video_info(path)


def test_video_without_frames(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "clip", _frames(1))
    frameless = path.with_name("frameless" + path.suffix)
    writer = cv2.VideoWriter(str(frameless), cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v")), 10.0, (32, 24))
    writer.release()
    with pytest.raises(ValueError, match="empty or unreadable video"):
        read_video(frameless)


def test_bad_step(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "clip", _frames(2))
    with pytest.raises(ValueError, match="step"):
        list(iter_video_frames(path, step=0))
    with pytest.raises(ValueError, match="max_frames"):
        read_video(path, max_frames=0)
