"""Reading video frames with OpenCV (``cv2.VideoCapture``): errors name the file, frames come back as uint8 RGB or grey,
or as BGR with their container timestamps for the streaming pipeline.

Frames are skipped with ``grab()`` rather than by seeking: ``CAP_PROP_POS_FRAMES`` seeks to the nearest key
frame in many MP4 files, so a seek-based ``step`` would return the wrong frames.

A file cut short (an interrupted download or copy) still opens, and its container still declares the full frame
count, but decoding stops early. Every reader compares the frames it decoded with that count at the end: well short
of it, :class:`TruncatedVideoWarning` says how many frames were read, or, where the caller asked for every frame
(``require_all=True``), :class:`VideoReadError` is raised.
"""

from __future__ import annotations

import os
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

import cv2
import numpy as np

from ..errors import ConfigError

Color = Literal["gray", "rgb"]
# FFmpeg logs its own line for an unreadable file ("moov atom not found") beside the error raised here, which already
# names the file and the fix; quiet unless the user asked for FFmpeg's log (OpenCV reads this when it opens a file).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# Container frame counts can be estimates (duration × fps), off by a frame or two; a shortfall beyond this is a cut file.
TRUNCATION_TOLERANCE = 0.02


class VideoNotFoundError(ConfigError, FileNotFoundError):
    """The video path does not exist."""


class VideoReadError(ConfigError, ValueError):
    """The path is not a file (a folder, a device), or the file is empty, not a video OpenCV can decode, or (when every
    frame was required) cut short."""


class TruncatedVideoWarning(UserWarning):
    """Decoding stopped well before the frame count the container declares: the file is probably cut short."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container reports: ``frame_count`` is the container's count (it may differ from the decodable frames)."""

    path: Path
    fps: float
    frame_count: int
    width: int
    height: int


@dataclass(frozen=True)
class TimedFrame:
    """One decoded frame: its index in the file, its presentation time in seconds, and the uint8 ``(H, W, 3)`` BGR image."""

    index: int
    time_s: float
    image: np.ndarray


def _open(path: str | os.PathLike[str]) -> tuple[cv2.VideoCapture, VideoInfo]:
    path = Path(path)
    if not path.exists():
        raise VideoNotFoundError(f"Video file {path} does not exist: check the path (the folder holds: {_listing(path.parent)})")
    if path.is_dir():
        raise VideoReadError(f"{path} is a folder, not a video file: pass one of the videos in it (it holds: {_listing(path)})")
    if not path.is_file():
        raise VideoReadError(f"{path} is not a regular file (a device, pipe or socket), not a video file: pass a video file such as .mp4 or .avi")
    if path.stat().st_size == 0:
        raise VideoReadError(f"empty or unreadable video: {path} is 0 bytes (an interrupted download or copy?); copy the video again")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        # Written beside the input, quoted for the shell: the command works as printed, from any folder.
        reencode = f"ffmpeg -i {shlex.quote(str(path))} -c:v libx264 {shlex.quote(str(path.with_name(f'{path.stem}_h264.mp4')))}"
        raise VideoReadError(
            f"empty or unreadable video: {path} (OpenCV cannot open it: a file cut short by an interrupted download or copy, e.g. "
            "an mp4 whose index comes last, not a video container, or a codec this OpenCV build lacks); copy the video again if "
            f"it may be incomplete, pass a video file such as .mp4 or .avi, or re-encode it: {reencode}"
        )
    info = VideoInfo(
        path=path,
        fps=float(capture.get(cv2.CAP_PROP_FPS)),
        frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )
    return capture, info


def _listing(folder: Path, shown: int = 5) -> str:
    if not folder.is_dir():
        return f"nothing: {folder} is not a folder"
    names = sorted(p.name for p in folder.iterdir())
    return ", ".join(names[:shown]) + (f", ... ({len(names)} entries)" if len(names) > shown else "") if names else "nothing"


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """Open ``path`` and return its :class:`VideoInfo` without decoding frames."""
    capture, info = _open(path)
    capture.release()
    return info


