"""RAF-DB basic (Li, Deng & Du, "Reliable crowdsourcing and deep locality-preserving learning for expression
recognition in the wild", CVPR 2017): 15,339 in-the-wild faces in 7 classes, official split train 12,271 / test 3,068.

Layout accepted: the ``basic/`` part of the download, given as ``basic/`` itself or its parent (``RAF-DB/``):

* ``EmoLabel/list_patition_label.txt`` (the file name is misspelt in the release): lines ``train_00001.jpg 5``
  and ``test_0001.jpg 1``; labels 1..7 = surprise, fear, disgust, happy, sad, angry, neutral
  (:data:`fer_lib.data.labels.RAFDB_CLASSES`, stored 0-based);
* ``Image/aligned/<name>_aligned.jpg``: the 100×100 RGB aligned faces (``aligned=True``, the default and the
  input of published RAF-DB numbers), or ``Image/original/<name>.jpg`` with ``aligned=False``: the whole web
  images, resized (not cropped) to ``image_size``.

Splits: ``train`` and ``test`` (official, from the name prefix), ``all``. A validation split is carved from
``train`` by the splits code. RAF-DB has no subject ids.
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
from .labels import RAFDB_CLASSES
from .protocols import OfficialSplit
from .registry import DatasetSpec, register_dataset

log = logging.getLogger(__name__)
NATIVE_SIZE = 100
LABEL_FILE = Path("EmoLabel/list_patition_label.txt")
SOURCE = "http://www.whdeng.cn/RAF/model1.html (RAF-DB, research use; request access from the authors)"
NAME = re.compile(r"(?P<split>train|test)_\d+\.jpg")


def load_rafdb(
    folder: Path, split: str, image_size: int = NATIVE_SIZE, color: Color = "rgb", aligned: bool = True, use_cache: bool = True
) -> FaceDataset:
    """Load RAF-DB basic from ``folder`` (``basic/`` or its parent); the whole set is cached, a split is a row selection."""
    basic = _basic_folder(folder)
    rows = _read_label_file(basic / LABEL_FILE)
    paths = _image_paths(basic, [name for name, _, _ in rows], aligned)
    params = {"image_size": image_size, "color": color, "aligned": aligned}
    full = cached_dataset("rafdb", params, basic, [basic / LABEL_FILE, *paths], lambda: _build(rows, paths, image_size, color), use_cache)
    if split == "all":
        return full
    return full.subset(np.flatnonzero(full.meta["split"] == split), split=split)


def _basic_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise DatasetNotFoundError(f"RAF-DB folder {folder} does not exist. Obtain RAF-DB from {SOURCE}")
    if (folder / LABEL_FILE).exists() or (folder / "Image").is_dir():
        return folder
    if (folder / "basic").is_dir():
        return folder / "basic"
    raise DatasetNotFoundError(f"RAF-DB basic not found in {folder}: expected {LABEL_FILE} and Image/aligned/ there or in {folder / 'basic'}")


def _read_label_file(path: Path) -> list[tuple[str, int, str]]:
    """``(image name, 0-based label, split)`` per line of ``list_patition_label.txt``, in file order."""
    if not path.is_file():
        raise DatasetNotFoundError(f"RAF-DB label file {path} does not exist (it ships in basic/EmoLabel/). Obtain RAF-DB from {SOURCE}")
    rows: list[tuple[str, int, str]] = []
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


def _build(rows: list[tuple[str, int, str]], paths: list[Path], size: int, color: Color) -> FaceDataset:
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
        markers=(str(LABEL_FILE), f"basic/{LABEL_FILE}"),
        layout=f"{LABEL_FILE} + Image/aligned/<name>_aligned.jpg (in basic/ or its parent)",
        source=SOURCE,
        protocol=OfficialSplit(train="train", test="test", test_label="official test split"),
    )
)
