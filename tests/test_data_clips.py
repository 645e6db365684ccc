"""Micro-expression clip loaders (CASME II, SAMM, SMIC-HS): fixtures in each database's public layout, every
bad-input case, a new database made of a table entry alone, and the real CASME II sub01 clips and coding tables
under FER_DATA."""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import pandas as pd
import pytest

from fer_lib.data import DatasetFormatError, DatasetNotFoundError, create_dataset
from fer_lib.data.clips import ClipColumns, ClipDatabase, load_clip_dataset
from fer_lib.data.labels import MEGC_CLASSES

CASME2_HEADER = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]
CASME2_ROWS = [
    ["01", "EP02_01f", 46, 49, 52, "12", "happiness"],
    ["01", "EP19_05f", 10, 13, 16, "4+L10", "disgust"],
    ["01", "EP03_02", 1, 3, 5, "18", "others"],
    [2, "EP01_11f", 20, 22, 26, "15", "repression"],  # the README's copy writes Subject as an integer
    ["03", "EP07_01", 5, 8, 11, "1", "sadness"],  # MEGC2019 leaves CASME II sadness out
]
SAMM_HEADER = [
    "Subject", "Filename", "Inducement Code", "Onset Frame", "Apex Frame", "Offset Frame",
    "Duration", "Micro", "Action Units", "Estimated Emotion", "Objective Classes", "Notes",
]
SMIC_HEADER = ["data", "subject", "clip", "label", "onset_frame", "apex_frame", "offset_frame"]
SIZE = (8, 6)  # width, height of fixture frames


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))


def shade(frame: int) -> int:
    """The grey level a fixture frame is filled with, so tests can tell which frame was loaded."""
    return 20 + frame % 200


def write_table(path: Path, header: list, rows: list, title_rows: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    sheet = book.active
    for i in range(title_rows):
        sheet.append([f"title line {i}"])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)


