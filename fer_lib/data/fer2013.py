"""FER2013 (Goodfellow et al., ICML 2013 representation-learning challenge), 48×48 grey faces, 7 classes.

Layouts accepted (all give the official Training / PublicTest / PrivateTest split):

* Kaggle image folders: ``train/<class>/Training_<id>.jpg`` and ``test/<class>/{PublicTest,PrivateTest}_<id>.jpg``
* the original ``fer2013.csv`` (columns ``emotion,pixels,Usage``)
* ``icml_face_data.csv`` (columns ``emotion, Usage, pixels``; note the spaces)

Splits: ``train`` = Training (28,709), ``val`` = PublicTest (3,589, used for honest model selection),
``test`` = PrivateTest (3,589), ``all``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import Color, read_images, resize_square
from .labels import FER2013_CLASSES
from .layout import scan_class_folders
from .protocols import OfficialSplit
from .registry import DatasetSpec, register_dataset

USAGE = {"train": ("Training",), "val": ("PublicTest",), "test": ("PrivateTest",), "all": ("Training", "PublicTest", "PrivateTest")}
CSV_FILES = ("fer2013.csv", "icml_face_data.csv")
NATIVE_SIZE = 48
ROW_FIX = "the file is damaged or was edited: re-download it or correct that row"


def load_fer2013(folder: Path, split: str, image_size: int = NATIVE_SIZE, color: Color = "gray", use_cache: bool = True) -> FaceDataset:
    """Load FER2013 from ``folder`` (image folders preferred, else one of the CSV files).

    The whole dataset is decoded and cached once; a split is a row selection on the ``usage`` column.
    """
    params = {"image_size": image_size, "color": color}
    if (folder / "train").is_dir() or (folder / "test").is_dir():
        samples = _scan_image_folders(folder)
        paths = [p for p, _, _ in samples]
        full = cached_dataset("fer2013", params, folder, paths, lambda: _from_image_folders(folder, samples, image_size, color), use_cache)
    else:
        csv = next((folder / name for name in CSV_FILES if (folder / name).exists()), None)
        if csv is None:
            raise DatasetNotFoundError(f"FER2013 under {folder}: expected train/ and test/ class folders or one of {CSV_FILES}")
        full = cached_dataset("fer2013", {**params, "csv": csv.name}, folder, [csv], lambda: _from_csv(csv, image_size, color), use_cache)
    if split == "all":
        return full
    return full.subset(np.flatnonzero(np.isin(full.meta["usage"], USAGE[split])), split=split)


def _scan_image_folders(folder: Path) -> list[tuple[Path, int, str]]:
    samples = []
    for top in ("train", "test"):
        if not (folder / top).is_dir():
            raise DatasetNotFoundError(f"FER2013 image-folder layout needs {folder / top}/<class>/ (Kaggle 'fer2013' download)")
        for path, label in scan_class_folders(folder / top, FER2013_CLASSES):
            usage = path.name.split("_", 1)[0]
            allowed = ("Training",) if top == "train" else ("PublicTest", "PrivateTest")
            if usage not in allowed:
                raise DatasetFormatError(f"Unexpected file {path}: files in {top}/ are named {'/'.join(allowed)}_<id>.jpg")
            samples.append((path, label, usage))
    _require_all_usages({usage for _, _, usage in samples}, "images", folder)
    return samples


def _require_all_usages(found: set[str], unit: str, source: Path) -> None:
    # Checked for every split: the official split always has all three parts, so a copy without one is incomplete.
    absent = [usage for usage in USAGE["all"] if usage not in found]
    if absent:
        raise DatasetFormatError(
            f"no {'/'.join(absent)} {unit} in {source}: the official split needs Training, PublicTest and PrivateTest; "
            "a partial download or unzip? re-download it"
        )


def _from_image_folders(folder: Path, samples: list[tuple[Path, int, str]], size: int, color: Color) -> FaceDataset:
    paths = [p for p, _, _ in samples]
    return FaceDataset(
        name="fer2013",
        split="all",
        images=read_images(paths, color, size),
        labels=np.array([label for _, label, _ in samples], dtype=np.int64),
        class_names=FER2013_CLASSES,
        sample_ids=np.array([str(p.relative_to(folder)) for p in paths]),
        meta={"usage": np.array([u for _, _, u in samples])},
    )


def _from_csv(csv: Path, size: int, color: Color) -> FaceDataset:
    # Row numbers in messages are the file's line numbers as a spreadsheet shows them (the header is row 1).
    try:
        # keep_default_na=False: an empty or short cell reads as "" (reported as such), not as a float NaN.
        table = pd.read_csv(csv, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as error:
        raise DatasetFormatError(f"{csv} cannot be read as a CSV ({error}); expected a header emotion,pixels,Usage: re-download it") from error
    table.columns = [c.strip() for c in table.columns]
    missing = {"emotion", "pixels", "Usage"} - set(table.columns)
    if missing:
        raise DatasetFormatError(f"{csv} lacks the columns {sorted(missing)}; expected emotion,pixels,Usage")
    unknown = table["Usage"][~table["Usage"].isin(USAGE["all"])]
    if len(unknown):
        row = unknown.index[0]
        raise DatasetFormatError(
            f"{csv} row {row + 2}: unknown Usage values {sorted(set(unknown))} ({len(unknown)} such rows); expected {USAGE['all']}: {ROW_FIX}"
        )
    rows = table.index
    labels = pd.to_numeric(table.loc[rows, "emotion"], errors="coerce")
    bad = labels[(labels.isna()) | (labels < 0) | (labels >= len(FER2013_CLASSES)) | (labels % 1 != 0)]
    if len(bad):
        row = bad.index[0]
        raise DatasetFormatError(
            f"{csv} row {row + 2}: emotion {table.at[row, 'emotion']!r} is not a label id 0..6 ({len(bad)} such rows): {ROW_FIX}"
        )
    images = np.empty((len(rows), NATIVE_SIZE, NATIVE_SIZE), np.uint8)
    for i, row in enumerate(rows):
        tokens = table.at[row, "pixels"].split()
        try:
            values = np.array(tokens, dtype=np.int64)
        except ValueError:
            token = next(t for t in tokens if not t.removeprefix("-").isdecimal())  # one token is no integer
            raise DatasetFormatError(f"{csv} row {row + 2}: pixels must be 2304 integers in 0..255, got {token!r}: {ROW_FIX}") from None
        if values.size != NATIVE_SIZE * NATIVE_SIZE:
            raise DatasetFormatError(f"{csv} row {row + 2}: pixels must be 2304 integers in 0..255, got {values.size} values: {ROW_FIX}")
        if values.min() < 0 or values.max() > 255:
            value = values[(values < 0) | (values > 255)][0]
            raise DatasetFormatError(f"{csv} row {row + 2}: pixels must be 2304 integers in 0..255, got {value}: {ROW_FIX}")
        images[i] = values.reshape(NATIVE_SIZE, NATIVE_SIZE)
    _require_all_usages(set(table["Usage"]), "rows", csv)
    images = np.stack([resize_square(im[..., None], size) for im in images]) if size != NATIVE_SIZE else images[..., None]
    if color == "rgb":
        images = np.repeat(images, 3, axis=-1)
    return FaceDataset(
        name="fer2013",
        split="all",
        images=images,
        labels=labels.to_numpy(np.int64),
        class_names=FER2013_CLASSES,
        sample_ids=np.array([f"{csv.name}#row{row + 2}" for row in rows]),
        meta={"usage": table.loc[rows, "Usage"].to_numpy(str)},
    )


register_dataset(
    DatasetSpec(
        name="fer2013",
        title="FER2013",
        load=load_fer2013,
        splits=("train", "val", "test", "all"),
        split_aliases={"Training": "train", "PublicTest": "val", "PrivateTest": "test"},
        folders=("fer2013", "FER2013"),
        markers=("train/happy", "fer2013.csv", "icml_face_data.csv"),
        layout="train/<class>/Training_*.jpg + test/<class>/{PublicTest,PrivateTest}_*.jpg, or fer2013.csv / icml_face_data.csv",
        source="https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge/data",
        protocol=OfficialSplit(train="train", val="val", test="test", test_label="PrivateTest"),
    )
)
