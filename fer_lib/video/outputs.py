"""The video pipeline's files: written under temporary names, renamed to their final names only when all succeeded.

A run that fails or is interrupted leaves no file under a final name that looks complete: the per-frame table
(CSV, streamed row by row), the annotated video (mp4v in an ``.mp4``) and the timeline figure are written as
``.<name>.partial<suffix>`` and moved into place with ``os.replace`` once everything is written. OpenCV's video writer
reports no failed frame (a full disk, a frame of another size), so :class:`VideoFileWriter` checks the closed file
holds every frame before it may be committed.
"""

from __future__ import annotations

import csv
import os
import resource
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Sequence

import cv2
import numpy as np

from ..errors import ConfigError

FACE_FIELDS = ("face_id", "x", "y", "w", "h")
# MPEG-4 stores the frame rate's time base in 16 bits: the rate OpenCV passes on (its value to 0.001, as a reduced
# fraction) needs a numerator <= 65535, which 100.123 fps (100123/1000) lacks and 100.12 fps (2503/25) has.
MAX_TIME_BASE = 65535


class VideoWriteError(ConfigError, OSError):
    """The annotated video could not be written, or the file written does not hold every frame (a full disk, a file-size limit)."""


def prepare_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and check a file can be written there; else :class:`ConfigError` naming the folder."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ConfigError(
            f"Cannot write to the output folder {path} ({error.strerror or error}); pass --out DIR with a folder you can write to"
        ) from None
    return path


class StagedFiles:
    """Temporary paths in one folder that :meth:`commit` renames to their final names (all or none).

    As a context manager, an exception discards every temporary file instead.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pending: dict[Path, Path] = {}
        self._stale: list[Path] = []

    def temporary(self, final_name: str) -> Path:
        """The temporary path for ``final_name`` (same suffix, so writers that pick a format by suffix still work)."""
        final = self.folder / final_name
        temporary = final.with_name(f".{final.stem}.partial{final.suffix}")
        self._pending[final] = temporary
        return temporary

    def remove_stale(self, final_name: str) -> None:
        """Delete ``final_name`` on commit: an earlier run's file this run does not write (the folder describes one run)."""
        self._stale.append(self.folder / final_name)

    def commit(self) -> list[Path]:
        """Rename every temporary file to its final name and delete the stale ones; return the final paths."""
        for final, temporary in self._pending.items():
            if not temporary.is_file():
                raise RuntimeError(f"{temporary} was never written, so {final} cannot be committed")
        for final, temporary in self._pending.items():
            os.replace(temporary, final)
        for stale in self._stale:
            stale.unlink(missing_ok=True)
        finals = list(self._pending)
        self._pending.clear()
        self._stale.clear()
        return finals

    def discard(self) -> None:
        """Delete every temporary file not yet committed."""
        for temporary in self._pending.values():
            temporary.unlink(missing_ok=True)
        self._pending.clear()

    def __enter__(self) -> "StagedFiles":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self.discard()


def frame_table_columns(class_names: Sequence[str]) -> list[str]:
    """CSV header: ``frame, time_s, face_id, x, y, w, h, p_<class>…, label, label_smoothed, p_smoothed_<class>…``."""
    return ["frame", "time_s", *FACE_FIELDS, *(f"p_{c}" for c in class_names), "label", "label_smoothed", *(f"p_smoothed_{c}" for c in class_names)]


