"""SMIC-HS (Li et al., "A Spontaneous Micro-expression Database: Inducement, Collection and Baseline",
FG 2013): the 164 micro-expression clips of the 100 fps high-speed camera, 16 subjects, 640×480 colour frames,
three classes (negative, positive, surprise).

Layout accepted (the SMIC download), in ``<root>/smic/`` (or ``SMIC``) or the root itself:

* ``SMIC_all_raw/HS/s<k>/micro/<negative|positive|surprise>/s<k>_<ne|po|sur>_<nn>/image<frame>.bmp`` — the
  class is in the path and in the clip code; frames run from onset to offset.
* ``smic_apex.xlsx`` — the apex annotation table used with MEGC2019 (SMIC itself annotates no apex): columns
  subject (``1``), clip (``s1_ne_02``), label (0 negative, 1 positive, 2 surprise), onset_frame, apex_frame,
  offset_frame (empty for a few clips: then the folder's last frame). It may sit beside ``SMIC_all_raw/`` or in
  a ``me_labels/`` folder inside or beside the dataset folder — our data root ships it as ``me_labels/``.

Subjects are named as the MEGC2019 composite names them (``s01``); sample ids keep the clip folder name
(``s01/s1_ne_02``; the composite writes that clip ``s01_ne_02``). ``emotion`` and ``megc3`` classes coincide.
Split: ``all``.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import FaceDataset
from .clips import (
    ClassSet,
    ClipDatabase,
    ClipRecord,
    FrameSelection,
    Missing,
    clip_name,
    find_coding_table,
    frame_number,
    load_clip_dataset,
    optional_frame_number,
    read_coding_table,
    subject_number,
)
from .errors import DatasetFormatError
from .io import Color
from .labels import SMIC_CLASSES, SMIC_CODES
from .registry import DatasetSpec, register_dataset

TABLE_NAMES = ("smic_apex.xlsx",)
FRAMES_DIR = "SMIC_all_raw/HS"
COLUMNS = ("subject", "clip", "label", "onsetframe", "apexframe", "offsetframe")
CLIP_NAME = re.compile(r"s(?P<subject>\d+)_(?P<code>ne|po|sur)_\d+", re.IGNORECASE)
DATABASE = ClipDatabase(
    name="smic",
    title="SMIC-HS",
    source="https://www.oulu.fi/cmvs/node/41319",
    emotions=SMIC_CLASSES,
    frame_file=re.compile(r"image(?P<frame>\d+)\.(bmp|jpe?g|png)", re.IGNORECASE),
    frame_hint="image<frame>.bmp",
)


def load_smic(
    folder: Path,
    split: str,
    frames: FrameSelection = "onset_apex",
    color: Color = "rgb",
    classes: ClassSet = "megc3",
    missing: Missing = "warn",
    use_cache: bool = True,
) -> FaceDataset:
    """Load the SMIC-HS clips present under ``folder``: images ``(N, T, 480, 640, C)`` uint8.

    ``frames``, ``classes`` and ``missing`` as in :func:`fer_lib.data.casme2.load_casme2`.
    """
    frames_dir = folder / FRAMES_DIR
    table = find_coding_table(folder, TABLE_NAMES, frames_dir, DATABASE)
    records = [_record(row, cells, table, frames_dir) for row, cells in read_coding_table(table, COLUMNS)]
    return load_clip_dataset(DATABASE, table, records, frames_dir, split, frames, color, classes, missing, use_cache)


def _record(row: int, cells: dict[str, str], table: Path, frames_dir: Path) -> ClipRecord:
    """One clip; its subject, class code and label must agree (``s3_po_01``: subject 3, positive, label 1)."""
    number = subject_number(cells["subject"], table, row, prefix="s")
    episode = clip_name(cells["clip"], table, row, "clip")
    match = CLIP_NAME.fullmatch(episode)
    if match is None:
        raise DatasetFormatError(f"{table} row {row}: clip {episode!r} is not named s<subject>_<ne|po|sur>_<nn>")
    emotion = SMIC_CODES[match["code"].lower()]
    label = SMIC_CLASSES.index(emotion)
    clip_subject = int(match["subject"])
    if clip_subject != number:
        raise DatasetFormatError(f"{table} row {row}: clip {episode} belongs to subject {clip_subject}, but the subject column says {number}")
    if cells["label"] != str(label):
        raise DatasetFormatError(f"{table} row {row}: label {cells['label']!r} disagrees with clip {episode} ({emotion} is {label})")
    return ClipRecord(
        subject=f"s{number:02d}",
        episode=episode,
        folder=frames_dir / f"s{number}" / "micro" / emotion / episode,
        onset=frame_number(cells["onsetframe"], table, row, "onset_frame"),
        apex=optional_frame_number(cells["apexframe"], table, row, "apex_frame"),
        offset=optional_frame_number(cells["offsetframe"], table, row, "offset_frame"),
        emotion=emotion,
        action_units="",
        row=row,
    )


register_dataset(
    DatasetSpec(
        name="smic",
        title="SMIC-HS",
        load=load_smic,
        splits=("all",),
        folders=("smic", "SMIC"),
        markers=("SMIC_all_raw/HS", "smic_apex.xlsx"),
        layout="SMIC_all_raw/HS/s<k>/micro/<class>/s<k>_<code>_<nn>/image<frame>.bmp + smic_apex.xlsx (also in ../me_labels/)",
        source=DATABASE.source,
    )
)