def check_complete(info: VideoInfo, decoded: int, require_all: bool = False) -> None:
    """Warn (or with ``require_all`` raise :class:`VideoReadError`) when ``decoded`` frames fall well short of
    ``info.frame_count``; raise :class:`VideoReadError` when no frame decoded at all."""
    if decoded == 0:
        raise VideoReadError(f"empty or unreadable video: {info.path} (OpenCV opened it but decoded no frame); re-encode or copy the video again")
    if info.frame_count <= 0 or decoded >= info.frame_count - max(1, TRUNCATION_TOLERANCE * info.frame_count):
        return
    message = (
        f"{info.path}: decoded only {decoded} of the {info.frame_count} frames its container declares "
        f"(the file is probably cut short, e.g. an interrupted download or copy); copy the video again to read all of it"
    )
    if require_all:
        raise VideoReadError(message)
    warnings.warn(message, TruncatedVideoWarning, stacklevel=2)


def iter_video_frames(
    path: str | os.PathLike[str], step: int = 1, color: Color = "rgb", require_all: bool = False
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame_index, frame)`` for every ``step``-th frame; frame is uint8 ``(H, W, C)``, C = 3 (RGB) or 1 (grey).

    Raises :class:`VideoReadError` ("empty or unreadable video") when the file yields no frame at all; a file that
    ends well before its declared frame count warns (:class:`TruncatedVideoWarning`), or raises with ``require_all``.
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
    check_complete(info, index, require_all)


def iter_timed_frames(path: str | os.PathLike[str], max_seconds: float | None = None, require_all: bool = False) -> Iterator[TimedFrame]:
    """Yield every frame as a :class:`TimedFrame` (BGR, as OpenCV decodes it), one at a time: memory stays constant.

    Times are the container's presentation timestamps (``CAP_PROP_POS_MSEC``), so variable-frame-rate files keep
    their real timing; where the container gives none (a timestamp that does not increase), the previous time plus
    one nominal frame interval is used. Stops before the first frame at or after ``max_seconds`` when given (the
    completeness check then does not apply).
    """
    capture, info = _open(path)
    interval = 1.0 / info.fps if info.fps > 0 else 0.0
    index, previous = 0, None
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            time_s = frame_time(capture.get(cv2.CAP_PROP_POS_MSEC), previous, interval)
            if max_seconds is not None and time_s >= max_seconds:
                return
            yield TimedFrame(index, time_s, image)
            previous = time_s
            index += 1
    finally:
        capture.release()
    check_complete(info, index, require_all)


def frame_time(position_ms: float, previous_s: float | None, interval_s: float) -> float:
    """A frame's time in seconds: the container's ``position_ms`` when it moves forward, else ``previous_s + interval_s``."""
    time_s = position_ms / 1000.0
    if previous_s is None:
        return max(time_s, 0.0)
    return time_s if time_s > previous_s else previous_s + interval_s


def read_video(
    path: str | os.PathLike[str], step: int = 1, max_frames: int | None = None, color: Color = "rgb", require_all: bool = False
) -> tuple[np.ndarray, VideoInfo]:
    """Read every ``step``-th frame (at most ``max_frames``) into uint8 ``(T, H, W, C)`` plus the :class:`VideoInfo`.

    ``require_all=True`` turns the truncation warning into a :class:`VideoReadError` (only checked when the whole
    file is read, i.e. ``max_frames`` did not stop it first).
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    info = video_info(path)
    frames = []
    for _, frame in iter_video_frames(path, step, color, require_all):
        frames.append(frame)
        if max_frames is not None and len(frames) >= max_frames:
            break
    return np.stack(frames), info


def _convert(frame_bgr: np.ndarray, color: Color) -> np.ndarray:
    if color == "gray":
        return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)[..., None]
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
