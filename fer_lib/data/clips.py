"""Micro-expression clips: the one loader that every clip database (CASME II, SAMM, SMIC) is an entry of.

Each of these databases ships one frame folder per clip and a coding table (Excel) that gives every clip's
onset, apex and offset frame and its emotion. A :class:`ClipDatabase` entry says what differs between them
(the table's file and column names, how subjects and clip folders are named, the frame file names, the
emotions); :mod:`fer_lib.data.clip_databases` holds the entries. :func:`load_clip_dataset` reads an entry's table
into :class:`ClipRecord`s, finds each clip's folder, picks the frames (onset + apex for optical flow, onset + apex +
offset, or T frames for sequence models), decodes them once into a cached ``(N, T, H, W, C)`` uint8 array at native
resolution (faces are cropped later, by preprocessing) and selects the classes: the database's own emotions
or the three MEGC2019 classes.

Frames are found by the number in their file name (``img46.jpg``, ``006_05562.jpg``, ``image17581039.bmp``),
so zero padding does not matter.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Union

import numpy as np
import pandas as pd

from .base import FaceDataset
from .cache import cached_dataset
from .errors import DatasetFormatError, DatasetNotFoundError
from .io import Color, read_image
from .labels import MEGC_CLASSES, megc_class

log = logging.getLogger(__name__)

FrameSelection = Union[Literal["onset_apex", "onset_apex_offset"], int]
ClassSet = Literal["megc3", "emotion"]
Missing = Literal["warn", "error"]

NAMED_SELECTIONS = ("onset_apex", "onset_apex_offset")
UNKNOWN_FRAME = ("", "/", "-")  # how coding tables write "not annotated"
HEADER_SEARCH_ROWS = 30  # SAMM's table has title rows above its header (row 14 in SAMM_Micro_FACS_Codes_v2.xlsx)
LABEL_FOLDER = "me_labels"  # where our data root ships the SAMM and SMIC coding tables


def normalize_column(name: str) -> str:
    """Column key that ignores case, spaces and underscores (``Onset Frame``, ``OnsetFrame``, ``onset_frame``)."""
    return re.sub(r"[\s_]+", "", name).lower()


@dataclass(frozen=True)
class ClipColumns:
    """A coding table's columns, written as the table heads them: they are matched with :func:`normalize_column`
    and error messages quote them. ``None``: the table has no such column."""

    subject: str
    clip: str  # the clip's frame folder name
    onset: str
    apex: str
    offset: str
    emotion: str | None = None  # None: the emotion is the class code in the clip name
    action_units: str | None = None
    label: str | None = None  # a class index, checked to agree with the clip name's class code

    def keys(self) -> tuple[str, ...]:
        """The normalized names of the columns a header row must hold."""
        names = (self.subject, self.clip, self.label, self.onset, self.apex, self.offset, self.action_units, self.emotion)
        return tuple(normalize_column(name) for name in names if name is not None)


@dataclass(frozen=True)
class ClipDatabase:
    """One clip database: everything that differs between them. A new clip database is a new instance of this
    (in :data:`fer_lib.data.clip_databases.CLIP_DATABASES`), not new code.

    Paths of clip folders are built from ``subject_id`` and ``clip_folder``, :meth:`str.format` templates with the
    fields ``number`` (the subject number read from the table), ``subject`` (the subject id), ``emotion`` and
    ``clip`` (the clip name from the table).
    """

    name: str
    title: str
    source: str  # where users obtain the database
    emotions: tuple[str, ...]  # the ``emotion`` classes, lower case
    table_names: tuple[str, ...]  # file names the coding table is shipped under, in order of preference
    columns: ClipColumns
    frames_dir: str  # the folder of clip folders, relative to the dataset folder
    subject_prefix: str  # regex that may precede the subject number in the table (``sub`` of ``sub01``)
    subject_id: str  # template of the subject id, as MEGC2019 names subjects (``sub{number:02d}``)
    clip_folder: str  # template of a clip's folder under ``frames_dir`` (``{subject}/{clip}``)
    frame_file: re.Pattern[str]  # full match of a frame's file name; group "frame" is the frame number
    frame_hint: str  # how frame files are named, for error messages
    folders: tuple[str, ...]  # registry: names of the dataset folder under the data root
    markers: tuple[str, ...]  # registry: paths whose presence identifies the dataset folder
    layout: str  # registry: the layout, for "not found" errors
    offset_optional: bool = False  # an unannotated offset means the clip folder's last frame (else it is an error)
    # Clip names that encode subject and class (SMIC's s3_po_01): a full match with group "code" (a key of
    # ``emotion_codes``) and optionally "subject" (must equal the subject column); ``clip_hint`` describes it.
    clip_pattern: re.Pattern[str] | None = None
    clip_hint: str = ""
    emotion_codes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        coded = self.clip_pattern is not None and "code" in self.clip_pattern.groupindex
        if (self.columns.emotion is None) != coded:
            raise ValueError(f"clip database {self.name}: the emotion must come from exactly one of an emotion column or a clip_pattern group 'code'")
        if self.columns.label is not None and not coded:
            raise ValueError(f"clip database {self.name}: a label column is checked against the clip name's code; give a clip_pattern group 'code'")
        if not set(self.emotion_codes.values()) <= set(self.emotions):
            raise ValueError(f"clip database {self.name}: emotion_codes {dict(self.emotion_codes)} name emotions outside {self.emotions}")


@dataclass(frozen=True)
class ClipRecord:
    """One row of a coding table: a clip, its annotated frames and where its frames should be.

    ``apex`` is ``None`` when the table gives none (``/``); ``offset`` is ``None`` when the table gives none
    (some SMIC rows), and is then the last frame of the clip folder.
    """

    subject: str
    episode: str
    folder: Path
    onset: int
    apex: int | None
    offset: int | None
    emotion: str
    action_units: str
    row: int  # the table row, as Excel numbers it

    @property
    def sample_id(self) -> str:
        return f"{self.subject}/{self.episode}"


def read_coding_table(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """``(row number, cells)`` for each row of an Excel coding table; cells are stripped strings keyed by
    :func:`normalize_column` names, row numbers as Excel shows them.

    The header is the first row (of any sheet, within the first rows) that holds every key of ``columns``.
    Empty rows are not clips and are dropped.
    """
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=str, na_filter=False)
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise DatasetFormatError(f"Cannot read the coding table {path} as an Excel file ({error})") from None
    for sheet in sheets.values():
        cells = sheet.map(str.strip)
        for index in cells.index[:HEADER_SEARCH_ROWS]:
            keys = [normalize_column(c) for c in cells.loc[index]]
            if set(columns) <= set(keys):
                body = cells.loc[index + 1 :]
                body = body[(body != "").any(axis=1)]
                return [(int(i) + 1, {k: row[j] for j, k in enumerate(keys) if k}) for i, row in zip(body.index, body.itertuples(index=False))]
    raise DatasetFormatError(
        f"Coding table {path} has no header row with the columns {list(columns)} (compared ignoring case, spaces "
        f"and underscores) in the first {HEADER_SEARCH_ROWS} rows of any sheet"
    )


def find_coding_table(folder: Path, frames_dir: Path, database: ClipDatabase) -> Path:
    """The coding table: in the dataset folder, its frame folder, ``me_labels/`` inside it or ``me_labels/`` beside it."""
    places = (folder, frames_dir, folder / LABEL_FOLDER, folder.parent / LABEL_FOLDER)
    for place in places:
        for name in database.table_names:
            if (place / name).is_file():
                return place / name
    raise DatasetNotFoundError(
        f"{database.title} coding table {' or '.join(database.table_names)} not found in any of {[str(p) for p in places]}. "
        f"It comes with the dataset: obtain {database.title} from {database.source}"
    )


def _clip_record(database: ClipDatabase, row: int, cells: dict[str, str], table: Path, frames_dir: Path) -> ClipRecord:
    """The clip of one coding-table row, with every cell checked; errors name the table, the row and the column."""
    columns = database.columns

    def cell(column: str) -> str:
        return cells[normalize_column(column)]

    number = subject_number(cell(columns.subject), table, row, database.subject_prefix)
    subject = database.subject_id.format(number=number)
    episode = clip_name(cell(columns.clip), table, row, columns.clip)
    # The emotion is coded in the clip name (checked before the frames) or has its own column (checked after them).
    coded = _coded_emotion(database, episode, number, table, row) if columns.emotion is None else ""
    if columns.emotion is None and columns.label is not None:
        label = database.emotions.index(coded)
        if cell(columns.label) != str(label):
            raise DatasetFormatError(f"{table} row {row}: label {cell(columns.label)!r} disagrees with clip {episode} ({coded} is {label})")
    offset_number = optional_frame_number if database.offset_optional else frame_number
    onset = frame_number(cell(columns.onset), table, row, columns.onset)
    apex = optional_frame_number(cell(columns.apex), table, row, columns.apex)
    offset = offset_number(cell(columns.offset), table, row, columns.offset)
    emotion = coded if columns.emotion is None else emotion_name(cell(columns.emotion), database, table, row)
    return ClipRecord(
        subject=subject,
        episode=episode,
        folder=frames_dir / database.clip_folder.format(number=number, subject=subject, emotion=emotion, clip=episode),
        onset=onset,
        apex=apex,
        offset=offset,
        emotion=emotion,
        action_units="" if columns.action_units is None else cell(columns.action_units),
        row=row,
    )


def _coded_emotion(database: ClipDatabase, episode: str, number: int, table: Path, row: int) -> str:
    """The emotion a clip name encodes (``s3_po_01``: positive), checked to name the row's subject."""
    assert database.clip_pattern is not None  # ClipDatabase requires it when the table has no emotion column
    match = database.clip_pattern.fullmatch(episode)
    if match is None or match["code"].lower() not in database.emotion_codes:
        raise DatasetFormatError(f"{table} row {row}: clip {episode!r} is not named {database.clip_hint}")
    clip_subject = int(match["subject"]) if "subject" in database.clip_pattern.groupindex else number
    if clip_subject != number:
        raise DatasetFormatError(f"{table} row {row}: clip {episode} belongs to subject {clip_subject}, but the subject column says {number}")
    return database.emotion_codes[match["code"].lower()]


