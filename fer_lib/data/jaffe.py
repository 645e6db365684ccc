"""JAFFE, the Japanese Female Facial Expression database (Lyons, Akamatsu, Kamachi & Gyoba, "Coding facial
expressions with Gabor wavelets", FG 1998): 213 grey 256×256 images of 10 subjects posing 7 expressions.

Layout accepted: one flat folder (``jaffedbase/`` as unpacked from the download, or ``jaffe/`` / ``JAFFE/``) of
``<subject>.<CODE><take>.<number>.tiff`` files, e.g. ``KA.AN1.39.tiff`` = subject KA, anger, take 1, photo 39.
Codes: AN DI FE HA NE SA SU (see :data:`fer_lib.data.labels.JAFFE_CODES`). Some TIFFs are palette images;
:func:`fer_lib.data.io.decode_image` returns their grey values. Other files in the folder (README, rating
tables) are ignored and counted in a log message.

Split: ``all`` only. JAFFE has no official split: subject-independent k-fold is built by the splits code
from ``subjects`` (the two-letter prefix).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import Color, read_images
from .labels import JAFFE_CLASSES, JAFFE_CODES
from .layout import IMAGE_EXTENSIONS
from .registry import DatasetSpec, register_dataset

log = logging.getLogger(__name__)
NATIVE_SIZE = 256
SOURCE = "https://zenodo.org/record/3451524 (JAFFE, non-commercial research; request access on Zenodo)"
FILE_NAME = re.compile(r"(?P<subject>[A-Z]{2})\.(?P<code>[A-Z]{2})(?P<take>\d+)\.(?P<number>\d+)")


def load_jaffe(folder: Path, split: str = "all", image_size: int = NATIVE_SIZE, color: Color = "gray", use_cache: bool = True) -> FaceDataset:
    """Load every JAFFE image in ``folder``; ``subjects`` are the two-letter name prefixes."""
    if split != "all":
        raise ValueError(f"JAFFE has only the split 'all' (k-fold splits are built from subjects), not {split!r}")
    samples = _scan(folder)
    paths = [path for path, _, _ in samples]
    params = {"image_size": image_size, "color": color}
    return cached_dataset("jaffe", params, folder, paths, lambda: _build(samples, image_size, color), use_cache)


def _scan(folder: Path) -> list[tuple[Path, int, str]]:
    """``(path, label, subject)`` per image file, sorted by name; file names are checked against the JAFFE pattern."""
    if not folder.is_dir():
        raise DatasetNotFoundError(f"JAFFE folder {folder} does not exist; expected a folder of KA.AN1.39.tiff-style files. Obtain it from {SOURCE}")
    samples: list[tuple[Path, int, str]] = []
    first_of_stem: dict[str, str] = {}
    ignored: list[str] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        stem, extension = os.path.splitext(entry.name)
        if entry.name.startswith(".") or not entry.is_file() or extension.lower() not in IMAGE_EXTENSIONS:
            ignored.append(entry.name)
            continue
        match = FILE_NAME.fullmatch(stem)
        if match is None:
            raise DatasetFormatError(f"JAFFE image {entry.path} is not named <subject>.<CODE><take>.<number>.tiff (e.g. KA.AN1.39.tiff)")
        code = match["code"]
        if code not in JAFFE_CODES:
            raise DatasetFormatError(f"JAFFE image {entry.path} has the expression code {code!r}; expected one of {sorted(JAFFE_CODES)}")
        if stem in first_of_stem:
            raise DatasetFormatError(f"JAFFE image {stem} appears twice in {folder}: {first_of_stem[stem]} and {entry.name}")
        first_of_stem[stem] = entry.name
        samples.append((Path(entry.path), JAFFE_CLASSES.index(JAFFE_CODES[code]), match["subject"]))
    if not samples:
        raise DatasetNotFoundError(f"No JAFFE images (<subject>.<CODE><take>.<number>.tiff) in {folder}. Obtain JAFFE from {SOURCE}")
    if ignored:
        log.warning("JAFFE %s: ignored %d entries that are not images, e.g. %s", folder, len(ignored), ignored[:3])
    return samples


def _build(samples: list[tuple[Path, int, str]], size: int, color: Color) -> FaceDataset:
    paths = [path for path, _, _ in samples]
    return FaceDataset(
        name="jaffe",
        split="all",
        images=read_images(paths, color, size),
        labels=np.array([label for _, label, _ in samples], dtype=np.int64),
        class_names=JAFFE_CLASSES,
        sample_ids=np.array([path.stem for path in paths]),
        subjects=np.array([subject for _, _, subject in samples]),
    )


register_dataset(
    DatasetSpec(
        name="jaffe",
        title="JAFFE",
        load=load_jaffe,
        splits=("all",),
        folders=("jaffe", "JAFFE", "jaffedbase", "jaffe/jaffedbase", "JAFFE/jaffedbase"),
        # Any file named as _scan accepts (FILE_NAME with an image extension), so a .tif or partial copy is found too.
        markers=tuple(f"[A-Z][A-Z].[A-Z][A-Z][0-9]*.[0-9]*{extension}" for extension in IMAGE_EXTENSIONS),
        layout="a flat folder of <subject>.<CODE><take>.<number>.tiff files (e.g. KA.AN1.39.tiff)",
        source=SOURCE,
    )
)
