"""BU-3DFE and BU-4DFE loaders on fixtures in their distributed layouts: a real face (a frame of the data root's
video) where a face must be found, flat grey photographs where none can be."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer_lib.__main__ import main
from fer_lib.data import DatasetFormatError, DatasetNotFoundError, create_dataset
from fer_lib.data.bu3dfe import load_bu3dfe
from fer_lib.data.bu4dfe import load_bu4dfe
from fer_lib.data.labels import FER2013_CLASSES

from .fixtures_data import real_video_frame, write_flat


@pytest.fixture(scope="module")
def face(fer_data: Path) -> np.ndarray:
    return real_video_frame(fer_data)


def write_image(path: Path, image: np.ndarray | None) -> Path:
    """``image`` (BGR) at ``path``, or a flat grey photograph without a face for ``None``; beside it a 3D file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((120, 160), 90, np.uint8) if image is None else image)
    return path


# --- BU-3DFE: <subject>/<subject>_<EXPR><intensity><race>_F2D.bmp ----------------------------------------------

BU3DFE_FILES = ("F0001_AN01WH_F2D.bmp", "F0001_AN04WH_F2D.bmp", "F0001_NE00WH_F2D.bmp", "M0002_HA03AE_F2D.bmp", "M0002_SU04AE_F2D.bmp")


def make_bu3dfe(root: Path, face: np.ndarray | None, names: tuple[str, ...] = BU3DFE_FILES) -> Path:
    folder = root / "BU-3DFE"
    for name in names:
        write_image(folder / name[:5] / name, face)
        (folder / name[:5] / name.replace("_F2D.bmp", "_F3D.wrl")).write_text("#VRML V2.0 utf8\n")
    return folder


def test_bu3dfe_labels_subjects_and_meta(tmp_path, face):
    make_bu3dfe(tmp_path, face)
    dataset = create_dataset("bu3dfe", tmp_path, image_size=32, use_cache=False)
    assert dataset.class_names == FER2013_CLASSES and dataset.images.shape == (5, 32, 32, 1)
    assert [dataset.class_names[i] for i in dataset.labels] == ["angry", "angry", "neutral", "happy", "surprise"]
    assert dataset.subjects.tolist() == ["F0001", "F0001", "F0001", "M0002", "M0002"]
    assert dataset.meta["intensity"].tolist() == [1, 4, 0, 3, 4]
    assert dataset.meta["race"].tolist() == ["WH", "WH", "WH", "AE", "AE"] and dataset.meta["gender"].tolist() == ["F", "F", "F", "M", "M"]
    assert dataset.sample_ids[0] == "F0001/F0001_AN01WH_F2D.bmp"


def test_bu3dfe_intensities_and_neutral_select_the_photographs(tmp_path, face):
    folder = make_bu3dfe(tmp_path, face)
    strongest = load_bu3dfe(folder, intensities=[3, 4], neutral=False, image_size=16, use_cache=False)
    assert strongest.meta["intensity"].tolist() == [4, 3, 4]
    for bad in ([5], 3, []):
        with pytest.raises(ValueError, match=rf"intensities must be a list of levels among \(1, 2, 3, 4\), got {re.escape(repr(bad))}"):
            load_bu3dfe(folder, intensities=bad)
    with pytest.raises(DatasetFormatError, match=r"no photograph of intensities \(2,\)$"):
        load_bu3dfe(folder, intensities=[2], neutral=False)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("F0001_XX01WH_F2D.bmp", "expression code XX is not one of"),
        ("F0001_AN07WH_F2D.bmp", "intensity 07 is not one of 01..04"),
        ("F0001_NE02WH_F2D.bmp", r"intensity 02 is not 00 \(neutral\)"),
        ("F0003_AN01WH_F2D.bmp", "names subject F0003 but lies in the folder of F0001"),
        ("F0001_AN01_F2D.bmp", "texture photographs are named <subject>_<EXPR><intensity><race>_F2D"),
    ],
)
def test_bu3dfe_bad_file_names_are_named(tmp_path, name, message):
    folder = make_bu3dfe(tmp_path, None, ("F0001_AN01WH_F2D.bmp",))
    write_image(folder / "F0001" / name, None)
    with pytest.raises(DatasetFormatError, match=message) as info:
        load_bu3dfe(folder, use_cache=False)
    assert str(folder / "F0001" / name) in str(info.value)


def test_bu3dfe_photograph_without_a_face(tmp_path, face, caplog):
    folder = make_bu3dfe(tmp_path, face, BU3DFE_FILES[:2])
    no_face = write_image(folder / "M0002" / "M0002_SA02BL_F2D.bmp", None)
    with pytest.raises(DatasetFormatError, match=f"No face found in BU-3DFE image {no_face} .*datasets --loader-option bu3dfe.on_no_face=skip"):
        load_bu3dfe(folder, use_cache=False)
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.uncropped"):
        dataset = load_bu3dfe(folder, on_no_face="skip", use_cache=False)
    assert len(dataset) == 2 and f"BU-3DFE image M0002_SA02BL_F2D.bmp left out (on_no_face='skip'): no face found in {no_face}" in caplog.text


