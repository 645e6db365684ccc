"""MEGC2019 composite micro-expression database (See et al., FG 2019): CASME II + SMIC-HS + SAMM, 3 classes.

Layout (as shipped with STSTNet / HTNet):

* ``combined_3_class2_for_optical_flow.csv`` — ``dataset,sub,filename_o,label,apex,imagename,sub_filename``;
  label 0 negative, 1 positive, 2 surprise; 442 samples of 68 subjects.
* ``STSNet_whole_norm_u_v_os/<sub>_<filename_o> .png`` — 28×28 onset→apex TV-L1 flow maps (note the space
  before ``.png``, as in the public copy). The PNGs hold u in red, v in green and strain in blue — what MATLAB's
  ``imwrite`` makes of a (u, v, strain) array (STSTNet's preprocessing is MATLAB) — so we load them as RGB and the
  channels are (u, v, strain). Evidence: blue is the only plane with a low mean (25 of 255 over the 442 maps; red
  and green 135 and 126), as a non-negative strain magnitude has, and our own TV-L1 u and v of the CASME II sub01
  clips correlate with red and green at r ≈ 0.8–0.95 (``tests/test_flow.py``). STSTNet's ``cv2.imread`` feeds its
  network the planes in B, G, R order, i.e. (strain, v, u): :mod:`fer_lib.published_weights` does the same.
* ``combined_datasets_whole/<imagename>`` — the 224×224 RGB apex faces.
* ``MEGC2019_combined_3class_gt_v1.csv`` (optional) — the official ground truth; when present, labels are
  checked against it.

Modalities: ``flow`` (the (u, v, strain) maps, STSTNet's and LKCNN's input), ``apex`` (the apex faces), and
``apex_flow``: a two-frame sequence per sample, the apex face then its flow map at the same size, ``(N, 2, S, S, 3)``.
The composite ships no frame sequences (only the apex face and the onset→apex flow), so ``apex_flow`` is the richest
real sequence that can be formed from it, for sequence models such as ResNet34 + MFEM + BiLSTM (paper §4.2.2).

Evaluation is leave-one-subject-out over the 68 subjects (:func:`fer_lib.data.splits.loso_folds`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import read_images
from .labels import MEGC_CLASSES
from .protocols import LeaveOneSubjectOut
from .registry import DatasetSpec, register_dataset

INDEX_CSV = "combined_3_class2_for_optical_flow.csv"
GROUND_TRUTH_CSV = "MEGC2019_combined_3class_gt_v1.csv"
FLOW_DIR = "STSNet_whole_norm_u_v_os"
APEX_DIR = "combined_datasets_whole"
COLUMNS = ("dataset", "sub", "filename_o", "label", "imagename")
SOURCE = "the MEGC2019 organisers (CASME II, SMIC and SAMM licences); flow maps as shipped with STSTNet (github.com/christy1206/STSTNet)"

Modality = Literal["flow", "apex", "apex_flow"]
SEQUENCE_SIZE = 56  # default side of apex_flow frames: the flow maps (28 px) upsampled ×2, the faces (224 px) reduced ×4


def load_megc2019(folder: Path, split: str, modality: Modality = "flow", image_size: int | None = None, use_cache: bool = True) -> FaceDataset:
    """Load the composite: ``modality="flow"`` gives (u, v, strain) maps, ``"apex"`` the RGB apex faces, ``"apex_flow"``
    the two-frame sequences (apex face, flow map).

    ``image_size`` resizes (default: native 28 for flow, 224 for apex, :data:`SEQUENCE_SIZE` for apex_flow).
    """
    table = read_index(folder)
    flow_paths = [folder / FLOW_DIR / f"{sub}_{name} .png" for sub, name in zip(table["sub"], table["filename_o"])]
    apex_paths = [folder / APEX_DIR / name for name in table["imagename"]]
    if modality not in ("flow", "apex", "apex_flow"):
        raise ValueError(f"modality must be 'flow', 'apex' or 'apex_flow', not {modality!r}")
    paths = {"flow": flow_paths, "apex": apex_paths, "apex_flow": apex_paths + flow_paths}[modality]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise DatasetNotFoundError(f"{len(missing)} of {len(paths)} files listed in {folder / INDEX_CSV} are missing, e.g. {missing[0]}")
    params = {"modality": modality, "image_size": image_size, "flow_planes": "u,v,strain"}
    sources = [folder / INDEX_CSV, *paths]
    return cached_dataset(f"megc2019_{modality}", params, folder, sources, lambda: _build(table, paths, modality, image_size), use_cache)


def read_index(folder: Path) -> pd.DataFrame:
    """The composite's index CSV, validated (string dtypes: SAMM subjects are zero-padded, e.g. ``006``)."""
    csv = folder / INDEX_CSV
    if not csv.exists():
        raise DatasetNotFoundError(f"{csv} is missing: the MEGC2019 composite index. Obtain it from {SOURCE}")
    table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    missing = set(COLUMNS) - set(table.columns)
    if missing:
        raise DatasetFormatError(f"{csv} lacks the columns {sorted(missing)}; expected {','.join(COLUMNS)}")
    bad = table.index[~table["label"].isin([str(i) for i in range(len(MEGC_CLASSES))])]
    if len(bad):
        raise DatasetFormatError(f"{csv} line {bad[0] + 2}: label {table.at[bad[0], 'label']!r} is not 0, 1 or 2 ({len(bad)} such rows)")
    duplicated = table.duplicated(["sub", "filename_o"])
    if duplicated.any():
        row = table.index[duplicated][0]
        raise DatasetFormatError(f"{csv} line {row + 2}: sample {table.at[row, 'sub']}/{table.at[row, 'filename_o']} is listed twice")
    _check_ground_truth(folder, table)
    return table


