"""AffectNet (Mollahosseini, Hasani & Mahoor, "AffectNet: A database for facial expression, valence, and arousal
computing in the wild", IEEE TAC 2017): the manually annotated part, 8 expressions (0..7, see
:data:`fer_lib.data.labels.AFFECTNET_CLASSES`) plus valence/arousal.

Layouts accepted:

* the official release: ``Manually_Annotated_file_lists/training.csv`` and ``validation.csv`` (columns
  ``subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks, expression, valence,
  arousal``; a file without the header row is read with these columns) and the images under
  ``Manually_Annotated_Images/<subDirectory_filePath>`` (also inside ``Manually_Annotated/`` or
  ``Manually_Annotated_compressed/``). Rows with expression 8/9/10 (none / uncertain / no-face) are not
  expressions and are dropped with a warning counting each reason. The face box is cropped, then resized to
  ``image_size``.
* the current official release: ``train_set/`` and ``val_set/``, each with ``images/<N>.jpg`` (224×224 face crops)
  and ``annotations/<N>_exp.npy`` (the expression id, 0..7 as in the CSVs, stored as a string or a number), with
  ``<N>_val.npy`` and ``<N>_aro.npy`` (valence and arousal, read into ``meta`` as the CSV layout's; a copy that ships
  none of them has none, one that ships some must ship them for every image; ``_lnd`` is not read). Ids 8+ and
  contempt are handled as in the CSV layout. The images are resized to ``image_size``.
* the image-folder copies (Kaggle, "AffectNet-HQ"): ``train/<class>/*.jpg`` and ``val/<class>/*.jpg`` with class
  folders named ``anger, contempt, disgust, fear, happy, neutral, sad, surprise`` (any alias) or ``0``..``7``
  (AffectNet ids), all 8 or the 7 without contempt. Kaggle copies name the split folders ``Train/`` and ``Test/``,
  or ``train/`` and ``test/``: their ``test/`` is read as the evaluation split (``val/`` wins when both exist). The
  images are face crops already; they are resized to ``image_size``. A class without images is named in a
  warning. Numeric class folders from 1 without a ``0/``, or ``train_00001_aligned.jpg`` file names, are RAF-DB's
  Kaggle copy (ids 1..7 in RAF-DB's order) and are refused.

Splits: ``train``, ``test`` = the official validation set (``validation.csv`` / ``val_set/`` / ``val/``; AffectNet's
test set is not public, so papers report on it), and ``all``. Calling it ``test`` (alias ``validation``) keeps it out
of model selection: an honest validation split is carved from ``train`` by the splits code. ``classes=7`` drops contempt
(counted in a warning) for comparison with 7-class datasets; ``classes=8`` keeps it.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import Color, read_face_crops, read_images
from .labels import AFFECTNET_CLASSES, AFFECTNET_NON_EXPRESSION_IDS, class_index
from .layout import scan_class_folders, warn_absent_classes
from .protocols import OfficialSplit
from .rafdb import KAGGLE_NAME as RAFDB_KAGGLE_NAME
from .registry import DatasetSpec, register_dataset

log = logging.getLogger(__name__)
DEFAULT_SIZE = 112
SOURCE = "http://mohammadmahoor.com/affectnet/ (AffectNet, academic licence on request)"
CSV_FOLDER = "Manually_Annotated_file_lists"
CSV_FILES = {"train": "training.csv", "test": "validation.csv"}
IMAGE_FOLDERS = ("Manually_Annotated_Images", "Manually_Annotated/Manually_Annotated_Images", "Manually_Annotated_compressed/Manually_Annotated_Images")
NPY_SPLIT_FOLDERS = {"train": "train_set", "test": "val_set"}
EXP_SUFFIX = "_exp.npy"
AFFECT_SUFFIXES = {"valence": "_val.npy", "arousal": "_aro.npy"}  # beside <N>_exp.npy in the train_set/ val_set/ release
# Split folder names in preference order: val/ is the official validation set; Kaggle copies call it test/ or Test/.
SPLIT_FOLDERS = {"train": ("train", "Train"), "test": ("val", "test", "Test")}
# Registry markers of the image-folder copies: 8 classes by contempt/ or 7/ in the train folder, 7 classes by neutral/ or
# 0/ in val/ (FER2013's Kaggle copy has train/neutral/ and test/neutral/ too, and must not be found as AffectNet).
FOLDER_MARKERS = (*(f"{name}/{marker}" for name in SPLIT_FOLDERS["train"] for marker in ("contempt", "7")), "val/neutral", "val/0")
# A 7-class copy with train/ and test/ only has FER2013's Kaggle layout: it is AffectNet only in a folder named so.
NAMED_FOLDER_MARKERS = ("train/neutral", "train/0")
COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks", "expression", "valence", "arousal")
CONTEMPT = AFFECTNET_CLASSES.index("contempt")
EXPRESSION_IDS = (*range(len(AFFECTNET_CLASSES)), *AFFECTNET_NON_EXPRESSION_IDS)
EXPRESSION_RANGE = "AffectNet uses 0..7 (and 8/9/10 for none/uncertain/no-face)"


def load_affectnet(
    folder: Path, split: str, image_size: int = DEFAULT_SIZE, color: Color = "rgb", classes: int = 8, use_cache: bool = True
) -> FaceDataset:
    """Load AffectNet (official CSV layout preferred, else train_set/ and val_set/, else class folders); ``classes`` is 7 or 8.

    Each split is decoded and cached on its own (the training set is ~290k full-size images); ``all`` joins them.
    """
    if classes not in (7, 8):
        raise ValueError(f"AffectNet classes must be 7 (without contempt) or 8, not {classes}")
    if split not in (*SPLIT_FOLDERS, "all"):
        raise ValueError(f"AffectNet splits are train, test (the official validation set) and all, not {split!r}")
    if not folder.is_dir():
        raise DatasetNotFoundError(f"AffectNet folder {folder} does not exist. Obtain AffectNet from {SOURCE}")
    split_folders = _split_folders(folder)
    if (folder / CSV_FOLDER).is_dir():
        load_split = partial(_load_csv_split, folder, _csv_image_folder(folder))
    elif any((folder / name).is_dir() for name in NPY_SPLIT_FOLDERS.values()):
        load_split = partial(_load_npy_split, folder)
    elif split_folders:
        _warn_extra_entries(folder, split_folders)
        _refuse_rafdb_copy(folder, split_folders)
        load_split = partial(_load_folder_split, folder, split_folders)
    else:
        raise DatasetNotFoundError(
            f"AffectNet not found in {folder}: expected {CSV_FOLDER}/training.csv with Manually_Annotated_Images/, "
            f"train_set/ and val_set/ (images/<N>.jpg + annotations/<N>{EXP_SUFFIX}), "
            f"or train/<class>/ and val/<class>/ image folders (Train/, test/ or Test/ in Kaggle copies). Obtain AffectNet from {SOURCE}"
        )
    params = {"image_size": image_size, "color": color, "classes": classes}
    parts = [load_split(name, params, use_cache) for name in (("train", "test") if split == "all" else (split,))]
    return parts[0] if len(parts) == 1 else _concatenate(parts)


def _class_names(classes: int) -> tuple[str, ...]:
    return AFFECTNET_CLASSES if classes == 8 else AFFECTNET_CLASSES[:CONTEMPT]


def _kept_expressions(expression: np.ndarray, classes: int, where: Path) -> np.ndarray:
    """Boolean mask of the rows kept: 8/9/10 (none / uncertain / no-face) dropped, counted per reason; contempt too for 7."""
    is_expression = expression < len(AFFECTNET_CLASSES)
    if not is_expression.all():
        reasons = Counter(AFFECTNET_NON_EXPRESSION_IDS[e] for e in expression[~is_expression])
        log.warning("AffectNet %s: dropped %d rows that hold no expression: %s", where, int((~is_expression).sum()), dict(sorted(reasons.items())))
    keep = is_expression.copy()
    keep[is_expression] = _drop_contempt(expression[is_expression], classes, where)
    return keep


def _drop_contempt(labels: np.ndarray, classes: int, where: Path) -> np.ndarray:
    """Boolean mask of the rows kept: all for 8 classes; without contempt (logged) for 7."""
    keep = np.ones(len(labels), bool) if classes == 8 else labels != CONTEMPT
    if not keep.all():
        log.warning("AffectNet %s: dropped %d contempt samples (classes=7)", where, int((~keep).sum()))
    return keep


# --- official CSV layout ---------------------------------------------------------------------------------------


def _csv_image_folder(folder: Path) -> Path:
    images = next((folder / name for name in IMAGE_FOLDERS if (folder / name).is_dir()), None)
    if images is None:
        raise DatasetNotFoundError(f"AffectNet images not found: expected one of {[str(folder / name) for name in IMAGE_FOLDERS]}. Obtain AffectNet from {SOURCE}")
    return images


def _load_csv_split(folder: Path, images: Path, split: str, params: dict[str, Any], use_cache: bool) -> FaceDataset:
    csv = folder / CSV_FOLDER / CSV_FILES[split]
    table = _read_csv(csv, params["classes"])
    paths = [images / name for name in table["subDirectory_filePath"]]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise DatasetNotFoundError(f"AffectNet image {missing[0]} is listed in {csv} but missing ({len(missing)} listed images missing)")
    return cached_dataset(
        "affectnet",
        {**params, "split": split, "layout": "csv"},
        folder,
        [csv, *paths],
        lambda: _build_from_csv(split, table, paths, params["image_size"], params["color"], params["classes"]),
        use_cache,
    )


def _read_csv(csv: Path, classes: int) -> pd.DataFrame:
    """The rows of an AffectNet list that hold a kept expression: the image path and numeric box, expression, valence, arousal."""
    if not csv.is_file():
        raise DatasetNotFoundError(f"AffectNet list {csv} does not exist (it ships in {CSV_FOLDER}/). Obtain AffectNet from {SOURCE}")
    try:
        raw = pd.read_csv(csv, dtype=str, header=None, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DatasetFormatError(f"AffectNet list {csv} is not a readable CSV ({error}); expected the columns {','.join(COLUMNS)}") from None
    has_header = len(raw) > 0 and raw.iat[0, 0].strip() == COLUMNS[0]
    if has_header:
        table = raw.iloc[1:].set_axis([c.strip() for c in raw.iloc[0]], axis=1)
    elif raw.shape[1] == len(COLUMNS):
        table = raw.set_axis(list(COLUMNS), axis=1)
    else:
        raise DatasetFormatError(f"{csv} has neither the header {','.join(COLUMNS)} nor its {len(COLUMNS)} columns")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise DatasetFormatError(f"{csv} lacks the columns {missing}; expected {','.join(COLUMNS)}")
    if table.empty:
        raise DatasetFormatError(f"AffectNet list {csv} has no rows")
    numeric = table[list(COLUMNS[1:5]) + ["expression", "valence", "arousal"]].apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna().any(axis=1) | (numeric["expression"] % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DatasetFormatError(
            f"{csv} line {row + 1 + has_header} ({table['subDirectory_filePath'].iloc[row]}): face box, expression, valence and arousal must be numbers"
        )
    expression = numeric["expression"].astype(np.int64).to_numpy()
    known = np.isin(expression, EXPRESSION_IDS)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise DatasetFormatError(f"{csv} line {row + 1 + has_header}: expression {expression[row]} is out of range; {EXPRESSION_RANGE}")
    duplicated = table["subDirectory_filePath"].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise DatasetFormatError(f"{csv} line {row + 1 + has_header}: {table['subDirectory_filePath'].iloc[row]} is listed twice; every image must appear once")
    keep = _kept_expressions(expression, classes, csv)
    result = numeric[keep].reset_index(drop=True)
    result["subDirectory_filePath"] = table["subDirectory_filePath"].to_numpy()[keep]
    return result


def _build_from_csv(split: str, table: pd.DataFrame, paths: list[Path], size: int, color: Color, classes: int) -> FaceDataset:
    x, y, w, h = (table[c].to_numpy(np.int64) for c in COLUMNS[1:5])
    boxes = list(zip(x.tolist(), y.tolist(), (x + w).tolist(), (y + h).tolist()))
    return FaceDataset(
        name="affectnet",
        split=split,
        images=read_face_crops(paths, boxes, color, size),
        labels=table["expression"].to_numpy(np.int64),
        class_names=_class_names(classes),
        sample_ids=table["subDirectory_filePath"].to_numpy(str),
        meta={
            "split": np.full(len(table), split),
            "valence": table["valence"].to_numpy(np.float64),
            "arousal": table["arousal"].to_numpy(np.float64),
        },
    )


# --- official release with .npy annotations ----------------------------------------------------------------------


def _load_npy_split(folder: Path, split: str, params: dict[str, Any], use_cache: bool) -> FaceDataset:
    pairs = _npy_pairs(folder / NPY_SPLIT_FOLDERS[split])
    affect = _affect_files([annotation for annotation, _ in pairs])
    return cached_dataset(
        "affectnet",
        {**params, "split": split, "layout": "npy", "affect": sorted(affect)},
        folder,
        [path for pair in pairs for path in pair] + [path for paths in affect.values() for path in paths],
        lambda: _build_from_npy(folder, split, pairs, affect, params["image_size"], params["color"], params["classes"]),
        use_cache,
    )


def _npy_pairs(split_folder: Path) -> list[tuple[Path, Path]]:
    """``(annotations/<N>_exp.npy, images/<N>.jpg)`` per annotated image, by N; images without annotation are counted in a warning."""
    annotations, images = split_folder / "annotations", split_folder / "images"
    for needed in (annotations, images):
        if not needed.is_dir():
            raise DatasetNotFoundError(
                f"AffectNet folder {needed} does not exist: {split_folder.name}/ holds images/<N>.jpg and annotations/<N>{EXP_SUFFIX}"
            )
    ids = sorted((name.removesuffix(EXP_SUFFIX) for name in os.listdir(annotations) if name.endswith(EXP_SUFFIX)), key=lambda n: (len(n), n))
    if not ids:
        raise DatasetFormatError(f"{annotations} holds no <N>{EXP_SUFFIX} expression files")
    files = {entry.name for entry in os.scandir(images)}
    missing = [n for n in ids if f"{n}.jpg" not in files]
    if missing:
        raise DatasetNotFoundError(
            f"AffectNet image {images / missing[0]}.jpg is missing but {annotations / missing[0]}{EXP_SUFFIX} annotates it "
            f"({len(missing)} annotated images missing)"
        )
    unannotated = len(files - {f"{n}.jpg" for n in ids})
    if unannotated:
        log.warning("AffectNet %s: %d files have no %s in %s and are ignored", images, unannotated, EXP_SUFFIX, annotations)
    return [(annotations / f"{n}{EXP_SUFFIX}", images / f"{n}.jpg") for n in ids]


def _affect_files(annotations: list[Path]) -> dict[str, list[Path]]:
    """Per ``meta`` key (valence, arousal), its ``<N>_val.npy`` / ``<N>_aro.npy`` file for each ``<N>_exp.npy`` in
    ``annotations``; ``{}`` for a copy that ships none. One that ships some but not all would give a dataset whose
    dimensional labels silently cover part of it, so that is an error naming a missing file."""
    folder = annotations[0].parent
    present = set(os.listdir(folder))
    files = {key: [path.with_name(path.name.removesuffix(EXP_SUFFIX) + suffix) for path in annotations] for key, suffix in AFFECT_SUFFIXES.items()}
    if not any(path.name in present for paths in files.values() for path in paths):
        return {}
    for key, paths in files.items():
        missing = [path for path in paths if path.name not in present]
        if missing:
            raise DatasetNotFoundError(
                f"AffectNet {key} file {missing[0]} is missing ({len(missing)} of {len(paths)} in {folder}), though the copy "
                f"ships valence and arousal files for other images: restore the annotations "
                f"folder from the release, or remove every {AFFECT_SUFFIXES['valence']} and {AFFECT_SUFFIXES['arousal']} file to load expressions only"
            )
    return files


def _read_scalar(path: Path, what: str) -> float:
    """The one number in an annotation ``.npy`` file: a 0-d or 1-element array holding it as a string (``'3'``, as
    released) or a number; ``nan`` when it is not numeric (the caller says what it should be)."""
    try:
        value = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetFormatError(f"AffectNet annotation {path} is not a readable .npy file ({error})") from None
    if value.size != 1:
        raise DatasetFormatError(f"AffectNet annotation {path} holds {value.size} values; expected one {what}")
    try:
        return float(value.item())
    except (TypeError, ValueError):
        return float("nan")


def _read_expression(path: Path) -> int:
    """The expression id in ``<N>_exp.npy``."""
    number = _read_scalar(path, "expression id")
    if not number.is_integer() or int(number) not in EXPRESSION_IDS:
        raise DatasetFormatError(f"AffectNet annotation {path}: expression {np.load(path).item()!r} is not an expression id; {EXPRESSION_RANGE}")
    return int(number)


def _read_affect(path: Path, key: str) -> float:
    """The valence or arousal in ``<N>_val.npy`` / ``<N>_aro.npy``: a number (AffectNet's range is [-1, 1], -2 for
    images without an expression, which are dropped)."""
    number = _read_scalar(path, key)
    if not np.isfinite(number):
        raise DatasetFormatError(f"AffectNet annotation {path}: {key} {np.load(path).item()!r} is not a number")
    return number


def _build_from_npy(
    folder: Path, split: str, pairs: list[tuple[Path, Path]], affect: dict[str, list[Path]], size: int, color: Color, classes: int
) -> FaceDataset:
    expression = np.array([_read_expression(annotation) for annotation, _ in pairs], dtype=np.int64)
    keep = _kept_expressions(expression, classes, pairs[0][0].parent)
    paths = [image for (_, image), kept in zip(pairs, keep) if kept]
    dimensional = {key: np.array([_read_affect(path, key) for path, kept in zip(files, keep) if kept], np.float64) for key, files in affect.items()}
    return FaceDataset(
        name="affectnet",
        split=split,
        images=read_images(paths, color, size),
        labels=expression[keep],
        class_names=_class_names(classes),
        sample_ids=np.array([path.relative_to(folder).as_posix() for path in paths]),
        meta={"split": np.full(len(paths), split), **dimensional},
    )


# --- image-folder layout -----------------------------------------------------------------------------------------


def _split_folders(folder: Path) -> dict[str, Path]:
    """The folder of each split present: the first of ``SPLIT_FOLDERS[split]`` there (exact names, also on case-insensitive disks)."""
    present = {entry.name for entry in os.scandir(folder) if entry.is_dir()}
    names = {split: next((name for name in candidates if name in present), None) for split, candidates in SPLIT_FOLDERS.items()}
    return {split: folder / name for split, name in names.items() if name}


def _warn_extra_entries(folder: Path, split_folders: dict[str, Path]) -> None:
    """Copies that also hold e.g. a carved ``test/`` folder beside ``val/``: say that it is not read."""
    used = [path.name for path in split_folders.values()]
    extra = sorted(e.name for e in os.scandir(folder) if e.name not in used and not e.name.startswith("."))
    if extra:
        log.warning("AffectNet %s: ignored %d entries that are not the split folders %s: %s", folder, len(extra), used, extra[:5])


def _refuse_rafdb_copy(folder: Path, split_folders: dict[str, Path]) -> None:
    """RAF-DB's Kaggle copy (``DATASET/train/<1..7>/train_00001_aligned.jpg``) also has numeric class folders, but its ids
    1..7 run surprise..neutral where AffectNet's 0..7 run neutral..contempt: read as AffectNet, every label would be wrong."""
    class_folders = [Path(entry.path) for path in split_folders.values() for entry in os.scandir(path) if entry.is_dir()]
    names = {path.name for path in class_folders}
    aligned = next((path / name for path in class_folders for name in os.listdir(path) if RAFDB_KAGGLE_NAME.fullmatch(name)), None)
    if aligned is not None:
        reason = f"it holds RAF-DB's aligned face {aligned}"
    elif names and all(name.isdigit() for name in names) and "0" not in names:
        reason = f"its class folders {sorted(names, key=int)} are numbered from 1, as RAF-DB's ids 1..7, with no 0/ (AffectNet's neutral)"
    else:
        return
    raise DatasetFormatError(
        f"{folder} looks like RAF-DB's Kaggle layout (DATASET/train/<1..7>/train_00001_aligned.jpg), not AffectNet: {reason}. "
        "Load it as rafdb (create_dataset('rafdb', ...) or load_rafdb): RAF-DB's ids read as AffectNet's would mislabel every class"
    )


