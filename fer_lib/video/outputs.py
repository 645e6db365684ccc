"""The video pipeline's files: written under temporary names, renamed to their final names only when all succeeded.

A run that fails or is interrupted leaves no file under a final name that looks complete: the per-frame table
(CSV, streamed row by row), the annotated video (mp4v in an ``.mp4``) and the timeline figure are written as
``.<name>.partial<suffix>`` and moved into place with ``os.replace`` once everything is written.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Sequence

import cv2
import numpy as np

from ..errors import ConfigError

FACE_FIELDS = ("face_id", "x", "y", "w", "h")


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

    def temporary(self, final_name: str) -> Path:
        """The temporary path for ``final_name`` (same suffix, so writers that pick a format by suffix still work)."""
        final = self.folder / final_name
        temporary = final.with_name(f".{final.stem}.partial{final.suffix}")
        self._pending[final] = temporary
        return temporary

    def commit(self) -> list[Path]:
        """Rename every temporary file to its final name; return the final paths."""
        for final, temporary in self._pending.items():
            if not temporary.is_file():
                raise RuntimeError(f"{temporary} was never written, so {final} cannot be committed")
        for final, temporary in self._pending.items():
            os.replace(temporary, final)
        finals = list(self._pending)
        self._pending.clear()
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


def open_video_writer(path: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """An mp4v ``cv2.VideoWriter`` for ``path`` at ``fps`` and ``size`` ``(width, height)``; :class:`ConfigError` if OpenCV cannot open one."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        writer.release()
        raise ConfigError(
            f"OpenCV cannot write an mp4v video to {path} ({size[0]}x{size[1]} at {fps:g} fps); pass --no-video to write the CSV and "
            "timeline only, or install the pinned opencv-contrib-python-headless (its FFmpeg writes mp4v)"
        )
    return writer
