"""CASME II (Yan et al., "CASME II: An Improved Spontaneous Micro-Expression Database and the Baseline
Evaluation", PLoS ONE 2014): 255 micro-expression clips of 26 subjects, 200 fps, 640×480 colour frames.

Layout accepted (the CASME II download), in ``<root>/casme2/`` (or ``CASME2``, ``CASME II``) or the root itself:

* ``CASME2-coding-20140508.xlsx`` — the coding table: Subject (``1`` or ``01``), Filename, OnsetFrame,
  ApexFrame (``/`` where unknown), OffsetFrame, Action Units, Estimated Emotion. It may also sit in
  ``CASME2_RAW_selected/`` or in a ``me_labels/`` folder inside or beside the dataset folder.
* ``CASME2_RAW_selected/sub<NN>/<Filename>/img<frame>.jpg`` — the onset-to-offset frames of each clip.

Clips are named as MEGC2019 names them: subject ``sub01``, sample id ``sub01/EP02_01f``. Emotions (the
``emotion`` classes): happiness, disgust, repression, surprise, fear, sadness, others. The MEGC2019 3-class task
(``classes="megc3"``) maps happiness to positive, disgust and repression to negative and surprise to surprise;
others, fear and sadness are left out, as are clips whose apex is unknown or equals the onset (see
:func:`fer_lib.data.clips.load_clip_dataset`). Split: ``all`` (subject-wise splits are :mod:`fer_lib.data.splits`).
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
from .labels import CASME2_EMOTIONS
from .registry import DatasetSpec, register_dataset

TABLE_NAMES = ("CASME2-coding-20140508.xlsx",)
FRAMES_DIR = "CASME2_RAW_selected"
COLUMNS = ("subject", "filename", "onsetframe", "apexframe", "offsetframe", "actionunits", "estimatedemotion")
DATABASE = ClipDatabase(
    name="casme2",
    title="CASME II",
    source="http://casme.psych.ac.cn/casme/e2",
    emotions=CASME2_EMOTIONS,
    frame_file=re.compile(r"img(?P<frame>\d+)\.jpe?g", re.IGNORECASE),
    frame_hint="img<frame>.jpg",
)


def load_casme2(
    folder: Path,
    split: str,
    frames: FrameSelection = "onset_apex",
    color: Color = "rgb",
    classes: ClassSet = "megc3",
    missing: Missing = "warn",
    use_cache: bool = True,
) -> FaceDataset:
    """Load the CASME II clips present under ``folder``: images ``(N, T, 480, 640, C)`` uint8.

    ``frames``: ``"onset_apex"`` (T=2), ``"onset_apex_offset"`` (T=3) or an int T (evenly from onset to
    offset). ``classes``: ``"megc3"`` or ``"emotion"``. ``missing``: ``"warn"`` loads the clips whose folder
    is present and logs how many are absent; ``"error"`` raises on the first absent folder.
    """
    frames_dir = folder / FRAMES_DIR
    table = find_coding_table(folder, TABLE_NAMES, frames_dir, DATABASE)
    records = [_record(row, cells, table, frames_dir) for row, cells in read_coding_table(table, COLUMNS)]
    return load_clip_dataset(DATABASE, table, records, frames_dir, split, frames, color, classes, missing, use_cache)


def _record(row: int, cells: dict[str, str], table: Path, frames_dir: Path) -> ClipRecord:
    subject = f"sub{subject_number(cells['subject'], table, row, prefix='sub'):02d}"
    episode = clip_name(cells["filename"], table, row, "Filename")
    return ClipRecord(
        subject=subject,
        episode=episode,
        folder=frames_dir / subject / episode,
        onset=frame_number(cells["onsetframe"], table, row, "OnsetFrame"),
        apex=optional_frame_number(cells["apexframe"], table, row, "ApexFrame"),
        offset=frame_number(cells["offsetframe"], table, row, "OffsetFrame"),
        emotion=emotion_name(cells["estimatedemotion"], DATABASE, table, row),
        action_units=cells["actionunits"],
        row=row,
    )


register_dataset(
    DatasetSpec(
        name="casme2",
        title="CASME II",
        load=load_casme2,
        splits=("all",),
        folders=("casme2", "CASME2", "CASME II"),
        markers=("CASME2-coding-20140508.xlsx", "CASME2_RAW_selected"),
        layout="CASME2-coding-20140508.xlsx + CASME2_RAW_selected/sub<NN>/<Filename>/img<frame>.jpg",
        source=DATABASE.source,
    )
)
