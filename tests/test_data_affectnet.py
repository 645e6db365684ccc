"""AffectNet loader on tiny copies of both layouts users have: the official CSV lists + Manually_Annotated_Images,
and the Kaggle / AffectNet-HQ ``train/<class>/``, ``val/<class>/`` image folders (class names or ids 0..7)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from fer_lib.data import DatasetFormatError, DatasetNotFoundError, create_dataset
from fer_lib.data.affectnet import load_affectnet

from .fixtures_data import (
    AFFECTNET_FOLDERS_NAMED,
    AFFECTNET_FOLDERS_NUMERIC,
    AFFECTNET_HEADER,
    FACE_VALUE,
    affectnet_line,
    make_affectnet_csv,
    make_affectnet_folders,
    write_flat,
    write_garbage,
)

CLASSES_8 = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def official(tmp_path):
    return make_affectnet_csv(tmp_path / "data" / "AffectNet")


def append_training_row(folder, line):
    with (folder / "Manually_Annotated_file_lists/training.csv").open("a") as f:
        f.write(line)


# --- official CSV layout ---------------------------------------------------------------------------------------


def test_train_drops_non_expressions_per_reason_and_crops_face(official, caplog):
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.affectnet"):
        train = load_affectnet(official, "train", image_size=8, use_cache=False)
    assert "dropped 4 rows that hold no expression: {'no-face': 2, 'none': 1, 'uncertain': 1}" in caplog.text
    assert train.class_names == CLASSES_8 and train.subjects is None
    assert train.sample_ids.tolist() == ["689/a1.jpg", "689/a2.jpg", "12/b1.png", "12/b2.jpg"]
    assert [train.class_names[i] for i in train.labels] == ["neutral", "happy", "angry", "contempt"]
    assert train.images.shape == (4, 8, 8, 3)
    assert np.abs(train.images.astype(int) - FACE_VALUE).max() <= 6  # the face box, not the black background
    np.testing.assert_allclose(train.meta["valence"], 0.25)
    np.testing.assert_allclose(train.meta["arousal"], -0.5)


@pytest.mark.parametrize("validation_header", [False, True])
@pytest.mark.parametrize("split", ["test", "validation"])
def test_official_validation_set_is_split_test(tmp_path, split, validation_header):
    make_affectnet_csv(tmp_path / "AffectNet", validation_header=validation_header)
    test = create_dataset("affectnet", tmp_path, split, image_size=8, color="gray")
    assert test.split == "test" and test.images.shape == (3, 8, 8, 1)
    assert test.sample_ids.tolist() == ["1/v1.jpg", "1/v2.jpg", "2/v3.jpg"]
    assert [test.class_names[i] for i in test.labels] == ["surprise", "contempt", "disgust"]


def test_val_is_not_an_alias(official):
    with pytest.raises(ValueError, match="splits"):
        create_dataset("affectnet", official.parent, "val")


def test_all_joins_splits_and_caches_each(official, cache):
    first = load_affectnet(official, "all", image_size=8)
    second = load_affectnet(official, "all", image_size=8)
    assert len(first) == 7 and first.meta["split"].tolist() == ["train"] * 4 + ["test"] * 3
    assert len(list(cache.glob("affectnet-*.npz"))) == 2
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert (first.sample_ids == second.sample_ids).all()


def test_seven_classes_drop_contempt(official, caplog):
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.affectnet"):
        dataset = load_affectnet(official, "all", image_size=8, classes=7, use_cache=False)
    assert dataset.class_names == CLASSES_8[:7] and len(dataset) == 5
    assert caplog.text.count("dropped 1 contempt samples") == 2
    with pytest.raises(ValueError, match="7"):
        load_affectnet(official, "all", classes=6)


def test_images_in_manually_annotated_subfolder(official):
    (official / "Manually_Annotated").mkdir()
    (official / "Manually_Annotated_Images").rename(official / "Manually_Annotated/Manually_Annotated_Images")
    assert len(load_affectnet(official, "test", image_size=8, use_cache=False)) == 3


def test_missing_root_says_where_to_obtain(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="mohammadmahoor"):
        create_dataset("affectnet", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="mohammadmahoor"):
        load_affectnet(tmp_path / "nowhere", "train")


def test_wrong_layout(tmp_path):
    write_flat(tmp_path / "AffectNet" / "images" / "a.jpg", 0)
    with pytest.raises(DatasetNotFoundError, match="Manually_Annotated_file_lists/training.csv"):
        load_affectnet(tmp_path / "AffectNet", "train")


def test_missing_images_folder(official):
    (official / "Manually_Annotated_Images").rename(official / "images")
    with pytest.raises(DatasetNotFoundError, match="Manually_Annotated_Images"):
        load_affectnet(official, "train")


def test_missing_list_file(official):
    (official / "Manually_Annotated_file_lists/validation.csv").unlink()
    with pytest.raises(DatasetNotFoundError, match="validation.csv does not exist"):
        load_affectnet(official, "test")


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", "not a readable CSV"),
        ("subDirectory_filePath,face_x,expression\n689/a1.jpg,1,2\n", "lacks the columns"),
        ("689/a1.jpg,1,2\n", "neither the header"),
        (AFFECTNET_HEADER + "\n", "no rows"),
    ],
    ids=["empty", "missing-columns", "no-header-wrong-width", "header-only"],
)
def test_malformed_list_file(official, content, error):
    (official / "Manually_Annotated_file_lists/training.csv").write_text(content)
    with pytest.raises(DatasetFormatError, match=error):
        load_affectnet(official, "train")


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (affectnet_line("5/z.jpg", 11), "expression 11 is out of range"),
        (affectnet_line("5/z.jpg", -1), "expression -1 is out of range"),
        (affectnet_line("5/z.jpg", 0).replace(",0,0.25", ",happy,0.25"), "must be numbers"),
        (affectnet_line("689/a1.jpg", 2), "listed twice"),
    ],
    ids=["label-11", "label-negative", "label-not-a-number", "duplicate"],
)
def test_bad_rows_name_the_line(official, line, error):
    append_training_row(official, line)
    with pytest.raises(DatasetFormatError, match=error) as info:
        load_affectnet(official, "train")
    assert "training.csv line 10" in str(info.value)  # header + 8 rows, then the bad one


def test_missing_image_is_named(official):
    (official / "Manually_Annotated_Images/12/b2.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match="12/b2.jpg"):
        load_affectnet(official, "train")


def test_corrupt_image_is_named(official):
    write_garbage(official / "Manually_Annotated_Images/689/a2.jpg")
    with pytest.raises(DatasetFormatError, match="689/a2.jpg"):
        load_affectnet(official, "train", use_cache=False)


def test_face_box_outside_image(official):
    append_training_row(official, affectnet_line("5/far.jpg", 1, box=(100, 100, 120, 120)))
    write_flat(official / "Manually_Annotated_Images/5/far.jpg", 0)
    with pytest.raises(DatasetFormatError, match="5/far.jpg"):
        load_affectnet(official, "train", use_cache=False)


# --- image-folder layout -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", [AFFECTNET_FOLDERS_NAMED, AFFECTNET_FOLDERS_NUMERIC], ids=["names", "ids"])
def test_image_folders_with_class_names_or_ids(tmp_path, layout):
    make_affectnet_folders(tmp_path / "affectnet", layout)
    train = create_dataset("affectnet", tmp_path, "train", image_size=8)
    test = create_dataset("affectnet", tmp_path, "test", image_size=8, classes=7)
    assert {k: v for k, v in train.class_counts().items() if v} == {"happy": 1, "angry": 2, "contempt": 1}
    assert train.sample_ids[0].startswith("train/") and train.images.shape == (4, 8, 8, 3)
    assert test.class_names == CLASSES_8[:7] and [test.class_names[i] for i in test.labels] == ["neutral"]
    assert len(create_dataset("affectnet", tmp_path, "all", image_size=8)) == 6


def test_image_folders_extra_entries_are_logged(tmp_path, caplog):
    folder = make_affectnet_folders(tmp_path, AFFECTNET_FOLDERS_NAMED)
    (folder / "README.md").write_text("copy of AffectNet\n")
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.affectnet"):
        load_affectnet(folder, "train", image_size=8, use_cache=False)
    assert "ignored 1 entries that are not the split folders" in caplog.text


@pytest.mark.parametrize(
    ("class_folder", "error"),
    [("happyish", "Unknown class name 'happyish'"), ("8", "not an AffectNet expression id"), ("1", "both hold class happy")],
    ids=["unknown-name", "id-8", "duplicate-class"],
)
def test_bad_class_folders(tmp_path, class_folder, error):
    folder = make_affectnet_folders(tmp_path, AFFECTNET_FOLDERS_NAMED)
    write_flat(folder / "train" / class_folder / "x.jpg", 0)
    with pytest.raises(DatasetFormatError, match=error):
        load_affectnet(folder, "train", use_cache=False)


def test_image_folders_missing_split(tmp_path):
    folder = make_affectnet_folders(tmp_path, [("train", "happy", 1)])
    with pytest.raises(DatasetNotFoundError, match="val"):
        load_affectnet(folder, "test")


def test_image_folders_corrupt_image(tmp_path):
    folder = make_affectnet_folders(tmp_path, AFFECTNET_FOLDERS_NAMED)
    write_garbage(folder / "val/neutral/image0000.jpg")
    with pytest.raises(DatasetFormatError, match="val/neutral/image0000.jpg"):
        load_affectnet(folder, "test", use_cache=False)