def write_frames(folder: Path, name: str, frames: range | list[int], size: tuple[int, int] = SIZE) -> None:
    """Constant frames ``name.format(n)`` (a uniform image survives JPEG exactly enough to identify it)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in frames:
        cv2.imwrite(str(folder / name.format(n)), np.full((size[1], size[0], 3), shade(n), np.uint8))


def frame_shades(images: np.ndarray) -> np.ndarray:
    """The shade of each loaded frame ``(N, T)``, rounded to undo JPEG noise."""
    return np.rint(images.mean(axis=(2, 3, 4))).astype(int)


def make_casme2(root: Path, rows: list = CASME2_ROWS, absent: tuple[str, ...] = ()) -> Path:
    """``root/casme2/`` with the coding table and every frame onset..offset of each row not in ``absent``."""
    folder = root / "casme2"
    write_table(folder / "CASME2-coding-20140508.xlsx", CASME2_HEADER, rows)
    for subject, episode, onset, _, offset, *_ in rows:
        if episode not in absent:
            write_frames(folder / "CASME2_RAW_selected" / f"sub{int(subject):02d}" / episode, "img{}.jpg", range(onset, offset + 1))
    return folder


def casme2_row(**changes) -> list:
    """A copy of the first fixture row with some cells replaced (keys are the header names)."""
    row = list(CASME2_ROWS[0])
    for key, value in changes.items():
        row[CASME2_HEADER.index(key)] = value
    return row


# --- CASME II -------------------------------------------------------------------------------------------------


def test_casme2_onset_apex_clips_labels_subjects_and_meta(tmp_path):
    make_casme2(tmp_path)
    dataset = create_dataset("casme2", tmp_path, classes="emotion")
    assert dataset.images.shape == (5, 2, 6, 8, 3) and dataset.images.dtype == np.uint8
    expected = [(46, 49), (10, 13), (1, 3), (20, 22), (5, 8)]
    assert frame_shades(dataset.images).tolist() == [[shade(onset), shade(apex)] for onset, apex in expected]
    assert dataset.sample_ids.tolist() == ["sub01/EP02_01f", "sub01/EP19_05f", "sub01/EP03_02", "sub02/EP01_11f", "sub03/EP07_01"]
    assert dataset.subjects.tolist() == ["sub01", "sub01", "sub01", "sub02", "sub03"]
    assert [dataset.class_names[i] for i in dataset.labels] == ["happiness", "disgust", "others", "repression", "sadness"]
    assert dataset.meta["onset"].tolist() == [46, 10, 1, 20, 5] and dataset.meta["offset"].tolist() == [52, 16, 5, 26, 11]
    assert dataset.meta["frame_indices"][0] == "46,49" and dataset.meta["action_units"][1] == "4+L10"
    assert set(dataset.meta["database"]) == {"casme2"} and dataset.meta["episode"][0] == "EP02_01f"


def test_casme2_megc3_maps_emotions_and_logs_what_it_leaves_out(tmp_path, caplog):
    make_casme2(tmp_path)
    with caplog.at_level(logging.WARNING):
        dataset = create_dataset("casme2", tmp_path, classes="megc3")
    assert dataset.class_names == MEGC_CLASSES
    assert dict(zip(dataset.sample_ids, (MEGC_CLASSES[i] for i in dataset.labels))) == {
        "sub01/EP02_01f": "positive", "sub01/EP19_05f": "negative", "sub02/EP01_11f": "negative",
    }
    assert "2 of 5 clips are outside the MEGC2019 3-class task" in caplog.text and "'others': 1" in caplog.text and "'sadness': 1" in caplog.text


def test_casme2_onset_apex_offset_and_t_frames(tmp_path):
    make_casme2(tmp_path)
    three = create_dataset("casme2", tmp_path, frames="onset_apex_offset", classes="emotion")
    assert three.images.shape[:2] == (5, 3)
    assert frame_shades(three.images)[0].tolist() == [shade(46), shade(49), shade(52)]
    four = create_dataset("casme2", tmp_path, frames=4, classes="emotion", color="gray")
    assert four.images.shape == (5, 4, 6, 8, 1)
    assert four.meta["frame_indices"][0] == "46,48,50,52"  # evenly from onset to offset, both included
    assert frame_shades(four.images)[0].tolist() == [shade(n) for n in (46, 48, 50, 52)]


def test_casme2_unannotated_apex_uses_middle_frame_and_megc3_leaves_it_out(tmp_path, caplog):
    rows = [casme2_row(ApexFrame="/"), ["01", "EP19_05f", 10, 10, 16, "4", "disgust"], CASME2_ROWS[3]]
    make_casme2(tmp_path, rows)
    with caplog.at_level(logging.WARNING):
        emotion = create_dataset("casme2", tmp_path, classes="emotion")
    assert emotion.meta["apex"][0] == 49 and not emotion.meta["apex_annotated"][0]
    assert "1 CASME II clips have no apex" in caplog.text and "middle frame" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        megc3 = create_dataset("casme2", tmp_path, classes="megc3")
    assert megc3.sample_ids.tolist() == ["sub02/EP01_11f"]
    assert "2 clips left out" in caplog.text and "sub01/EP19_05f" in caplog.text


def test_casme2_absent_clip_folders_are_counted_in_a_warning(tmp_path, caplog):
    make_casme2(tmp_path, absent=("EP01_11f", "EP07_01"))
    with caplog.at_level(logging.WARNING):
        dataset = create_dataset("casme2", tmp_path, classes="emotion")
    assert len(dataset) == 3
    assert "2 of 5 CASME II clips have no frame folder" in caplog.text and "loading 3" in caplog.text


def test_casme2_missing_error_names_the_absent_folder(tmp_path):
    make_casme2(tmp_path, absent=("EP01_11f",))
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(Path("sub02") / "EP01_11f"))):
        create_dataset("casme2", tmp_path, missing="error")


def test_casme2_no_clip_present_names_folder_and_source(tmp_path):
    write_table(tmp_path / "casme2" / "CASME2-coding-20140508.xlsx", CASME2_HEADER, CASME2_ROWS)
    with pytest.raises(DatasetNotFoundError, match=r"CASME2_RAW_selected does not exist.*casme\.psych\.ac\.cn"):
        create_dataset("casme2", tmp_path)


def test_casme2_no_dataset_under_root_says_where_to_obtain_it(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"CASME II not found.*casme\.psych\.ac\.cn"):
        create_dataset("casme2", tmp_path)


def test_casme2_missing_frame_names_the_file(tmp_path):
    folder = make_casme2(tmp_path)
    (folder / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img49.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"Frame 49 of sub01/EP02_01f .*row 2.*img<frame>\.jpg.*EP02_01f, which holds frames 46\.\.52"):
        create_dataset("casme2", tmp_path)


def test_casme2_missing_coding_table(tmp_path):
    folder = make_casme2(tmp_path)
    (folder / "CASME2-coding-20140508.xlsx").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"coding table CASME2-coding-20140508\.xlsx not found"):
        create_dataset("casme2", tmp_path)


def test_casme2_table_without_a_required_column(tmp_path):
    folder = make_casme2(tmp_path)
    write_table(folder / "CASME2-coding-20140508.xlsx", CASME2_HEADER[:-1], [r[:-1] for r in CASME2_ROWS])
    with pytest.raises(DatasetFormatError, match=r"no header row with the columns .*estimatedemotion"):
        create_dataset("casme2", tmp_path)


def test_casme2_unreadable_table(tmp_path):
    folder = make_casme2(tmp_path)
    (folder / "CASME2-coding-20140508.xlsx").write_text("not a spreadsheet")
    with pytest.raises(DatasetFormatError, match=r"Cannot read the coding table"):
        create_dataset("casme2", tmp_path)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("OnsetFrame", "4x", r"row 2: OnsetFrame is '4x'"),
        ("Subject", "abc", r"row 2: subject is 'abc'"),
        ("Filename", "a/b", r"row 2: Filename is 'a/b'"),
    ],
)
def test_casme2_malformed_cell_names_the_row(tmp_path, column, value, message):
    make_casme2(tmp_path, [casme2_row(**{column: value}), *CASME2_ROWS[1:]], absent=("EP02_01f",))
    with pytest.raises(DatasetFormatError, match=message):
        create_dataset("casme2", tmp_path)


def test_casme2_frames_out_of_order(tmp_path):
    make_casme2(tmp_path, [casme2_row(ApexFrame=60)])
    with pytest.raises(DatasetFormatError, match=r"row 2 \(sub01/EP02_01f\): frames must satisfy onset <= apex <= offset"):
        create_dataset("casme2", tmp_path)


def test_casme2_unknown_emotion(tmp_path):
    make_casme2(tmp_path, [casme2_row(**{"Estimated Emotion": "boredom"})])
    with pytest.raises(DatasetFormatError, match=r"row 2: unknown emotion 'boredom'"):
        create_dataset("casme2", tmp_path)


def test_casme2_duplicate_clip(tmp_path):
    make_casme2(tmp_path, [CASME2_ROWS[0], CASME2_ROWS[1], casme2_row(**{"Subject": 1})])
    with pytest.raises(DatasetFormatError, match=r"sub01/EP02_01f is listed twice \(rows 2 and 4\)"):
        create_dataset("casme2", tmp_path)


def test_casme2_two_files_for_one_frame(tmp_path):
    folder = make_casme2(tmp_path, CASME2_ROWS[:1])
    shutil.copy(folder / "CASME2_RAW_selected/sub01/EP02_01f/img46.jpg", folder / "CASME2_RAW_selected/sub01/EP02_01f/img046.jpg")
    with pytest.raises(DatasetFormatError, match=r"two files for frame 46"):
        create_dataset("casme2", tmp_path)


def test_casme2_corrupt_frame(tmp_path):
    folder = make_casme2(tmp_path)
    (folder / "CASME2_RAW_selected" / "sub01" / "EP19_05f" / "img13.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(DatasetFormatError, match=r"Cannot decode image .*img13\.jpg"):
        create_dataset("casme2", tmp_path, use_cache=False)


def test_casme2_frames_of_another_resolution(tmp_path):
    folder = make_casme2(tmp_path)
    write_frames(folder / "CASME2_RAW_selected" / "sub02" / "EP01_11f", "img{}.jpg", [22], size=(10, 6))
    with pytest.raises(DatasetFormatError, match=r"img22\.jpg is 10x6 but .* is 8x6"):
        create_dataset("casme2", tmp_path, use_cache=False)


@pytest.mark.parametrize(("argument", "value"), [("frames", 1), ("frames", "apex"), ("classes", "seven"), ("color", "bgr"), ("missing", "skip")])
def test_casme2_bad_arguments(tmp_path, argument, value):
    make_casme2(tmp_path)
    with pytest.raises(ValueError, match=argument):
        create_dataset("casme2", tmp_path, **{argument: value})


def test_casme2_decodes_once_and_rebuilds_when_a_frame_changes(tmp_path):
    folder = make_casme2(tmp_path)
    first = create_dataset("casme2", tmp_path, classes="emotion")
    again = create_dataset("casme2", tmp_path, classes="megc3")  # same frames: served from the same cache entry
    assert len(list((tmp_path / "cache").glob("casme2-*.npz"))) == 1
    assert np.array_equal(again.images[0], first.images[0])
    write_frames(folder / "CASME2_RAW_selected" / "sub01" / "EP02_01f", "img{}.jpg", [49], size=SIZE)
    (folder / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img49.jpg").touch()
    create_dataset("casme2", tmp_path, classes="emotion")
    assert len(list((tmp_path / "cache").glob("casme2-*.npz"))) == 2


# --- SAMM -----------------------------------------------------------------------------------------------------


def samm_row(subject: str, episode: str, onset: int, apex: int, offset: int, emotion: str) -> list:
    return [subject, episode, 1, onset, apex, offset, offset - onset + 1, "Micro - 1/2", "4+7", emotion, 3, None]


SAMM_ROWS = [
    samm_row("006", "006_1_2", 5562, 5564, 5566, "Anger"),
    samm_row("006", "006_3_5", 1787, 1789, 1791, "Surprise"),
    samm_row("007", "007_6_2", 96, 98, 100, "Happiness"),
    samm_row("007", "007_4_2", 5900, 5901, 5903, "Other"),
    samm_row("035", "035_7_2", 823, 825, 827, "Contempt"),
]


def make_samm_frames(frames_dir: Path, rows: list = SAMM_ROWS) -> None:
    """Grey frames ``<subject>_<frame>.jpg``, zero-padded to 5 digits for subject 006 and 4 for the others."""
    for subject, episode, _, onset, _, offset, *_ in rows:
        width = 5 if subject == "006" else 4
        write_frames(frames_dir / subject / episode, f"{subject}_{{:0{width}d}}.jpg", range(onset, offset + 1))


def test_samm_release_table_with_title_rows_and_megc3(tmp_path, caplog):
    folder = tmp_path / "SAMM"
    write_table(folder / "SAMM_Micro_FACS_Codes_v2.xlsx", SAMM_HEADER, SAMM_ROWS, title_rows=13)
    make_samm_frames(folder / "SAMM")
    emotion = create_dataset("samm", tmp_path, classes="emotion", color="gray")
    assert emotion.images.shape == (5, 2, 6, 8, 1)
    assert emotion.subjects.tolist() == ["006", "006", "007", "007", "035"]
    assert emotion.sample_ids[0] == "006/006_1_2" and emotion.meta["frame_indices"][0] == "5562,5564"
    assert frame_shades(emotion.images)[2].tolist() == [shade(96), shade(98)]
    assert [emotion.class_names[i] for i in emotion.labels] == ["anger", "surprise", "happiness", "other", "contempt"]
    with caplog.at_level(logging.WARNING):
        megc3 = create_dataset("samm", tmp_path)
    assert [MEGC_CLASSES[i] for i in megc3.labels] == ["negative", "surprise", "positive", "negative"]
    assert "'other': 1" in caplog.text


def test_samm_table_in_sibling_me_labels(tmp_path):
    write_table(tmp_path / "me_labels" / "SAMM.xlsx", SAMM_HEADER, SAMM_ROWS)
    make_samm_frames(tmp_path / "SAMM")
    dataset = create_dataset("samm", tmp_path, frames="onset_apex_offset")
    assert dataset.images.shape == (4, 3, 6, 8, 3)


def test_samm_without_frames_names_folder_and_source(tmp_path):
    write_table(tmp_path / "SAMM" / "SAMM.xlsx", SAMM_HEADER, SAMM_ROWS)
    with pytest.raises(DatasetNotFoundError, match=r"No SAMM clip found: .*SAMM does not exist.*mmu\.ac\.uk"):
        create_dataset("samm", tmp_path)


# --- SMIC-HS --------------------------------------------------------------------------------------------------

SMIC_ROWS = [
    ["smic", 1, "s1_ne_02", 0, 563854, 563856, 563858],
    ["smic", 1, "s1_po_01", 1, 100, 102, 104],
    ["smic", 20, "s20_sur_01", 2, 17597115, 17597117, None],  # some rows give no offset: the folder's last frame
]


def make_smic(root: Path, rows: list = SMIC_ROWS) -> Path:
    folder = root / "smic"
    write_table(folder / "smic_apex.xlsx", SMIC_HEADER, rows)
    codes = {"ne": "negative", "po": "positive", "sur": "surprise"}
    for _, subject, clip, _, onset, _, offset, *_ in rows:
        clip_dir = folder / "SMIC_all_raw" / "HS" / f"s{subject}" / "micro" / codes[clip.split("_")[1]] / clip
        write_frames(clip_dir, "image{}.bmp", range(onset, (offset or onset + 5) + 1))
    return folder


def test_smic_layout_subjects_and_missing_offset(tmp_path, caplog):
    make_smic(tmp_path)
    with caplog.at_level(logging.WARNING):
        dataset = create_dataset("smic", tmp_path, frames="onset_apex_offset")
    assert dataset.class_names == MEGC_CLASSES and dataset.labels.tolist() == [0, 1, 2]
    assert dataset.subjects.tolist() == ["s01", "s01", "s20"]  # as the MEGC2019 composite names them
    assert dataset.sample_ids.tolist() == ["s01/s1_ne_02", "s01/s1_po_01", "s20/s20_sur_01"]
    assert dataset.meta["offset"][2] == 17597120 and "1 SMIC-HS clips have no offset" in caplog.text
    assert frame_shades(dataset.images)[2].tolist() == [shade(17597115), shade(17597117), shade(17597120)]  # .bmp is lossless


def test_smic_emotion_classes_equal_megc3(tmp_path):
    make_smic(tmp_path)
    assert create_dataset("smic", tmp_path, classes="emotion").class_names == create_dataset("smic", tmp_path).class_names


def test_smic_label_disagreeing_with_clip_code(tmp_path):
    make_smic(tmp_path, [["smic", 1, "s1_ne_02", 2, 563854, 563856, 563858]])
    with pytest.raises(DatasetFormatError, match=r"row 2: label '2' disagrees with clip s1_ne_02"):
        create_dataset("smic", tmp_path)


def test_smic_clip_of_another_subject(tmp_path):
    make_smic(tmp_path, [["smic", 2, "s1_ne_02", 0, 563854, 563856, 563858]])
    with pytest.raises(DatasetFormatError, match=r"clip s1_ne_02 belongs to subject 1, but the subject column says 2"):
        create_dataset("smic", tmp_path)


def test_smic_badly_named_clip(tmp_path):
    write_table(tmp_path / "smic" / "smic_apex.xlsx", SMIC_HEADER, [["smic", 1, "s1_angry_02", 0, 1, 2, 3]])
    with pytest.raises(DatasetFormatError, match=r"clip 's1_angry_02' is not named"):
        create_dataset("smic", tmp_path)


# --- a new database is a table entry -------------------------------------------------------------------------

TOY = ClipDatabase(
    name="toy",
    title="Toy ME",
    source="the test suite",
    emotions=("happiness", "surprise", "disgust", "other"),
    table_names=("toy_codes.xlsx",),
    columns=ClipColumns(subject="Participant", clip="Clip", onset="Start", apex="Peak", offset="End", emotion="Emotion"),
    frames_dir="frames",
    subject_prefix="p",
    subject_id="P{number:03d}",
    clip_folder="{subject}/clips/{clip}",
    frame_file=re.compile(r"f(?P<frame>\d+)\.png"),
    frame_hint="f<frame>.png",
    folders=("toy",),
    markers=("toy_codes.xlsx",),
    layout="toy_codes.xlsx + frames/P<NNN>/clips/<Clip>/f<frame>.png",
)


def test_a_new_clip_database_is_a_table_entry(tmp_path, caplog):
    folder = tmp_path / "toy"
    write_table(folder / "me_labels" / "toy_codes.xlsx", ["Participant", "Clip", "Start", "Peak", "End", "Emotion"], [
        ["p1", "c1", 10, 12, 14, "Happiness"], ["2", "c2", 3, 5, 7, "Other"], ["p2", "c3", 30, 31, 32, "surprise"],
    ])
    for subject, clip, frames in (("P001", "c1", range(10, 15)), ("P002", "c2", range(3, 8)), ("P002", "c3", range(30, 33))):
        write_frames(folder / "frames" / subject / "clips" / clip, "f{}.png", frames)
    write_frames(folder / "frames" / "P001" / "clips" / "c1", "img{}.png", [12])  # not this database's frame pattern
    with caplog.at_level(logging.WARNING):
        emotion = load_clip_dataset(TOY, folder, "all", frames="onset_apex_offset", classes="emotion")
    assert emotion.sample_ids.tolist() == ["P001/c1", "P002/c2", "P002/c3"] and emotion.subjects.tolist() == ["P001", "P002", "P002"]
    assert [emotion.class_names[i] for i in emotion.labels] == ["happiness", "other", "surprise"]
    assert frame_shades(emotion.images).tolist() == [[shade(n) for n in clip] for clip in ((10, 12, 14), (3, 5, 7), (30, 31, 32))]
    assert emotion.meta["action_units"].tolist() == ["", "", ""]
    assert "ignored 1 files in clip folders that are not frames named f<frame>.png" in caplog.text
    megc3 = load_clip_dataset(TOY, folder, "all")
    assert dict(zip(megc3.sample_ids, (MEGC_CLASSES[i] for i in megc3.labels))) == {"P001/c1": "positive", "P002/c3": "surprise"}


def test_a_clip_database_entry_needs_one_source_of_emotions():
    with pytest.raises(ValueError, match="exactly one of an emotion column or a clip_pattern"):
        dataclasses.replace(TOY, columns=ClipColumns(subject="s", clip="c", onset="o", apex="a", offset="f"))


# --- real data (FER_DATA) -------------------------------------------------------------------------------------


def megc2019_labels(fer_data: Path, database: str) -> dict[str, str]:
    """Composite ``sub/filename_o -> class`` for one database, from the MEGC2019 index CSV."""
    table = pd.read_csv(fer_data / "megc2019" / "combined_3_class2_for_optical_flow.csv", dtype=str)
    table = table[table["dataset"] == database]
    return {f"{s}/{f}": MEGC_CLASSES[int(c)] for s, f, c in zip(table["sub"], table["filename_o"], table["label"])}


def test_casme2_real_sub01_clips(fer_data, caplog):
    with caplog.at_level(logging.WARNING):
        emotion = create_dataset("casme2", fer_data, classes="emotion")
    assert emotion.images.shape == (9, 2, 480, 640, 3)
    assert set(emotion.subjects) == {"sub01"} and emotion.meta["frame_indices"][0] == "46,59"
    assert "246 of 255 CASME II clips have no frame folder" in caplog.text
    megc3 = create_dataset("casme2", fer_data)
    labels = dict(zip(megc3.sample_ids, (MEGC_CLASSES[i] for i in megc3.labels)))
    assert labels == {"sub01/EP02_01f": "positive", "sub01/EP19_05f": "negative", "sub01/EP19_06f": "negative"}
    composite = megc2019_labels(fer_data, "casme2")
    assert all(composite[k] == v for k, v in labels.items())


def write_real_layout(fer_data: Path, root: Path, database: str) -> None:
    """Copy the real coding table of ``database`` under ``root`` in its public layout, with tiny onset and
    apex frames for every clip it lists."""
    if database == "smic":
        shutil.copy(fer_data / "me_labels/smic_apex.xlsx", root / "smic_apex.xlsx")
        rows = pd.read_excel(root / "smic_apex.xlsx", dtype=str)
        classes = {"ne": "negative", "po": "positive", "sur": "surprise"}
        for subject, clip, onset, apex in zip(rows["subject"], rows["clip"], rows["onset_frame"], rows["apex_frame"]):
            clip_dir = root / "SMIC_all_raw/HS" / f"s{subject}" / "micro" / classes[clip.split("_")[1]] / clip
            write_frames(clip_dir, "image{}.bmp", [int(onset), int(apex)], size=(4, 4))
        return
    table = fer_data / ("casme2/CASME2-coding-20140508.xlsx" if database == "casme2" else "me_labels/SAMM.xlsx")
    shutil.copy(table, root / table.name)
    rows = pd.read_excel(root / table.name, dtype=str)
    rows.columns = [c.replace(" ", "") for c in rows.columns]
    for subject, episode, onset, apex in zip(rows["Subject"], rows["Filename"], rows["OnsetFrame"], rows["ApexFrame"]):
        if database == "casme2":
            clip_dir, name = root / "CASME2_RAW_selected" / f"sub{int(subject):02d}" / episode, "img{}.jpg"
        else:
            clip_dir, name = root / "SAMM" / subject / episode, subject + "_{:05d}.jpg"
        write_frames(clip_dir, name, [int(onset), int(apex)], size=(4, 4))


@pytest.mark.parametrize("database", ["casme2", "samm", "smic"])
def test_real_coding_tables_give_the_megc2019_composite(fer_data, tmp_path, database):
    """Each real coding table, with tiny frames written for every clip, gives the composite's clips and labels
    under classes="megc3", with subjects named alike. The one difference: this copy of the CASME II table gives
    sub04/EP12_01f an apex (300) where the public release has '/', so the raw loader keeps that clip."""
    root = tmp_path / database
    root.mkdir()
    write_real_layout(fer_data, root, database)
    dataset = create_dataset(database, tmp_path)
    # The composite writes SMIC clips with a zero-padded subject (s01_ne_01 for the folder s1_ne_01).
    ids = [re.sub(r"/s(\d+)_", lambda m: f"/s{int(m[1]):02d}_", i) for i in dataset.sample_ids]
    raw = dict(zip(ids, (MEGC_CLASSES[i] for i in dataset.labels)))
    composite = megc2019_labels(fer_data, database)
    assert set(raw) - set(composite) == ({"sub04/EP12_01f"} if database == "casme2" else set())
    assert set(composite) <= set(raw) and all(raw[k] == v for k, v in composite.items())
    assert set(dataset.subjects) == {k.split("/")[0] for k in composite}