def _load_folder_split(folder: Path, split_folders: dict[str, Path], split: str, params: dict[str, Any], use_cache: bool) -> FaceDataset:
    if split not in split_folders:
        raise DatasetNotFoundError(
            f"AffectNet image folders in {folder}: no {split} split; expected one of {list(SPLIT_FOLDERS[split])} holding <class>/ folders"
        )
    split_folder = split_folders[split]
    scanned = scan_class_folders(split_folder, AFFECTNET_CLASSES, require_all=False, label_of=_folder_label)
    warn_absent_classes("AffectNet", split_folder, scanned, _class_names(params["classes"]))
    keep = _drop_contempt(np.array([label for _, label in scanned]), params["classes"], split_folder)
    samples = [sample for sample, kept in zip(scanned, keep) if kept]
    return cached_dataset(
        "affectnet",
        {**params, "split": split, "layout": "folders"},
        folder,
        [path for path, _ in samples],
        lambda: _build_from_folders(folder, split, samples, params["image_size"], params["color"], params["classes"]),
        use_cache,
    )


def _folder_label(name: str, where: Path) -> int:
    """AffectNet id of a class folder named by a number (``0``..``7``) or a class name (any alias)."""
    if name.isdigit():
        if int(name) >= len(AFFECTNET_CLASSES):
            raise DatasetFormatError(f"Class folder {where} is not an AffectNet expression id 0..{len(AFFECTNET_CLASSES) - 1}")
        return int(name)
    return class_index(name, AFFECTNET_CLASSES, str(where))


