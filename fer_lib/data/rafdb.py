"""RAF-DB basic (Li, Deng & Du, "Reliable crowdsourcing and deep locality-preserving learning for expression
recognition in the wild", CVPR 2017): 15,339 in-the-wild faces in 7 classes, official split train 12,271 / test 3,068.

Layouts accepted:

* the release's ``basic/`` part, given as ``basic/`` itself or its parent (``RAF-DB/``):

  * ``EmoLabel/list_patition_label.txt`` (the file name is misspelt in the release): lines ``train_00001.jpg 5``
    and ``test_0001.jpg 1``; labels 1..7 = surprise, fear, disgust, happy, sad, angry, neutral
    (:data:`fer_lib.data.labels.RAFDB_CLASSES`, stored 0-based);
  * ``Image/aligned/<name>_aligned.jpg``: the 100×100 RGB aligned faces (``aligned=True``, the default and the
    input of published RAF-DB numbers), or ``Image/original/<name>.jpg`` with ``aligned=False``: the whole web
    images, resized (not cropped) to ``image_size``.

* the Kaggle copy (``shuvoalok/raf-db-dataset``), given as its ``DATASET/`` folder or the parent of it:
  ``DATASET/train/<1..7>/train_00001_aligned.jpg`` and ``DATASET/test/<1..7>/test_0001_aligned.jpg``, each class
  folder named by the release's label id 1..7. ``train_labels.csv`` and ``test_labels.csv`` (columns
  ``image,label``) beside ``DATASET/`` are optional; when present they must list the same images with the same
  labels as the folders. The copy holds the aligned faces only. Sample ids are the release's names
  (``train_00001.jpg``), sorted by name within each split.

Splits: ``train`` and ``test`` (official: the name prefix, or the Kaggle ``train/`` and ``test/`` folders; a copy
must hold both), ``all``. A validation split is carved from ``train`` by the splits code. RAF-DB has no subject ids.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import Color, read_images
from .labels import RAFDB_CLASSES
from .layout import scan_class_folders, warn_absent_classes
from .protocols import OfficialSplit
from .registry import DatasetSpec, register_dataset

log = logging.getLogger(__name__)
NATIVE_SIZE = 100
LABEL_FILE = Path("EmoLabel/list_patition_label.txt")
SOURCE = "http://www.whdeng.cn/RAF/model1.html (RAF-DB, research use; request access from the authors)"
SPLITS = ("train", "test")
NAME = re.compile(r"(?P<split>train|test)_\d+\.jpg")
KAGGLE_FOLDER = "DATASET"
KAGGLE_NAME = re.compile(r"(?P<split>train|test)_\d+_aligned\.jpg")
KAGGLE_HEADER = "image,label"

Row = tuple[str, int, str]  # (release image name, 0-based label, split)


def load_rafdb(
    folder: Path, split: str, image_size: int = NATIVE_SIZE, color: Color = "rgb", aligned: bool = True, use_cache: bool = True
) -> FaceDataset:
    """Load RAF-DB basic from ``folder`` (``basic/`` or its parent, or the Kaggle ``DATASET/`` or its parent).

    The whole set is cached, a split is a row selection.
    """
    if not folder.is_dir():
        raise DatasetNotFoundError(f"RAF-DB folder {folder} does not exist. Obtain RAF-DB from {SOURCE}")
    params = {"image_size": image_size, "color": color, "aligned": aligned}
    basic, kaggle = _basic_folder(folder), _kaggle_folder(folder)
    if basic is not None:
        full = _load_release(basic, params, use_cache)
    elif kaggle is not None:
        full = _load_kaggle(kaggle, params, use_cache)
    else:
        raise DatasetNotFoundError(
            f"RAF-DB basic not found in {folder}: expected {LABEL_FILE} and Image/aligned/ there or in {folder / 'basic'}, "
            f"or the Kaggle copy's {KAGGLE_FOLDER}/train/<1..7>/ and {KAGGLE_FOLDER}/test/<1..7>/ (given as {KAGGLE_FOLDER}/ or its parent). "
            f"Obtain RAF-DB from {SOURCE}"
        )
    if split == "all":
        return full
    return full.subset(np.flatnonzero(full.meta["split"] == split), split=split)


def _basic_folder(folder: Path) -> Path | None:
    if (folder / LABEL_FILE).exists() or (folder / "Image").is_dir():
        return folder
    if (folder / "basic").is_dir():
        return folder / "basic"
    return None


def _kaggle_folder(folder: Path) -> Path | None:
    """The Kaggle copy's ``DATASET/``: ``folder`` itself when it holds train/ or test/, else ``folder/DATASET``."""
    if any((folder / split).is_dir() for split in SPLITS):
        return folder
    if (folder / KAGGLE_FOLDER).is_dir():
        return folder / KAGGLE_FOLDER
    return None


# --- the release's basic/ ----------------------------------------------------------------------------------------


