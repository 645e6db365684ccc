"""SAMM (Davison et al., "SAMM: A Spontaneous Micro-Facial Movement Dataset", IEEE Trans. Affective
Computing 2018): 159 micro-expression clips of 29 subjects, 200 fps, 960×650 grey frames.

Layout accepted (the SAMM download), in ``<root>/SAMM/`` (or ``samm``) or the root itself:

* ``SAMM/<subject>/<Filename>/<subject>_<frame>.jpg`` — subject three digits (``006``), frame numbers of 4 or 5
  digits (``006_05562.jpg``); clip ``Filename`` as in the table (``006_1_2``).
* the coding table ``SAMM_Micro_FACS_Codes_v2.xlsx`` (the release; its header row comes after title rows) or
  ``SAMM.xlsx`` (its MICRO_ONLY sheet, header in the first row): Subject, Filename, Onset Frame, Apex Frame,
  Offset Frame, Action Units, Estimated Emotion. It may sit beside ``SAMM/``, inside it, or in a ``me_labels/``
  folder inside or beside the dataset folder — our data root ships it as ``me_labels/SAMM.xlsx``.

Subjects are the zero-padded ids MEGC2019 uses (``006``); sample ids ``006/006_1_2``. Emotions (the ``emotion``
classes): anger, contempt, disgust, fear, happiness, sadness, surprise, other. The MEGC2019 3-class task
(``classes="megc3"``) maps anger, contempt, disgust, fear and sadness to negative, happiness to positive and
surprise to surprise; other is left out. Split: ``all``.
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
    emotion_name,
    find_coding_table,
    frame_number,
    load_clip_dataset,
    optional_frame_number,
    read_coding_table,
    subject_number,
)
from .io import Color
from .labels import SAMM_EMOTIONS
from .registry import DatasetSpec, register_dataset

TABLE_NAMES = ("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM.xlsx")
FRAMES_DIR = "SAMM"
COLUMNS = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "actionunits", "estimatedemotion")
DATABASE = ClipDatabase(
    name="samm",
    title="SAMM",
    source="http://www2.docm.mmu.ac.uk/STAFF/m.yap/dataset.php",
    emotions=SAMM_EMOTIONS,
    frame_file=re.compile(r"\d+_(?P<frame>\d+)\.jpe?g", re.IGNORECASE),
    frame_hint="<subject>_<frame>.jpg",
)


def load_samm(
    folder: Path,
    split: str,
    frames: FrameSelection = "onset_apex",
    color: Color = "rgb",
    classes: ClassSet = "megc3",
    missing: Missing = "warn",
    use_cache: bool = True,
) -> FaceDataset:
    """Load the SAMM clips present under ``folder``: images ``(N, T, 650, 960, C)`` uint8.

    ``frames``, ``classes`` and ``missing`` as in :func:`fer_lib.data.casme2.load_casme2`.
    """
    frames_dir = folder / FRAMES_DIR
    table = find_coding_table(folder, TABLE_NAMES, frames_dir, DATABASE)
    records = [_record(row, cells, table, frames_dir) for row, cells in read_coding_table(table, COLUMNS)]
    return load_clip_dataset(DATABASE, table, records, frames_dir, split, frames, color, classes, missing, use_cache)


def _record(row: int, cells: dict[str, str], table: Path, frames_dir: Path) -> ClipRecord:
    subject = f"{subject_number(cells['subject'], table, row):03d}"
    episode = clip_name(cells["filename"], table, row, "Filename")
    return ClipRecord(
        subject=subject,
        episode=episode,
        folder=frames_dir / subject / episode,
        onset=frame_number(cells["onsetframe"], table, row, "Onset Frame"),
        apex=optional_frame_number(cells["apexframe"], table, row, "Apex Frame"),
        offset=frame_number(cells["offsetframe"], table, row, "Offset Frame"),
        emotion=emotion_name(cells["estimatedemotion"], DATABASE, table, row),
        action_units=cells["actionunits"],
        row=row,
    )


register_dataset(
    DatasetSpec(
        name="samm",
        title="SAMM",
        load=load_samm,
        splits=("all",),
        folders=("SAMM", "samm"),
        # A frame folder alone is recognised by its first subject; the tables name the nested layout SAMM/SAMM/.
        markers=("SAMM_Micro_FACS_Codes_v2.xlsx", "SAMM.xlsx", "SAMM/006"),
        layout="SAMM/<subject>/<Filename>/<subject>_<frame>.jpg + SAMM_Micro_FACS_Codes_v2.xlsx (or SAMM.xlsx, also in ../me_labels/)",
        source=DATABASE.source,
    )
)
