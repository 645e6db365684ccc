"""Scanning the on-disk layouts that public dataset copies use (class folders of image files)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Callable

from .errors import DatasetFormatError, DatasetNotFoundError
from .labels import class_index

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")

FolderLabel = Callable[[str, Path], int]  # (class folder name, its path) -> label; raises DatasetFormatError if unknown


def scan_class_folders(
    folder: Path, classes: tuple[str, ...], require_all: bool = True, label_of: FolderLabel | None = None
) -> list[tuple[Path, int]]:
    """``(path, label)`` for every image in ``folder/<class>/``, sorted by path.

    ``label_of`` gives a class folder's label (index into ``classes``); by default folder names may use any alias
    of a class name (``anger``, ``Sadness``). An unknown folder, two folders of one class and a copy without any
    image are errors. Files that are not images are not silently dropped: their number is logged as a warning.
    A class whose folder is missing or holds no image is an error with ``require_all``; without it, the caller (which
    knows which classes it keeps) warns about the classes absent from the result.
    """
    if not folder.is_dir():
        raise DatasetNotFoundError(f"Expected a folder of class sub-folders at {folder}")
    label_of = label_of or (lambda name, path: class_index(name, classes, str(path)))
    samples: list[tuple[Path, int]] = []
    seen: dict[int, str] = {}
    ignored: list[str] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            ignored.append(entry.name)
            continue
        label = label_of(entry.name, Path(entry.path))
        if label in seen:
            raise DatasetFormatError(f"{folder}: folders {seen[label]!r} and {entry.name!r} both hold class {classes[label]}")
        seen[label] = entry.name
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
    if not samples:
        raise DatasetFormatError(f"{folder} holds no images in its class folders {sorted(seen.values())}")
    found = {label for _, label in samples}
    empty = [name for label, name in sorted(seen.items()) if label not in found]
    if require_all and empty:
        raise DatasetFormatError(f"{folder}: the class folders {empty} hold no images: a partial download or unzip? re-extract it")
    return samples


def warn_absent_classes(title: str, folder: Path, samples: list[tuple[Path, int]], classes: tuple[str, ...]) -> None:
    """Log the ``classes`` (those the caller keeps) that have no sample in ``folder``: a copy without a class folder, or
    with an empty one (a partial download or unzip), still loads, but never silently."""
    found = {label for _, label in samples}
    absent = [name for label, name in enumerate(classes) if label not in found]
    if absent:
        log.warning("%s %s: no images of the classes %s (their class folders are missing or empty)", title, folder, absent)


def subject_folders(folder: Path, pattern: re.Pattern[str], title: str, example: str, source: str) -> list[Path]:
    """The subject folders of ``folder`` (names matching ``pattern`` in upper case; ``example`` shows the range), by
    name. The other entries (a viewer or a readme shipped beside them) are named in a warning; none at all is an error
    saying where ``title`` is obtained."""
    if not folder.is_dir():
        raise DatasetNotFoundError(f"{title} folder {folder} does not exist; expected subject folders {example}. Obtain it from {source}")
    entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")), key=lambda e: e.name)
    subjects = [Path(e.path) for e in entries if e.is_dir() and pattern.fullmatch(e.name.upper())]
    if not subjects:
        raise DatasetNotFoundError(f"{title} under {folder}: no subject folder ({example}). Obtain it from {source}")
    others = [e.name for e in entries if Path(e.path) not in subjects]
    if others:
        log.warning("%s %s: %d entries are not subject folders (%s) and are not read: %s", title, folder, len(others), example, ", ".join(others[:5]))
    return subjects