def _build_from_folders(folder: Path, split: str, samples: list[tuple[Path, int]], size: int, color: Color, classes: int) -> FaceDataset:
    paths = [path for path, _ in samples]
    return FaceDataset(
        name="affectnet",
        split=split,
        images=read_images(paths, color, size),
        labels=np.array([label for _, label in samples], dtype=np.int64),
        class_names=_class_names(classes),
        sample_ids=np.array([path.relative_to(folder).as_posix() for path in paths]),
        meta={"split": np.full(len(samples), split)},
    )


def _concatenate(parts: list[FaceDataset]) -> FaceDataset:
    """One ``all`` dataset from the per-split datasets (same classes; the meta columns every split has: a copy whose
    val_set/ lacks the valence/arousal files its train_set/ ships gives ``all`` without them)."""
    return FaceDataset(
        name="affectnet",
        split="all",
        images=np.concatenate([p.images for p in parts]),
        labels=np.concatenate([p.labels for p in parts]),
        class_names=parts[0].class_names,
        sample_ids=np.concatenate([p.sample_ids for p in parts]),
        meta={key: np.concatenate([p.meta[key] for p in parts]) for key in parts[0].meta if all(key in p.meta for p in parts)},
    )


register_dataset(
    DatasetSpec(
        name="affectnet",
        title="AffectNet",
        load=load_affectnet,
        splits=("train", "test", "all"),
        split_aliases={"validation": "test"},
        folders=("AffectNet", "affectnet", "AffectNet-HQ", "affectnet-hq"),
        markers=(
            f"{CSV_FOLDER}/training.csv",
            *(f"{name}/annotations" for name in NPY_SPLIT_FOLDERS.values()),
            *FOLDER_MARKERS,
        ),
        named_folder_markers=NAMED_FOLDER_MARKERS,
        layout=(
            f"{CSV_FOLDER}/{{training,validation}}.csv + Manually_Annotated_Images/, train_set/ and val_set/ (images/<N>.jpg + "
            f"annotations/<N>{EXP_SUFFIX}), or train/<class>/ and val/<class>/ image folders (Kaggle: Train/ and Test/, or test/)"
        ),
        source=SOURCE,
        protocol=OfficialSplit(train="train", test="test", test_label="official validation set"),
    )
)