def _load_release(basic: Path, params: dict[str, Any], use_cache: bool) -> FaceDataset:
    rows = _read_label_file(basic / LABEL_FILE)
    paths = _image_paths(basic, [name for name, _, _ in rows], params["aligned"])
    return cached_dataset(
        "rafdb", params, basic, [basic / LABEL_FILE, *paths], lambda: _build(rows, paths, params["image_size"], params["color"]), use_cache
    )


def _read_label_file(path: Path) -> list[Row]:
    """``(image name, 0-based label, split)`` per line of ``list_patition_label.txt``, in file order."""
    if not path.is_file():
        raise DatasetNotFoundError(f"RAF-DB label file {path} does not exist (it ships in basic/EmoLabel/). Obtain RAF-DB from {SOURCE}")
    rows: list[Row] = []
    line_of: dict[str, int] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{number}"
        if len(fields) != 2 or not fields[1].isdigit():
            raise DatasetFormatError(f"{where}: expected '<train|test>_<id>.jpg <label 1..7>', got {line!r}")
        name, label = fields[0], int(fields[1])
        match = NAME.fullmatch(name)
        if match is None:
            raise DatasetFormatError(f"{where}: image name {name!r} is not train_<id>.jpg or test_<id>.jpg")
        if not 1 <= label <= len(RAFDB_CLASSES):
            raise DatasetFormatError(f"{where}: label {label} of {name} is out of range; RAF-DB labels are 1..{len(RAFDB_CLASSES)} {RAFDB_CLASSES}")
        if name in line_of:
            raise DatasetFormatError(f"{where}: {name} is listed again (first at line {line_of[name]}); every image must appear once")
        line_of[name] = number
        rows.append((name, label - 1, match["split"]))
    if not rows:
        raise DatasetFormatError(f"RAF-DB label file {path} lists no images")
    # The release lists 12,271 train_ and 3,068 test_ images: a file without one of them is cut short.
    absent = [split for split in SPLITS if split not in {s for _, _, s in rows}]
    if absent:
        raise DatasetFormatError(f"RAF-DB label file {path} lists no {absent[0]}_<id>.jpg images; the official split needs train_ and test_ lines")
    return rows


def _image_paths(basic: Path, names: list[str], aligned: bool) -> list[Path]:
    """The image file of each listed name; every one must exist. Unlisted files are counted in a warning."""
    images = basic / "Image" / ("aligned" if aligned else "original")
    if not images.is_dir():
        hint = " or pass aligned=False to use Image/original" if aligned and (basic / "Image/original").is_dir() else ""
        raise DatasetNotFoundError(f"RAF-DB image folder {images} does not exist: unzip Image/{images.name}.zip there{hint}")
    files = {entry.name for entry in os.scandir(images)}
    wanted = [f"{name[: -len('.jpg')]}_aligned.jpg" if aligned else name for name in names]
    missing = [file for file in wanted if file not in files]
    if missing:
        raise DatasetNotFoundError(f"RAF-DB image {images / missing[0]} is listed in {LABEL_FILE} but missing ({len(missing)} listed images missing in {images})")
    unlisted = len(files - set(wanted))
    if unlisted:
        log.warning("RAF-DB %s: %d files are not listed in %s and are ignored", images, unlisted, LABEL_FILE)
    return [images / file for file in wanted]


# --- the Kaggle copy ---------------------------------------------------------------------------------------------


def _load_kaggle(dataset: Path, params: dict[str, Any], use_cache: bool) -> FaceDataset:
    """Labels from the class folders of ``DATASET/train`` and ``DATASET/test``, checked against the label CSVs present."""
    if not params["aligned"]:
        raise DatasetNotFoundError(
            f"The RAF-DB Kaggle copy {dataset} holds only the aligned faces: aligned=False needs the release's basic/Image/original/"
        )
    rows: list[Row] = []
    paths: list[Path] = []
    label_files: list[Path] = []
    for split in SPLITS:
        samples = _scan_kaggle_split(dataset, split)
        label_file = dataset.parent / f"{split}_labels.csv"
        if label_file.is_file():
            _check_kaggle_labels(label_file, dataset / split, samples)
            label_files.append(label_file)
        rows += [(_release_name(path), label, split) for path, label in samples]
        paths += [path for path, _ in samples]
    return cached_dataset(
        "rafdb",
        {**params, "layout": "kaggle"},
        dataset.parent,
        [*label_files, *paths],
        lambda: _build(rows, paths, params["image_size"], params["color"]),
        use_cache,
    )