def frame_number(value: str, table: Path, row: int, column: str) -> int:
    """A frame number cell (``46``; Excel may store ``46.0``) as an int."""
    match = re.fullmatch(r"(\d+)(\.0*)?", value)
    if match is None:
        raise DatasetFormatError(f"{table} row {row}: {column} is {value!r}; expected a frame number")
    return int(match.group(1))


def optional_frame_number(value: str, table: Path, row: int, column: str) -> int | None:
    """Like :func:`frame_number`, but ``None`` for an unannotated cell (``/``, ``-`` or empty)."""
    return None if value in UNKNOWN_FRAME else frame_number(value, table, row, column)


def clip_name(value: str, table: Path, row: int, column: str) -> str:
    """A clip (folder) name cell, checked to be one non-empty path component."""
    if not value or "/" in value or "\\" in value or value in (".", ".."):
        raise DatasetFormatError(f"{table} row {row}: {column} is {value!r}; expected a clip folder name")
    return value


def subject_number(value: str, table: Path, row: int, prefix: str = "") -> int:
    """A subject cell (``1``, ``01``, ``006``, or with ``prefix``: ``sub01``) as an int."""
    match = re.fullmatch(rf"(?:{prefix})?(\d+)(\.0*)?", value, re.IGNORECASE)
    if match is None:
        raise DatasetFormatError(f"{table} row {row}: subject is {value!r}; expected a subject number")
    return int(match.group(1))