def _check_ground_truth(folder: Path, table: pd.DataFrame) -> None:
    csv = folder / GROUND_TRUTH_CSV
    if not csv.exists():
        return
    truth = pd.read_csv(csv, dtype=str, header=None, names=["dataset", "sub", "filename_o", "label"])
    # The official file writes SAMM subjects unpadded (6, not 006): compare subjects without leading zeros.
    keys = ["dataset", "subject_key", "filename_o"]
    ours = table.assign(subject_key=table["sub"].str.lstrip("0"))
    truth = truth.assign(subject_key=truth["sub"].str.lstrip("0")).drop(columns="sub")
    merged = ours.merge(truth, on=keys, how="outer", suffixes=("", "_gt"), indicator=True)
    disagree = merged[(merged["_merge"] != "both") | (merged["label"] != merged["label_gt"])]
    if len(disagree):
        row = disagree.iloc[0]
        raise DatasetFormatError(f"{folder / INDEX_CSV} and {csv} disagree on {len(disagree)} samples, e.g. {row['dataset']}/{row['filename_o']}")


def _build(table: pd.DataFrame, paths: list[Path], modality: Modality, image_size: int | None) -> FaceDataset:
    if modality == "apex_flow":
        half = len(paths) // 2
        size = image_size or SEQUENCE_SIZE
        apex, flow = read_images(paths[:half], "rgb", size), _read_flow(paths[half:], size)
        images = np.stack([apex, flow], axis=1)
    else:
        images = _read_flow(paths, image_size) if modality == "flow" else read_images(paths, "rgb", image_size)
    return FaceDataset(
        name="megc2019",
        split="all",
        images=images,
        labels=table["label"].to_numpy(np.int64),
        class_names=MEGC_CLASSES,
        sample_ids=(table["sub"] + "/" + table["filename_o"]).to_numpy(str),
        subjects=table["sub"].to_numpy(str),
        meta={"database": table["dataset"].to_numpy(str), "filename": table["filename_o"].to_numpy(str)},
    )


def _read_flow(paths: list[Path], image_size: int | None) -> np.ndarray:
    """Flow PNGs as ``(N, H, W, 3)`` (u, v, strain): their red, green and blue planes (see the module docstring)."""
    return read_images(paths, "rgb", image_size)


register_dataset(
    DatasetSpec(
        name="megc2019",
        title="MEGC2019 composite micro-expressions",
        load=load_megc2019,
        splits=("all",),
        folders=("megc2019", "MEGC2019"),
        markers=(INDEX_CSV,),
        layout=f"{INDEX_CSV} + {FLOW_DIR}/<sub>_<filename_o> .png + {APEX_DIR}/<imagename>",
        source=SOURCE,
        protocol=LeaveOneSubjectOut(),
        # load_megc2019's modality argument -> the input kind it serves (fer_lib.models); its default is the flow maps
        modalities={None: "flow", "flow": "flow", "apex": "image", "apex_flow": "clip"},
    )
)