class FrameTableWriter:
    """Streams the per-frame CSV: one row per face per frame, and one row with empty face fields for a frame without a face."""

    def __init__(self, path: Path, class_names: Sequence[str]) -> None:
        self.class_names = tuple(class_names)
        self._file = open(path, "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._csv.writerow(frame_table_columns(self.class_names))
        self._empty = [""] * (len(FACE_FIELDS) + 2 * len(self.class_names) + 2)

    def write_faceless(self, frame: int, time_s: float) -> None:
        self._csv.writerow([frame, f"{time_s:.4f}", *self._empty])

    def write_face(self, frame: int, time_s: float, face_id: int, box: np.ndarray, probabilities: np.ndarray, smoothed: np.ndarray) -> None:
        x, y, w, h = (int(round(float(v))) for v in box)
        self._csv.writerow(
            [
                frame, f"{time_s:.4f}", face_id, x, y, w, h,
                *(f"{p:.4f}" for p in probabilities),
                self.class_names[int(np.argmax(probabilities))], self.class_names[int(np.argmax(smoothed))],
                *(f"{p:.4f}" for p in smoothed),
            ]
        )  # fmt: skip

    def close(self) -> None:
        self._file.close()


def writable_fps(fps: float) -> float:
    """``fps`` to as many of three decimals as mp4v can store (:data:`MAX_TIME_BASE`): 100.123 -> 100.12, 23.976 stays;
    the video's timing changes by under 0.01 %. A rate no rounding makes storable is returned as it is."""
    for decimals in (3, 2, 1, 0):
        rate = Fraction(round(fps * 10**decimals), 10**decimals)
        if 0 < rate.numerator <= MAX_TIME_BASE:
            return float(rate)
    return fps


class VideoFileWriter:
    """An mp4v video written frame by frame at one size, checked once released: it must open and hold every frame.

    ``path`` is the file written, ``name`` what messages call it (its final name, not the temporary one). OpenCV's
    writer drops a frame of another size and logs a failed write (a full disk, a file-size limit) without raising,
    leaving a file that holds fewer frames, or none a player can open; :meth:`check` turns that into an error.
    """

    def __init__(self, path: Path, fps: float, size: tuple[int, int], name: Path | None = None) -> None:
        self.path, self.size, self.name = path, size, name or path
        self.fps = writable_fps(fps)
        self.frames = 0
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size)
        if not self._writer.isOpened():
            self._writer.release()
            if _writes_mp4v(path.parent):
                cause = "the encoder refuses this frame size or rate"
            else:
                cause = "this OpenCV build writes no mp4v (the pinned opencv-contrib-python-headless does: install it)"
            raise VideoWriteError(
                f"OpenCV cannot write the annotated video {self.name} (mp4v, {size[0]}x{size[1]} at {fps:g} frames/s): {cause}; "
                "pass --no-video to write the CSV, timeline and summary only"
            )

    def write(self, frame_bgr: np.ndarray) -> None:
        """Append ``frame_bgr`` (uint8 ``(H, W, 3)``); a frame of another size than the first is resized to it, so the
        video keeps every frame of a stream that changes size."""
        if (frame_bgr.shape[1], frame_bgr.shape[0]) != self.size:
            frame_bgr = cv2.resize(frame_bgr, self.size, interpolation=cv2.INTER_AREA)
        self._writer.write(frame_bgr)
        self.frames += 1

    def release(self) -> None:
        """Finish the file (writes the mp4 index); calling it again does nothing."""
        self._writer.release()

    def check(self) -> None:
        """After :meth:`release`: :class:`VideoWriteError` naming the file and the likely cause unless it opens and
        holds every frame written."""
        capture = cv2.VideoCapture(str(self.path))
        held = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else None
        capture.release()
        if held == self.frames:
            return
        what = "no video a player can open" if held is None else f"only {held} of its {self.frames} frames"
        raise VideoWriteError(f"The annotated video {self.name} was not written completely ({what}): {_write_failure_cause(self.path)}")


def _writes_mp4v(folder: Path) -> bool:
    """Whether this OpenCV build writes mp4v at all (a small video at a common rate, in ``folder``)."""
    with tempfile.TemporaryDirectory(dir=folder) as probe:
        writer = cv2.VideoWriter(str(Path(probe) / "probe.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48))
        opened = writer.isOpened()
        writer.release()
    return opened


def _write_failure_cause(path: Path) -> str:
    """Why ``path`` stopped growing, as far as can be told afterwards, and the fix."""
    size = path.stat().st_size if path.is_file() else 0
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and size >= limit:
        return f"it reached this process's file-size limit of {limit} bytes (ulimit -f); raise the limit, or pass --no-video"
    free_mb = shutil.disk_usage(path.parent).free / 1e6
    if free_mb < 100:  # measured while this run's temporary files still take their space
        return f"the disk holding {path.parent} is full ({free_mb:.0f} MB free); free space there or pass --out DIR on another disk"
    return f"OpenCV's encoder stopped writing ({free_mb:.0f} MB are free, so not for lack of space); pass --no-video to skip the video"
