"""Reading video frames with OpenCV (``cv2.VideoCapture``): errors name the file, frames come back as uint8 RGB or grey.

Frames are skipped with ``grab()`` rather than by seeking: ``CAP_PROP_POS_FRAMES`` seeks to the nearest key
frame in many MP4 files, so a seek-based ``step`` would return the wrong frames.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

import cv2
import numpy as np

Color = Literal["gray", "rgb"]


@dataclass(frozen=True)
class VideoInfo:
    """What the container reports: ``frame_count`` is the container's count (it may differ from the decodable frames)."""

    path: Path
    fps: float
    frame_count: int
    width: int
    height: int


def _open(path: str | os.PathLike[str]) -> tuple[cv2.VideoCapture, VideoInfo]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Video file {path} does not exist")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise ValueError(f"empty or unreadable video: {path} (OpenCV cannot open it; expected a video file such as .mp4 or .avi)")
    info = VideoInfo(
        path=path,
        fps=float(capture.get(cv2.CAP_PROP_FPS)),
        frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    return capture, info


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """Open ``path`` and return its :class:`VideoInfo` without decoding frames."""
    capture, info = _open(path)
    capture.release()
    return info


def iter_video_frames(path: str | os.PathLike[str], step: int = 1, color: Color = "rgb") -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, frame)`` for every ``step``-th frame; frame is uint8 ``(H, W, C)``, C = 3 (RGB) or 1 (grey).

    Raises ``ValueError`` ("empty or unreadable video") when the file yields no frame at all.
    """
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    capture, info = _open(path)
    try:
        index = 0
        while True:
            if index % step == 0:
                ok, frame = capture.read()
                if not ok:
                    break
                yield index, _convert(frame, color)
            elif not capture.grab():
                break
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise ValueError(f"empty or unreadable video: {info.path} (OpenCV opened it but decoded no frame)")


def read_video(path: str | os.PathLike[str], step: int = 1, max_frames: int | None = None, color: Color = "rgb") -> tuple[np.ndarray, VideoInfo]:
    """Read every ``step``-th frame (at most ``max_frames``) into uint8 ``(T, H, W, C)`` plus the :class:`VideoInfo`."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    info = video_info(path)
    frames = []
    for _, frame in iter_video_frames(path, step, color):
        frames.append(frame)
        if max_frames is not None and len(frames) >= max_frames:
            break
    return np.stack(frames), info


def _convert(frame_bgr: np.ndarray, color: Color) -> np.ndarray:
    if color == "gray":
        return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)[..., None]
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
