"""BU-4DFE, the Binghamton University 3D dynamic facial expression database (Yin, Chen, Sun, Worm & Reale, FG 2008;
the paper's Table 1): 101 subjects, each posing the six basic expressions in a 3D video of about 100 frames
(606 sequences), each frame a 3D model with its 2D texture photograph.

Layout accepted (as distributed): one folder per subject, ``F001/`` .. ``F058/`` and ``M001/`` .. ``M043/``, each
with one folder per expression (``Angry/ Disgust/ Fear/ Happy/ Sad/ Surprise/``, any capitalisation or alias)
holding the frames ``000.jpg``, ``001.jpg``, … (the 2D textures this loader reads) beside ``000.wrl``, … (the 3D
models; not read). Entries of the data folder that are not subject folders (the ``BU_WrlViewer_V2/`` viewer that ships
with it) are named in a warning.

Each sequence starts and ends near neutral with the expression at its strongest in between (Yin et al. 2008, §3), and
the database marks no apex frame, so the ``frames_per_sequence`` frames around the middle of each sequence are taken
(as CK+ takes the last frames of its onset-to-apex sequences). The photographs are uncropped: each face is detected and
aligned (:mod:`fer_lib.data.uncropped`) and resized to ``image_size``; ``on_no_face`` says what a frame without a
detectable face does (a sequence is kept or left out whole). ``meta`` holds each image's ``sequence`` and ``frame``.

Split: ``all`` only. BU-4DFE has no official split: subject-independent k-fold is built from ``subjects``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import Color
from .labels import BU4DFE_CLASSES, class_index
from .layout import IMAGE_EXTENSIONS, subject_folders
from .registry import DatasetSpec, register_dataset
from .uncropped import NoFace, align_units, check_on_no_face

SOURCE = "https://www.cs.binghamton.edu/~lijun/Research/3DFE/3DFE_Analysis.html (BU-4DFE, research licence on request)"
SUBJECT = re.compile(r"[FM]\d{3}")
FRAME = re.compile(r"\d+")


def load_bu4dfe(
    folder: Path,
    split: str = "all",
    image_size: int = 48,
    color: Color = "gray",
    frames_per_sequence: int = 3,
    use_cache: bool = True,
    on_no_face: NoFace = "raise",
) -> FaceDataset:
    """Load the middle ``frames_per_sequence`` frames of every BU-4DFE sequence in ``folder``, faces aligned; see
    the module docstring."""
    if split != "all":
        raise ValueError(f"BU-4DFE has only the split 'all' (k-fold splits are built from subjects), not {split!r}")
    if not isinstance(frames_per_sequence, int) or isinstance(frames_per_sequence, bool) or frames_per_sequence < 1:
        raise ValueError(f"frames_per_sequence must be an integer >= 1, got {frames_per_sequence!r}")
    check_on_no_face(on_no_face)
    sequences = _scan(folder, frames_per_sequence)
    params = {"image_size": image_size, "color": color, "frames": frames_per_sequence, "on_no_face": on_no_face}
    paths = [path for _, _, frames in sequences for path in frames]
    return cached_dataset("bu4dfe", params, folder, paths, lambda: _build(folder, sequences, image_size, color, on_no_face), use_cache)


def _scan(folder: Path, frames_per_sequence: int) -> list[tuple[str, int, list[Path]]]:
    """``(subject, label, middle frames)`` per sequence, by subject and expression."""
    sequences = []
    for subject in subject_folders(folder, SUBJECT, "BU-4DFE", "F001/ .. M043/", SOURCE):
        for expression in sorted((e for e in os.scandir(subject) if e.is_dir()), key=lambda e: e.name):
            label = class_index(expression.name, BU4DFE_CLASSES, expression.path)
            sequences.append((subject.name.upper(), label, _middle_frames(Path(expression.path), frames_per_sequence)))
    if not sequences:
        raise DatasetFormatError(f"BU-4DFE under {folder}: the subject folders hold no expression folder (Angry/ .. Surprise/)")
    return sequences


def _middle_frames(sequence: Path, count: int) -> list[Path]:
    """The ``count`` frames around the middle of ``sequence`` (its numbered texture images, in frame order)."""
    frames = sorted(
        (sequence / name for name in os.listdir(sequence) if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS and FRAME.fullmatch(os.path.splitext(name)[0])),
        key=lambda path: int(path.stem),
    )
    if len(frames) < count:
        raise DatasetNotFoundError(f"BU-4DFE sequence {sequence} holds {len(frames)} numbered frame images (000.jpg, …); {count} are taken from each")
    start = (len(frames) - count) // 2
    return frames[start : start + count]


def _build(folder: Path, sequences: list[tuple[str, int, list[Path]]], size: int, color: Color, on_no_face: NoFace) -> FaceDataset:
    faces, kept = align_units(folder, [frames for _, _, frames in sequences], size, color, on_no_face, "bu4dfe", "BU-4DFE")
    chosen = [(subject, label, path) for index in kept for subject, label, frames in [sequences[index]] for path in frames]
    return FaceDataset(
        name="bu4dfe",
        split="all",
        images=faces,
        labels=np.array([label for _, label, _ in chosen], dtype=np.int64),
        class_names=BU4DFE_CLASSES,
        sample_ids=np.array([path.relative_to(folder).as_posix() for _, _, path in chosen]),
        subjects=np.array([subject for subject, _, _ in chosen]),
        meta={
            "sequence": np.array([f"{subject}/{path.parent.name}" for subject, _, path in chosen]),
            "frame": np.array([int(path.stem) for _, _, path in chosen], dtype=np.int64),
        },
    )


register_dataset(
    DatasetSpec(
        name="bu4dfe",
        title="BU-4DFE",
        load=load_bu4dfe,
        splits=("all",),
        folders=("BU-4DFE", "BU4DFE", "bu4dfe"),
        markers=tuple(f"[A-Z][0-9][0-9][0-9]/{name}" for name in ("angry", "disgust", "fear", "happy", "sad", "surprise")),
        layout="<subject>/<Expression>/<frame>.jpg per sequence (F001/Angry/000.jpg), beside the 3D .wrl files",
        source=SOURCE,
    )
)
