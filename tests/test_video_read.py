"""Video frame reading: real video, synthetic round trip, timestamps, truncated files, and every bad-input case."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lib.errors import ConfigError
from fer_lib.video import TruncatedVideoWarning, VideoNotFoundError, VideoReadError, iter_timed_frames, iter_video_frames, read_video, video_info
from fer_lib.video.reader import frame_time

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


def test_folder_or_device_is_not_called_missing(tmp_path: Path) -> None:
    """A path that exists but is no regular file says what it is, not that it does not exist."""
    _write_video(tmp_path / "clip", _frames(2))
    with pytest.raises(VideoReadError, match=r"is a folder, not a video file: pass one of the videos in it \(it holds: clip\."):
        video_info(tmp_path)
    with pytest.raises(VideoReadError, match=r"/dev/null is not a regular file"):
        video_info("/dev/null")


def test_cut_mp4_without_its_index(tmp_path: Path) -> None:
    """An mp4 whose index (moov) comes last, cut short, does not open at all: the message names that cause, and its
    ffmpeg command is quoted for the shell and writes beside the input."""
    folder = tmp_path / "my videos"
    folder.mkdir()
    path = folder / "my clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(10):
        writer.write(rng.integers(0, 256, (48, 64, 3), np.uint8))
    writer.release()
    data = path.read_bytes()
    assert data.rfind(b"moov") > len(data) // 2, "OpenCV's mp4 muxer writes the index last"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoReadError, match=r"my clip\.mp4 \(OpenCV cannot open it: a file cut short by an interrupted download or copy") as error:
        video_info(path)
    assert f"ffmpeg -i '{path}' -c:v libx264 '{folder}/my clip_h264.mp4'" in str(error.value)


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


def test_truncated_video_warns_or_fails(real_video: Path, tmp_path: Path) -> None:
    """An mp4 cut to half its bytes still opens and declares 472 frames; reading it must say how many it really read."""
    data = real_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.warns(TruncatedVideoWarning, match=r"cut\.mp4: decoded only (\d+) of the 472 frames .*copy the video again") as record:
        frames, _ = read_video(cut)
    read = int(re.search(r"decoded only (\d+)", str(record[0].message)).group(1))
    assert read == len(frames) and 0 < read < 472
    with pytest.raises(VideoReadError, match=r"decoded only \d+ of the 472 frames"):
        read_video(cut, require_all=True)
    with pytest.warns(TruncatedVideoWarning):
        assert sum(1 for _ in iter_timed_frames(cut)) == read


def test_complete_video_does_not_warn(real_video: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frames, _ = read_video(real_video, step=8, require_all=True)
    assert len(frames) == 59  # ceil(472 / 8)


def test_timed_frames_use_container_timestamps(real_video: Path) -> None:
    frames = list(iter_timed_frames(real_video, max_seconds=1.0))
    assert [f.index for f in frames] == list(range(24))  # 0 ... 0.959 s at 23.976 fps
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(24) * 1001 / 24000, atol=1e-6)
    assert frames[0].image.shape == (360, 640, 3)


def test_frame_time_falls_back_to_nominal_interval() -> None:
    assert frame_time(0.0, None, 0.04) == 0.0
    assert frame_time(80.0, 0.04, 0.04) == pytest.approx(0.08)  # the container's time moves forward: taken as is
    assert frame_time(0.0, 0.08, 0.04) == pytest.approx(0.12)  # no timestamp (0 or going back): previous + 1/fps
    assert frame_time(120.0, 0.12, 0.04) == pytest.approx(0.16)  # a repeated timestamp is not a real one either


def test_bad_input_is_a_config_error(tmp_path: Path) -> None:
    """The command line prints ConfigError as one line; the reader's errors stay FileNotFoundError / ValueError too."""
    with pytest.raises(VideoNotFoundError) as missing:
        read_video(tmp_path / "nope.mp4")
    assert isinstance(missing.value, ConfigError) and isinstance(missing.value, FileNotFoundError)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoReadError) as empty:
        video_info(tmp_path / "empty.mp4")
    assert isinstance(empty.value, ConfigError) and isinstance(empty.value, ValueError)
