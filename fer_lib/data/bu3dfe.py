"""BU-3DFE, the Binghamton University 3D Facial Expression database (Yin, Wei, Sun, Wang & Rosato, FG 2006; the
paper's Table 1): 100 subjects, each posing the six basic expressions at four intensities and a neutral face (2,500
3D models), each model with a frontal 2D texture photograph.

Layout accepted (as distributed): one folder per subject, ``F0001/`` .. ``F0056/`` and ``M0001/`` .. ``M0044/``,
holding per model ``<subject>_<EXPR><intensity><race>_F2D.bmp`` (the 2D texture photograph this loader reads,
512×512) beside the 3D files (``_F3D.wrl``, ``_F3D.bnd``, ``_RAW.wrl``; not read). ``EXPR`` is AN DI FE HA SA SU or
NE (neutral, intensity ``00``), ``intensity`` 01..04, ``race`` a two-letter code (WH BL AE AM LA IN). Any other file
whose name ends in ``_F2D.<image suffix>`` is an error naming it; a subject folder without any is named in a warning.

The photographs are uncropped: each face is detected and aligned (:mod:`fer_lib.data.uncropped`) and resized to
``image_size``; ``on_no_face`` says what a photograph without a detectable face does. ``intensities`` keeps those
levels of the six expressions (2D studies on BU-3DFE commonly keep the two strongest, ``(3, 4)``), ``neutral`` the
neutral faces. ``meta`` holds each image's ``intensity`` (0 for neutral), ``race`` and ``gender`` (the subject id's
F or M).

Split: ``all`` only. BU-3DFE has no official split: subject-independent k-fold is built from ``subjects``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError
from .io import Color
from .labels import BU3DFE_CLASSES, BU3DFE_CODES
from .layout import IMAGE_EXTENSIONS, subject_folders
from .registry import DatasetSpec, register_dataset
from .uncropped import NoFace, align_units, check_on_no_face

log = logging.getLogger(__name__)
SOURCE = "https://www.cs.binghamton.edu/~lijun/Research/3DFE/3DFE_Analysis.html (BU-3DFE, research licence on request)"
SUBJECT = re.compile(r"[FM]\d{4}")
TEXTURE = re.compile(r"(?P<subject>[FM]\d{4})_(?P<code>[A-Z]{2})(?P<intensity>\d{2})(?P<race>[A-Z]{2})_F2D", re.IGNORECASE)
TEXTURE_SUFFIX = "_F2D"
INTENSITIES = (1, 2, 3, 4)


def load_bu3dfe(
    folder: Path,
    split: str = "all",
    image_size: int = 48,
    color: Color = "gray",
    intensities: tuple[int, ...] | list[int] = INTENSITIES,
    neutral: bool = True,
    use_cache: bool = True,
    on_no_face: NoFace = "raise",
) -> FaceDataset:
    """Load the 2D texture photographs of BU-3DFE in ``folder``, faces aligned; see the module docstring."""
    if split != "all":
        raise ValueError(f"BU-3DFE has only the split 'all' (k-fold splits are built from subjects), not {split!r}")
    if not isinstance(intensities, (list, tuple)) or not intensities or any(level not in INTENSITIES for level in intensities):
        raise ValueError(f"intensities must be a list of levels among {INTENSITIES}, got {intensities!r}")
    wanted = tuple(sorted(set(intensities)))
    check_on_no_face(on_no_face)
    samples = [s for s in _scan(folder) if (s.intensity in wanted if s.code != "NE" else neutral)]
    if not samples:
        raise DatasetFormatError(f"BU-3DFE under {folder}: no photograph of intensities {wanted}{' or neutral' if neutral else ''}")
    params = {"image_size": image_size, "color": color, "intensities": wanted, "neutral": neutral, "on_no_face": on_no_face}
    paths = [s.path for s in samples]
    return cached_dataset("bu3dfe", params, folder, paths, lambda: _build(folder, samples, image_size, color, on_no_face), use_cache)


@dataclass(frozen=True)
class _Photo:
    """One ``_F2D`` photograph: its path and what its name says."""

    path: Path
    subject: str
    code: str
    intensity: int
    race: str


def _scan(folder: Path) -> list[_Photo]:
    """The ``_F2D`` photographs of every subject folder, by subject and name; names are checked against the scheme."""
    photos: list[_Photo] = []
    for subject in subject_folders(folder, SUBJECT, "BU-3DFE", "F0001/ .. M0044/", SOURCE):
        found = [_photo(subject / name, subject.name) for name in sorted(os.listdir(subject)) if _is_texture(name)]
        if not found:
            log.warning("BU-3DFE subject folder %s holds no *%s image: no photograph of that subject is loaded", subject, TEXTURE_SUFFIX)
        photos += found
    return photos


def _is_texture(name: str) -> bool:
    stem, suffix = os.path.splitext(name)
    return suffix.lower() in IMAGE_EXTENSIONS and stem.upper().endswith(TEXTURE_SUFFIX)


def _photo(path: Path, subject_folder: str) -> _Photo:
    match = TEXTURE.fullmatch(path.stem)
    if match is None:
        raise DatasetFormatError(f"Unexpected BU-3DFE file {path}: texture photographs are named <subject>_<EXPR><intensity><race>_F2D, e.g. F0001_AN01WH_F2D.bmp")
    photo = _Photo(path, match["subject"].upper(), match["code"].upper(), int(match["intensity"]), match["race"].upper())
    if photo.subject != subject_folder.upper():
        raise DatasetFormatError(f"BU-3DFE file {path} names subject {photo.subject} but lies in the folder of {subject_folder}")
    if photo.code not in BU3DFE_CODES:
        raise DatasetFormatError(f"BU-3DFE file {path}: expression code {photo.code} is not one of {sorted(BU3DFE_CODES)}")
    neutral = photo.code == "NE"
    if not (photo.intensity == 0 if neutral else photo.intensity in INTENSITIES):
        raise DatasetFormatError(f"BU-3DFE file {path}: intensity {photo.intensity:02d} is not {'00 (neutral)' if neutral else 'one of 01..04'}")
    return photo


def _build(folder: Path, photos: list[_Photo], size: int, color: Color, on_no_face: NoFace) -> FaceDataset:
    faces, kept = align_units(folder, [[p.path] for p in photos], size, color, on_no_face, "bu3dfe", "BU-3DFE")
    chosen = [photos[i] for i in kept]
    return FaceDataset(
        name="bu3dfe",
        split="all",
        images=faces,
        labels=np.array([BU3DFE_CLASSES.index(BU3DFE_CODES[p.code]) for p in chosen], dtype=np.int64),
        class_names=BU3DFE_CLASSES,
        sample_ids=np.array([p.path.relative_to(folder).as_posix() for p in chosen]),
        subjects=np.array([p.subject for p in chosen]),
        meta={
            "intensity": np.array([p.intensity for p in chosen], dtype=np.int64),
            "race": np.array([p.race for p in chosen]),
            "gender": np.array([p.subject[0] for p in chosen]),
        },
    )


register_dataset(
    DatasetSpec(
        name="bu3dfe",
        title="BU-3DFE",
        load=load_bu3dfe,
        splits=("all",),
        folders=("BU-3DFE", "BU3DFE", "bu3dfe"),
        markers=("[A-Z][0-9][0-9][0-9][0-9]/*_F2D.*",),  # F0001/F0001_AN01WH_F2D.bmp
        layout="<subject>/<subject>_<EXPR><intensity><race>_F2D.bmp per model (F0001/F0001_AN01WH_F2D.bmp), beside the 3D files",
        source=SOURCE,
    )
)