def emotion_name(value: str, database: ClipDatabase, table: Path, row: int) -> str:
    """A table's emotion cell as one of the database's emotion classes (lower case)."""
    emotion = value.strip().lower()
    if emotion not in database.emotions:
        raise DatasetFormatError(f"{table} row {row}: unknown emotion {value!r}; {database.title} emotions are {database.emotions}")
    return emotion


def load_clip_dataset(
    database: ClipDatabase,
    folder: Path,
    split: str,
    frames: FrameSelection = "onset_apex",
    color: Color = "rgb",
    classes: ClassSet = "megc3",
    missing: Missing = "warn",
    use_cache: bool = True,
) -> FaceDataset:
    """Load the clips of ``database`` present under its dataset folder ``folder``; decode (once, cached) the chosen
    frames and select ``classes``. The registry calls it with ``database`` bound.

    Returns images ``(N, T, H, W, C)`` uint8 at the database's resolution, with T = 2 (``onset_apex``), 3
    (``onset_apex_offset``) or ``frames`` (T frame numbers spread evenly from onset to offset, inclusive).
    ``classes="megc3"`` keeps the clips of the MEGC2019 3-class task, labelled negative / positive / surprise;
    ``"emotion"`` keeps every clip with the database's emotion classes. ``missing="warn"`` loads the clips whose
    folder is present and logs how many are absent; ``"error"`` raises on the first absent folder.
    """
    frames_dir = folder / database.frames_dir
    table = find_coding_table(folder, frames_dir, database)
    records = [_clip_record(database, row, cells, table, frames_dir) for row, cells in read_coding_table(table, database.columns.keys())]
    _check_arguments(frames, color, classes, missing)
    _check_unique(records, table)
    present = _present_clips(database, table, records, frames_dir, missing)
    indexes = _index_frames(database, present)
    resolved = _resolve_frames(database, table, present, indexes)
    chosen = [_choose_frames(r, frames) for r in resolved]
    paths = [[_frame_path(database, table, r, indexes[r.sample_id], n) for n in numbers] for r, numbers in zip(resolved, chosen)]
    unannotated = {r.sample_id for r in present if r.apex is None}
    # One cache entry per frame selection serves both class sets: megc3 is a selection of its rows.
    full = cached_dataset(
        database.name,
        {"frames": frames, "color": color},
        Path(os.path.commonpath([frames_dir, table])),
        [table, *(p for clip in paths for p in clip)],
        lambda: _build(database, split, resolved, chosen, paths, color, unannotated),
        use_cache,
    )
    return _megc3(database, full) if classes == "megc3" else full


