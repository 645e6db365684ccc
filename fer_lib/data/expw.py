"""ExpW, the Expression in-the-Wild dataset (Zhang, Luo, Loy & Tang, "From facial expression recognition to
interpersonal relation prediction", IJCV 2018): 91,793 labelled faces in web images, 7 classes in the FER2013 order.

Layout accepted (the download's ``data/`` folder, given as itself or its parent ``ExpW/``):

* ``label/label.lst``: one face a line, ``image_name face_id_in_image face_box_top face_box_left
  face_box_right face_box_bottom face_box_cofidence expression_label`` (integers but the confidence); expression 0..6 = angry, disgust, fear, happy, sad,
  surprise, neutral (:data:`fer_lib.data.labels.EXPW_CLASSES`);
* ``image/origin/<image_name>``: the whole images (unpacked from ``origin.7z.00*``).

Each face box is cropped (clipped to the image) and resized to ``image_size``. An image may hold several faces:
the sample id is ``<image_name>#<face_id>``. The detector confidence is kept in ``meta["confidence"]``.
Split: ``all`` only (ExpW has no official split; splits code carves train/val/test). No subject ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import Color, read_face_crops
from .labels import EXPW_CLASSES
from .protocols import RandomHoldout
from .registry import DatasetSpec, register_dataset

DEFAULT_SIZE = 112
LABEL_FILE = Path("label/label.lst")
IMAGE_FOLDER = Path("image/origin")
SOURCE = "http://mmlab.ie.cuhk.edu.hk/projects/socialrelation/index.html (ExpW, research use)"
FIELDS = "image_name face_id_in_image face_box_top face_box_left face_box_right face_box_bottom face_box_cofidence expression_label"


def load_expw(folder: Path, split: str = "all", image_size: int = DEFAULT_SIZE, color: Color = "rgb", use_cache: bool = True) -> FaceDataset:
    """Load every labelled ExpW face in ``folder`` (``data/`` or its parent) as a face crop."""
    if split != "all":
        raise ValueError(f"ExpW has only the split 'all' (train/val/test are carved by the splits code), not {split!r}")
    data = _data_folder(folder)
    faces = _read_label_file(data / LABEL_FILE)
    paths = [data / IMAGE_FOLDER / image for image, _, _, _, _ in faces]
    missing = sorted({path for path in paths if not path.is_file()})
    if missing:
        raise DatasetNotFoundError(f"ExpW image {missing[0]} is listed in {data / LABEL_FILE} but missing ({len(missing)} listed images missing)")
    params = {"image_size": image_size, "color": color}
    sources = [data / LABEL_FILE, *sorted(set(paths))]
    return cached_dataset("expw", params, data, sources, lambda: _build(faces, paths, image_size, color), use_cache)


def _data_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise DatasetNotFoundError(f"ExpW folder {folder} does not exist. Obtain ExpW from {SOURCE}")
    for candidate in (folder, folder / "data"):
        if (candidate / LABEL_FILE).exists() or (candidate / IMAGE_FOLDER).is_dir():
            return candidate
    raise DatasetNotFoundError(f"ExpW not found in {folder}: expected {LABEL_FILE} and {IMAGE_FOLDER}/ there or in {folder / 'data'}. Obtain ExpW from {SOURCE}")


def _read_label_file(path: Path) -> list[tuple[str, int, tuple[int, int, int, int], float, int]]:
    """``(image name, face id, (left, top, right, bottom), confidence, label)`` per line of ``label.lst``."""
    if not path.is_file():
        raise DatasetNotFoundError(f"ExpW label file {path} does not exist (it ships as data/{LABEL_FILE}). Obtain ExpW from {SOURCE}")
    faces = []
    line_of: dict[tuple[str, int], int] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{number}"
        if len(fields) != 8:
            raise DatasetFormatError(f"{where}: expected the 8 fields '{FIELDS}', got {line!r}")
        try:
            image, face_id, top, left, right, bottom, label = fields[0], *map(int, fields[1:6]), int(fields[7])
            confidence = float(fields[6])
        except ValueError:
            raise DatasetFormatError(f"{where}: fields 2-6 and 8 must be integers and field 7 a number ('{FIELDS}'), got {line!r}") from None
        if not 0 <= label < len(EXPW_CLASSES):
            raise DatasetFormatError(f"{where}: expression label {label} is out of range; ExpW labels are 0..{len(EXPW_CLASSES) - 1} {EXPW_CLASSES}")
        if (image, face_id) in line_of:
            raise DatasetFormatError(f"{where}: face {face_id} of {image} is listed again (first at line {line_of[image, face_id]}); every face must appear once")
        line_of[image, face_id] = number
        faces.append((image, face_id, (left, top, right, bottom), confidence, label))
    if not faces:
        raise DatasetFormatError(f"ExpW label file {path} lists no faces")
    return faces


def _build(faces: list[tuple[str, int, tuple[int, int, int, int], float, int]], paths: list[Path], size: int, color: Color) -> FaceDataset:
    return FaceDataset(
        name="expw",
        split="all",
        images=read_face_crops(paths, [box for _, _, box, _, _ in faces], color, size),
        labels=np.array([label for *_, label in faces], dtype=np.int64),
        class_names=EXPW_CLASSES,
        sample_ids=np.array([f"{image}#{face_id}" for image, face_id, *_ in faces]),
        meta={"confidence": np.array([confidence for _, _, _, confidence, _ in faces], dtype=np.float64)},
    )


register_dataset(
    DatasetSpec(
        name="expw",
        title="ExpW (Expression in-the-Wild)",
        load=load_expw,
        splits=("all",),
        folders=("ExpW", "expw", "ExpW/data", "expw/data"),
        markers=(str(LABEL_FILE), f"data/{LABEL_FILE}"),
        layout=f"{LABEL_FILE} + {IMAGE_FOLDER}/<image_name> (the download's data/ folder)",
        source=SOURCE,
        protocol=RandomHoldout(test_fraction=0.1),
    )
)
