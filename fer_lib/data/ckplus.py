"""CK+ (Lucey et al., CVPR-W 2010): posed expression sequences, 123 subjects, 327 labelled sequences.

Layouts accepted:

* ``CK+48/<class>/S<subject>_<sequence>_<frame>.png`` — the widely shared 48×48 crop of the last three
  frames of each labelled sequence (981 images, 7 classes incl. contempt, 118 subjects).
* the full release: ``cohn-kanade-images/S005/001/S005_001_00000011.png`` with
  ``Emotion/S005/001/S005_001_00000011_emotion.txt`` (one float code 1..7; 0 = neutral is never a sequence
  label). The last ``frames_per_sequence`` frames of each labelled sequence are taken (as CK+48 does), the
  face is detected and aligned (:func:`fer_lib.preprocess.align_face`) and resized to ``image_size``. A frame
  without a detectable face is an error; ``on_no_face="skip"`` leaves out its sequence with a logged warning.

Folder names are matched ignoring case (``ck+48/Contempt/``, ``Emotion/``), as the registry's markers are.

CK+ has no official split: evaluation is subject-independent k-fold (:func:`fer_lib.data.splits.subject_kfold`).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import Color, read_images
from .labels import CKPLUS_CLASSES
from .layout import scan_class_folders
from .registry import DatasetSpec, find_path, register_dataset
from .uncropped import NoFace, align_units, check_on_no_face

CK48_NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)\.png$")
SOURCE = "https://www.jeffcohn.net/Resources/ (CK+ agreement form); CK+48 is a crop shared on Kaggle"


def load_ckplus(
    folder: Path,
    split: str,
    image_size: int = 48,
    color: Color = "gray",
    frames_per_sequence: int = 3,
    use_cache: bool = True,
    on_no_face: NoFace = "raise",
) -> FaceDataset:
    """Load CK+ from ``folder`` (``CK+48/`` preferred, else the full ``cohn-kanade-images/`` + ``Emotion/`` release).

    ``on_no_face`` applies to the full release only (CK+48 is already cropped): ``"raise"`` makes a frame without a
    detectable face a :class:`DatasetFormatError`, ``"skip"`` leaves out that frame's sequence and logs a warning naming it.
    """
    check_on_no_face(on_no_face)
    # A CK+48/ folder is the crop even when a class folder is missing (scan_class_folders then names it).
    ck48 = find_path(folder, "CK+48") or (folder if find_path(folder, "contempt") else None)
    if ck48 is not None and ck48.is_dir():
        samples = scan_class_folders(ck48, CKPLUS_CLASSES)
        params = {"layout": "CK+48", "image_size": image_size, "color": color}
        return cached_dataset("ckplus", params, folder, [p for p, _ in samples], lambda: _from_ck48(ck48, samples, image_size, color), use_cache)
    images = find_path(folder, "cohn-kanade-images")
    if images is not None and images.is_dir():
        emotion = find_path(folder, "Emotion") or folder / "Emotion"
        samples = _scan_full_release(images, emotion, frames_per_sequence)
        params = {"layout": "full", "image_size": image_size, "color": color, "frames": frames_per_sequence, "on_no_face": on_no_face}
        sources = [p for p, _ in samples] + sorted(emotion.rglob("*_emotion.txt"))
        return cached_dataset(
            "ckplus", params, folder, sources, lambda: _from_full_release(folder, samples, image_size, color, on_no_face), use_cache
        )
    raise DatasetNotFoundError(f"CK+ under {folder}: expected CK+48/<class>/ or cohn-kanade-images/ + Emotion/. Obtain it from {SOURCE}")


def _from_ck48(ck48: Path, samples: list[tuple[Path, int]], size: int, color: Color) -> FaceDataset:
    subjects = []
    for path, _ in samples:
        match = CK48_NAME.match(path.name)
        if match is None:
            raise DatasetFormatError(f"Unexpected file {path}: CK+48 files are named S<subject>_<sequence>_<frame>.png")
        subjects.append(match.group(1))
    paths = [p for p, _ in samples]
    return FaceDataset(
        name="ckplus",
        split="all",
        images=read_images(paths, color, size),
        labels=np.array([label for _, label in samples], dtype=np.int64),
        class_names=CKPLUS_CLASSES,
        sample_ids=np.array([f"{p.parent.name}/{p.name}" for p in paths]),
        subjects=np.array(subjects),
        meta={"sequence": np.array([p.name.rsplit("_", 1)[0] for p in paths])},
    )


def _scan_full_release(images: Path, emotion_root: Path, frames_per_sequence: int) -> list[tuple[Path, int]]:
    if not emotion_root.is_dir():
        raise DatasetNotFoundError(f"CK+ full release: {emotion_root} is missing (the Emotion/ label folder ships with CK+)")
    samples: list[tuple[Path, int]] = []
    for label_file in sorted(emotion_root.glob("S*/*/*_emotion.txt")):
        text = label_file.read_text().strip()
        try:
            code = int(float(text))
        except ValueError:
            raise DatasetFormatError(f"{label_file}: expected one number (emotion code 1..7), got {text[:40]!r}") from None
        if not 1 <= code <= len(CKPLUS_CLASSES):
            raise DatasetFormatError(f"{label_file}: emotion code {code} is outside 1..7")
        subject, sequence = label_file.parent.parent.name, label_file.parent.name
        frames = sorted((images / subject / sequence).glob("*.png"))
        if len(frames) < frames_per_sequence:
            raise DatasetNotFoundError(
                f"{images / subject / sequence} holds {len(frames)} frames; the labelled sequence needs >= {frames_per_sequence}"
            )
        samples += [(frame, code - 1) for frame in frames[-frames_per_sequence:]]
    if not samples:
        raise DatasetFormatError(f"{emotion_root} holds no S*/<seq>/*_emotion.txt label files")
    return samples


def _from_full_release(folder: Path, samples: list[tuple[Path, int]], size: int, color: Color, on_no_face: NoFace) -> FaceDataset:
    sequences = [list(group) for _, group in itertools.groupby(samples, key=lambda sample: sample[0].parent)]
    faces, kept_units = align_units(
        folder, [[path for path, _ in frames] for frames in sequences], size, color, on_no_face, "ckplus", "CK+", "; or use the CK+48 crop (CK+48/<class>/)"
    )
    kept = [sample for index in kept_units for sample in sequences[index]]
    return FaceDataset(
        name="ckplus",
        split="all",
        images=faces,
        labels=np.array([label for _, label in kept], dtype=np.int64),
        class_names=CKPLUS_CLASSES,
        sample_ids=np.array([str(p.relative_to(folder)) for p, _ in kept]),
        subjects=np.array([p.parent.parent.name for p, _ in kept]),
        meta={"sequence": np.array([f"{p.parent.parent.name}_{p.parent.name}" for p, _ in kept])},
    )


register_dataset(
    DatasetSpec(
        name="ckplus",
        title="CK+",
        load=load_ckplus,
        splits=("all",),
        folders=("ckplus", "CK+", "ck+"),
        markers=("CK+48", "cohn-kanade-images", "contempt"),
        layout="CK+48/<class>/S<subject>_<seq>_<frame>.png, or cohn-kanade-images/ + Emotion/",
        source=SOURCE,
    )
)
