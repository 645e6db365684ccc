"""A damaged or incomplete FER2013 copy (bad CSV cells, missing official parts, empty class folders) is an error
naming the file, the row (as a spreadsheet numbers it: the header is row 1) and the fix, never a bare Python error."""

from __future__ import annotations

import re

import pytest

from fer_lib.data import DatasetFormatError, create_dataset
from fer_lib.data.labels import FER2013_CLASSES
from fer_lib.data.layout import scan_class_folders

from .test_data_errors import ck48, fer2013_csv, fer2013_folders, write_image

PIXELS = " ".join(["7"] * 48 * 48)
ROW_FIX = "re-download it or correct that row"


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([("3", PIXELS, "Training"), ("3", PIXELS.replace("7", "x", 1), "Training")], "row 3: pixels must be 2304 integers in 0..255, got 'x'"),
        ([("3", " ".join(["7.0"] * 48 * 48), "Training")], "row 2: pixels must be 2304 integers in 0..255, got '7.0'"),
        ([("3", PIXELS, "Training"), ("3", "", "Training")], "row 3: pixels must be 2304 integers in 0..255, got 0 values"),
        ([("3", PIXELS.replace("7", "256", 1), "Training")], "row 2: pixels must be 2304 integers in 0..255, got 256"),
        ([("3", PIXELS, ""), ("3", PIXELS, "Dev")], "row 2: unknown Usage values ['', 'Dev'] (2 such rows)"),
        ([("3.5", PIXELS, "Training")], "row 2: emotion '3.5' is not a label id 0..6"),
    ],
    ids=["letter-pixel", "float-pixels", "empty-pixels", "pixel-256", "blank-usage", "fractional-emotion"],
)
def test_bad_csv_cell_names_file_row_value_and_fix(tmp_path, rows, expected):
    csv = fer2013_csv(tmp_path, rows)
    with pytest.raises(DatasetFormatError) as error:
        create_dataset("fer2013", tmp_path, "all", use_cache=False)
    assert f"{csv} {expected}" in str(error.value) and ROW_FIX in str(error.value)


def test_zero_byte_csv(tmp_path):
    csv = tmp_path / "fer2013" / "fer2013.csv"
    csv.parent.mkdir()
    csv.write_bytes(b"")
    with pytest.raises(DatasetFormatError, match=f"{re.escape(str(csv))} cannot be read as a CSV .*re-download it"):
        create_dataset("fer2013", tmp_path, use_cache=False)


@pytest.mark.parametrize("split", ["train", "test"])
def test_header_only_csv_is_not_an_empty_dataset(tmp_path, split):
    csv = tmp_path / "fer2013" / "fer2013.csv"
    csv.parent.mkdir()
    csv.write_text("emotion,pixels,Usage\n")
    with pytest.raises(DatasetFormatError) as error:
        create_dataset("fer2013", tmp_path, split, use_cache=False)
    assert str(error.value).startswith(f"no Training/PublicTest/PrivateTest rows in {csv}: the official split needs")
    assert "re-download it" in str(error.value)


def test_csv_without_private_test_rows(tmp_path):
    csv = fer2013_csv(tmp_path, [(str(i), PIXELS, "Training" if i < 5 else "PublicTest") for i in range(7)])
    with pytest.raises(DatasetFormatError, match=f"no PrivateTest rows in {re.escape(str(csv))}: .*re-download it"):
        create_dataset("fer2013", tmp_path, "train", use_cache=False)


@pytest.mark.parametrize("split", ["test", "train"])  # any split: a copy without one official part is incomplete
def test_image_folders_without_private_test_files(tmp_path, split):
    folder = fer2013_folders(tmp_path)
    for file in (folder / "test").rglob("PrivateTest_*.jpg"):
        file.unlink()
    with pytest.raises(DatasetFormatError, match=f"no PrivateTest images in {re.escape(str(folder))}: the official split needs .*re-download it"):
        create_dataset("fer2013", tmp_path, split, use_cache=False)


@pytest.mark.parametrize("leftover", [None, "notes.txt"])  # a folder holding only non-images has no images either
def test_empty_fer2013_class_folder(tmp_path, leftover):
    folder = fer2013_folders(tmp_path)
    for file in (folder / "train" / "disgust").iterdir():
        file.unlink()
    if leftover:
        (folder / "train" / "disgust" / leftover).write_text("x")
    with pytest.raises(DatasetFormatError) as error:
        create_dataset("fer2013", tmp_path, "train", use_cache=False)
    assert str(error.value) == f"{folder / 'train'}: the class folders ['disgust'] hold no images: a partial download or unzip? re-extract it"


def test_empty_ckplus48_class_folder(tmp_path):
    folder = ck48(tmp_path)
    for file in (folder / "fear").iterdir():
        file.unlink()
    expected = f"{folder}: the class folders ['fear'] hold no images: a partial download or unzip? re-extract it"
    with pytest.raises(DatasetFormatError, match=re.escape(expected)):
        create_dataset("ckplus", tmp_path, use_cache=False)


def test_classes_without_images_are_left_to_the_caller_when_not_all_are_required(tmp_path):
    happy = write_image(tmp_path / "happy" / "a.jpg")
    (tmp_path / "sad").mkdir()
    assert scan_class_folders(tmp_path, FER2013_CLASSES, require_all=False) == [(happy, FER2013_CLASSES.index("happy"))]