def _check_arguments(frames: FrameSelection, color: Color, classes: ClassSet, missing: Missing) -> None:
    if not (frames in NAMED_SELECTIONS or (isinstance(frames, int) and not isinstance(frames, bool) and frames >= 2)):
        raise ValueError(f"frames must be one of {NAMED_SELECTIONS} or an int T >= 2 (frames spread from onset to offset), not {frames!r}")
    if color not in ("gray", "rgb"):
        raise ValueError(f"color must be 'gray' or 'rgb', not {color!r}")
    if classes not in ("megc3", "emotion"):
        raise ValueError(f"classes must be 'megc3' (MEGC2019 negative/positive/surprise) or 'emotion', not {classes!r}")
    if missing not in ("warn", "error"):
        raise ValueError(f"missing must be 'warn' or 'error', not {missing!r}")


def _check_unique(records: list[ClipRecord], table: Path) -> None:
    rows: dict[str, int] = {}
    for record in records:
        if record.sample_id in rows:
            raise DatasetFormatError(f"{table}: clip {record.sample_id} is listed twice (rows {rows[record.sample_id]} and {record.row})")
        rows[record.sample_id] = record.row


def _present_clips(database: ClipDatabase, table: Path, records: list[ClipRecord], frames_dir: Path, missing: Missing) -> list[ClipRecord]:
    """The clips whose frame folder exists; absent ones are an error or a counted warning."""
    present = [r for r in records if r.folder.is_dir()]
    absent = [r for r in records if not r.folder.is_dir()]
    if not present:
        if frames_dir.is_dir():
            where = f"none of the {len(records)} clip folders listed in {table} is in {frames_dir}"
        else:
            where = f"{frames_dir} does not exist"
        example = records[0].folder if records else frames_dir
        raise DatasetNotFoundError(
            f"No {database.title} clip found: {where} (expected e.g. {example}/{database.frame_hint}). "
            f"Obtain {database.title} from {database.source}"
        )
    if absent and missing == "error":
        raise DatasetNotFoundError(
            f"{database.title} clip folder {absent[0].folder} ({table} row {absent[0].row}) does not exist; "
            f"{len(absent)} of {len(records)} clips are absent (missing='warn' loads the {len(present)} present)"
        )
    if absent:
        log.warning(
            "%d of %d %s clips have no frame folder under %s; loading %d (first absent: %s)",
            len(absent), len(records), database.title, frames_dir, len(present), absent[0].folder,
        )
    return present