def test_bu3dfe_layout_errors(tmp_path, caplog):
    with pytest.raises(DatasetNotFoundError, match="BU-3DFE not found under .*F0001/F0001_AN01WH_F2D.bmp"):
        create_dataset("bu3dfe", tmp_path)
    folder = make_bu3dfe(tmp_path, None, ("F0001_AN01WH_F2D.bmp",))
    (folder / "M0004").mkdir()
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.bu3dfe"), pytest.raises(DatasetFormatError, match="No face found"):
        load_bu3dfe(folder, use_cache=False)
    assert f"BU-3DFE subject folder {folder / 'M0004'} holds no *_F2D image" in caplog.text


# --- BU-4DFE: <subject>/<Expression>/<frame>.jpg ------------------------------------------------------------------


def make_bu4dfe(root: Path, face: np.ndarray | None, sequences: dict[tuple[str, str], int]) -> Path:
    """``root/BU4DFE`` with ``count`` frames per (subject, expression folder): frame k has a face only near the middle
    (the middle three of an odd count), so a loader that takes other frames fails to find it."""
    folder = root / "BU4DFE"
    for (subject, expression), count in sequences.items():
        middle = {count // 2 - 1, count // 2, count // 2 + 1}
        for k in range(count):
            write_image(folder / subject / expression / f"{k:03d}.jpg", face if k in middle else None)
            (folder / subject / expression / f"{k:03d}.wrl").write_text("#VRML V2.0 utf8\n")
    (folder / "BU_WrlViewer_V2").mkdir(parents=True)
    return folder


def test_bu4dfe_takes_the_middle_frames_of_each_sequence(tmp_path, face, caplog):
    make_bu4dfe(tmp_path, face, {("F001", "Angry"): 9, ("F001", "Happy"): 7, ("M002", "surprise"): 11})
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.layout"):
        dataset = create_dataset("bu4dfe", tmp_path, image_size=24, use_cache=False)
    assert "1 entries are not subject folders (F001/ .. M043/) and are not read: BU_WrlViewer_V2" in caplog.text
    assert dataset.class_names == FER2013_CLASSES[:-1] and dataset.images.shape == (9, 24, 24, 1)
    assert dataset.meta["frame"].tolist() == [3, 4, 5, 2, 3, 4, 4, 5, 6]
    assert [dataset.class_names[i] for i in dataset.labels[::3]] == ["angry", "happy", "surprise"]
    assert dataset.subjects.tolist() == ["F001"] * 6 + ["M002"] * 3 and dataset.meta["sequence"][0] == "F001/Angry"
    assert dataset.sample_ids[0] == "F001/Angry/003.jpg"


def test_bu4dfe_sequence_errors(tmp_path, face, caplog):
    folder = make_bu4dfe(tmp_path, face, {("F001", "Angry"): 2})
    with pytest.raises(DatasetNotFoundError, match=r"BU-4DFE sequence .*F001/Angry holds 2 numbered frame images \(000.jpg, …\); 3 are taken"):
        load_bu4dfe(folder, use_cache=False)
    write_image(folder / "F001" / "Contempt" / "000.jpg", None)
    with pytest.raises(DatasetFormatError, match="Class 'Contempt' in .*F001/Contempt is not a class of this dataset"):
        load_bu4dfe(folder, frames_per_sequence=1, use_cache=False)
    with pytest.raises(ValueError, match="frames_per_sequence must be an integer >= 1, got 0"):
        load_bu4dfe(folder, frames_per_sequence=0)


def test_bu4dfe_frame_without_a_face_leaves_out_its_sequence_only_when_asked(tmp_path, face, caplog):
    folder = make_bu4dfe(tmp_path, face, {("F001", "Fear"): 5, ("F002", "Sad"): 5})
    write_image(folder / "F002" / "Sad" / "002.jpg", None)
    with pytest.raises(DatasetFormatError, match=r"No face found in BU-4DFE frame .*F002/Sad/002.jpg .*leave out such sequences"):
        load_bu4dfe(folder, use_cache=False)
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.uncropped"):
        dataset = load_bu4dfe(folder, on_no_face="skip", use_cache=False)
    assert dataset.subjects.tolist() == ["F001"] * 3 and "BU-4DFE sequence F002/Sad left out (on_no_face='skip')" in caplog.text


def test_the_datasets_command_counts_both(tmp_path, face, capsys):
    make_bu3dfe(tmp_path, face, BU3DFE_FILES[:2])
    make_bu4dfe(tmp_path, face, {("M001", "Disgust"): 3})
    assert main(["datasets", "--root", str(tmp_path), "--loader-option", "bu3dfe.intensities=[4]"]) == 0
    out = capsys.readouterr().out
    assert "bu3dfe     all    n=1, 1 subjects: angry=1 disgust=0" in out and "bu4dfe     all    n=3, 1 subjects: angry=0 disgust=3" in out
