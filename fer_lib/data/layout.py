"""Scanning the on-disk layouts that public dataset copies use (class folders of image files)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .errors import DatasetFormatError, DatasetNotFoundError
from .labels import class_index

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def scan_class_folders(folder: Path, classes: tuple[str, ...], require_all: bool = True) -> list[tuple[Path, int]]:
    """``(path, label)`` for every image in ``folder/<class>/``, sorted by path.

    Class folder names may use any alias (``anger``, ``Sadness``); an unknown folder is an error. Files
    that are not images are not silently dropped: their number is logged as a warning.
    """
    if not folder.is_dir():
        raise DatasetNotFoundError(f"Expected a folder of class sub-folders at {folder}")
    samples: list[tuple[Path, int]] = []
    seen: set[int] = set()
    ignored: list[str] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            ignored.append(entry.name)
            continue
        label = class_index(entry.name, classes, str(folder / entry.name))
        seen.add(label)
        for file in sorted(os.scandir(entry.path), key=lambda e: e.name):
            if file.name.lower().endswith(IMAGE_EXTENSIONS):
                samples.append((Path(file.path), label))
            elif not file.name.startswith("."):
                ignored.append(f"{entry.name}/{file.name}")
    if ignored:
        log.warning("%s: ignored %d entries that are not class folders or images, e.g. %s", folder, len(ignored), ignored[:3])
    missing = [classes[i] for i in range(len(classes)) if i not in seen]
    if require_all and missing:
        raise DatasetFormatError(f"{folder} lacks the class folders {missing}; expected one folder per class {classes}")
    return samples