def _index_frames(database: ClipDatabase, records: list[ClipRecord]) -> dict[str, dict[int, Path]]:
    """Frame number -> file for each clip folder; files that are not frames are counted in one warning."""
    indexes: dict[str, dict[int, Path]] = {}
    ignored: list[str] = []
    for record in records:
        index: dict[int, Path] = {}
        for entry in os.scandir(record.folder):
            match = database.frame_file.fullmatch(entry.name)
            if match is None or not entry.is_file():
                if not entry.name.startswith("."):
                    ignored.append(str(record.folder / entry.name))
                continue
            number = int(match.group("frame"))
            if number in index:
                raise DatasetFormatError(f"{record.folder} holds two files for frame {number}: {index[number].name} and {entry.name}")
            index[number] = Path(entry.path)
        indexes[record.sample_id] = index
    if ignored:
        log.warning(
            "%s: ignored %d files in clip folders that are not frames named %s, e.g. %s",
            database.title, len(ignored), database.frame_hint, ignored[:3],
        )
    return indexes


def _resolve_frames(
    database: ClipDatabase, table: Path, records: list[ClipRecord], indexes: dict[str, dict[int, Path]]
) -> list[ClipRecord]:
    """Fill in unannotated offsets (the folder's last frame) and apexes (the middle frame); check the order."""
    resolved = []
    no_offset = [r for r in records if r.offset is None]
    no_apex = [r for r in records if r.apex is None]
    for record in records:
        index = indexes[record.sample_id]
        if record.offset is None and not index:
            raise DatasetNotFoundError(
                f"{record.folder} holds no frames named {database.frame_hint}; {table} row {record.row} gives no offset to look for"
            )
        offset = max(index) if record.offset is None else record.offset
        apex = (record.onset + offset) // 2 if record.apex is None else record.apex
        if not record.onset <= apex <= offset:
            raise DatasetFormatError(
                f"{table} row {record.row} ({record.sample_id}): frames must satisfy onset <= apex <= offset, got onset "
                f"{record.onset}, apex {apex}, offset {offset}{' (last frame of the folder)' if record.offset is None else ''}"
            )
        resolved.append(dataclasses.replace(record, apex=apex, offset=offset))
    if no_offset:
        log.warning(
            "%d %s clips have no offset in %s: using each folder's last frame (e.g. %s)",
            len(no_offset), database.title, table, no_offset[0].sample_id,
        )
    if no_apex:
        log.warning(
            "%d %s clips have no apex in %s ('/'): using the middle frame between onset and offset (e.g. %s)",
            len(no_apex), database.title, table, no_apex[0].sample_id,
        )
    return resolved


def _choose_frames(record: ClipRecord, frames: FrameSelection) -> list[int]:
    assert record.apex is not None and record.offset is not None  # filled in by _resolve_frames
    if frames == "onset_apex":
        return [record.onset, record.apex]
    if frames == "onset_apex_offset":
        return [record.onset, record.apex, record.offset]
    return [int(n) for n in np.linspace(record.onset, record.offset, int(frames)).round()]