def _scan_kaggle_split(dataset: Path, split: str) -> list[tuple[Path, int]]:
    """``(path, 0-based label)`` of every image in ``dataset/<split>/<1..7>/``, sorted by name."""
    folder = dataset / split
    if not folder.is_dir():
        raise DatasetNotFoundError(f"RAF-DB Kaggle copy {dataset} lacks {split}/: it holds train/<1..7>/ and test/<1..7>/")
    samples = scan_class_folders(folder, RAFDB_CLASSES, require_all=False, label_of=_kaggle_class_label)
    warn_absent_classes("RAF-DB", folder, samples, RAFDB_CLASSES)  # both public splits hold every class
    folder_of: dict[str, Path] = {}
    for path, _ in samples:
        match = KAGGLE_NAME.fullmatch(path.name)
        if match is None or match["split"] != split:
            raise DatasetFormatError(f"Unexpected file {path}: files in {split}/ are named {split}_<id>_aligned.jpg")
        if path.name in folder_of:
            raise DatasetFormatError(f"{path.name} is in both {folder_of[path.name]} and {path.parent}; every image must appear once")
        folder_of[path.name] = path.parent
    return sorted(samples, key=lambda sample: sample[0].name)


def _kaggle_class_label(name: str, where: Path) -> int:
    """0-based label of a class folder named by its RAF-DB label id 1..7."""
    if not (name.isdigit() and 1 <= int(name) <= len(RAFDB_CLASSES)):
        raise DatasetFormatError(f"Class folder {where} is not a RAF-DB label id 1..{len(RAFDB_CLASSES)} {RAFDB_CLASSES}")
    return int(name) - 1


def _release_name(path: Path) -> str:
    """``train_00001_aligned.jpg`` -> ``train_00001.jpg``, the name in the release's label file."""
    return path.name.removesuffix("_aligned.jpg") + ".jpg"


def _check_kaggle_labels(label_file: Path, folder: Path, samples: list[tuple[Path, int]]) -> None:
    """``<split>_labels.csv`` must list exactly the images of ``folder`` (the split), each with the label of its class folder."""
    in_folders = {path.name: (path, label) for path, label in samples}
    listed = _read_kaggle_label_file(label_file)
    for name, (number, label) in listed.items():
        if name not in in_folders:
            raise DatasetFormatError(f"{label_file}:{number}: {name} is listed but is in no class folder of {folder}")
        path, folder_label = in_folders[name]
        if label != folder_label:
            raise DatasetFormatError(
                f"{label_file}:{number}: {name} has label {label + 1} ({RAFDB_CLASSES[label]}) but lies in {path.parent} "
                f"({RAFDB_CLASSES[folder_label]}); the label file and the class folders disagree"
            )
    unlisted = sorted(set(in_folders) - set(listed))
    if unlisted:
        raise DatasetFormatError(f"{label_file} does not list {in_folders[unlisted[0]][0]} ({len(unlisted)} images of the class folders unlisted)")


def _read_kaggle_label_file(path: Path) -> dict[str, tuple[int, int]]:
    """``image -> (line number, 0-based label)`` of a Kaggle ``<split>_labels.csv`` (header ``image,label``, labels 1..7)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    if not lines or lines[0].replace(" ", "") != KAGGLE_HEADER:
        raise DatasetFormatError(f"{path}: expected the header {KAGGLE_HEADER!r}, got {(lines or [''])[0]!r}")
    listed: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != 2 or not fields[1].isdigit() or not 1 <= int(fields[1]) <= len(RAFDB_CLASSES):
            raise DatasetFormatError(f"{path}:{number}: expected '<image>,<label 1..{len(RAFDB_CLASSES)}>', got {line!r}")
        if fields[0] in listed:
            first = listed[fields[0]][0]
            raise DatasetFormatError(f"{path}:{number}: {fields[0]} is listed again (first at line {first}); every image must appear once")
        listed[fields[0]] = (number, int(fields[1]) - 1)
    return listed


def _build(rows: list[Row], paths: list[Path], size: int, color: Color) -> FaceDataset:
    return FaceDataset(
        name="rafdb",
        split="all",
        images=read_images(paths, color, size),
        labels=np.array([label for _, label, _ in rows], dtype=np.int64),
        class_names=RAFDB_CLASSES,
        sample_ids=np.array([name for name, _, _ in rows]),
        meta={"split": np.array([split for _, _, split in rows])},
    )


register_dataset(
    DatasetSpec(
        name="rafdb",
        title="RAF-DB (basic)",
        load=load_rafdb,
        splits=("train", "test", "all"),
        folders=("RAF-DB", "rafdb", "RAF-DB/basic", "rafdb/basic", "basic"),
        markers=(str(LABEL_FILE), f"basic/{LABEL_FILE}", *(f"{KAGGLE_FOLDER}/{split}" for split in SPLITS)),
        layout=(
            f"{LABEL_FILE} + Image/aligned/<name>_aligned.jpg (in basic/ or its parent), or the Kaggle copy "
            f"{KAGGLE_FOLDER}/{{train,test}}/<1..7>/<name>_aligned.jpg (+ train_labels.csv, test_labels.csv beside {KAGGLE_FOLDER}/)"
        ),
        source=SOURCE,
        protocol=OfficialSplit(train="train", test="test", test_label="official test split"),
    )
)