def _frame_path(database: ClipDatabase, table: Path, record: ClipRecord, index: dict[int, Path], number: int) -> Path:
    if number not in index:
        held = f"frames {min(index)}..{max(index)}" if index else "no frames"
        raise DatasetNotFoundError(
            f"Frame {number} of {record.sample_id} ({table} row {record.row}) is missing: no file for frame {number} "
            f"(named {database.frame_hint}) in {record.folder}, which holds {held}"
        )
    return index[number]


def _build(
    database: ClipDatabase,
    split: str,
    records: list[ClipRecord],
    chosen: list[list[int]],
    paths: list[list[Path]],
    color: Color,
    unannotated: set[str],
) -> FaceDataset:
    """The clip dataset with the database's emotion classes (every present clip)."""
    return FaceDataset(
        name=database.name,
        split=split,
        images=_read_clips(paths, color),
        labels=np.array([database.emotions.index(r.emotion) for r in records], dtype=np.int64),
        class_names=database.emotions,
        sample_ids=np.array([r.sample_id for r in records], dtype=str),
        subjects=np.array([r.subject for r in records], dtype=str),
        meta={
            "database": np.array([database.name] * len(records), dtype=str),
            "episode": np.array([r.episode for r in records], dtype=str),
            "onset": np.array([r.onset for r in records], dtype=np.int64),
            "apex": np.array([r.apex for r in records], dtype=np.int64),
            "offset": np.array([r.offset for r in records], dtype=np.int64),
            "apex_annotated": np.array([r.sample_id not in unannotated for r in records], dtype=bool),
            "emotion": np.array([r.emotion for r in records], dtype=str),
            "action_units": np.array([r.action_units for r in records], dtype=str),
            "frame_indices": np.array([",".join(map(str, numbers)) for numbers in chosen], dtype=str),
        },
    )


def _read_clips(paths: list[list[Path]], color: Color) -> np.ndarray:
    """Decode ``paths[clip][t]`` in parallel threads into one preallocated ``(N, T, H, W, C)`` array."""
    flat = [p for clip in paths for p in clip]
    first = read_image(flat[0], color)
    images = np.empty((len(paths), len(paths[0]), *first.shape), np.uint8)
    frames = images.reshape(len(flat), *first.shape)  # a view: filling it fills ``images``

    def fill(i: int) -> None:
        image = read_image(flat[i], color)
        if image.shape != first.shape:
            raise DatasetFormatError(
                f"Frame {flat[i]} is {image.shape[1]}x{image.shape[0]} but {flat[0]} is {first.shape[1]}x{first.shape[0]}; "
                "the clips of one database must share one resolution"
            )
        frames[i] = image

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(fill, range(len(flat))))
    return images


def _megc3(database: ClipDatabase, full: FaceDataset) -> FaceDataset:
    """The clips of the MEGC2019 3-class task, labelled with :data:`MEGC_CLASSES`.

    Left out, each with a logged count: emotions outside the task (others; CASME II fear and sadness), and
    clips whose apex is unannotated or equal to the onset (no onset-to-apex motion). The MEGC2019 composite
    omits those too: CASME II sub04/EP12_01f (apex '/') and sub05/EP09_05f (apex = onset).
    """
    emotions = full.meta["emotion"]
    mapped = np.array([-1 if (c := megc_class(e, database.name)) is None else c for e in emotions], dtype=np.int64)
    no_motion = ~full.meta["apex_annotated"] | (full.meta["apex"] == full.meta["onset"])
    outside = mapped < 0
    if outside.any():
        counts = dict(sorted(Counter(emotions[outside].tolist()).items()))
        log.warning("%s: %d of %d clips are outside the MEGC2019 3-class task and left out: %s", database.title, outside.sum(), len(full), counts)
    dropped = no_motion & ~outside
    if dropped.any():
        log.warning(
            "%s: %d clips left out of the MEGC2019 3-class task because the apex is unannotated or equals the onset, as in the composite: %s",
            database.title, dropped.sum(), full.sample_ids[dropped].tolist(),
        )
    keep = np.flatnonzero(~outside & ~no_motion)
    subset = full.subset(keep)
    return dataclasses.replace(subset, labels=mapped[keep], class_names=MEGC_CLASSES)
