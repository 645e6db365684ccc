"""AffectNet loader on tiny copies of the layouts users have: the official CSV lists + Manually_Annotated_Images, the
official train_set/ and val_set/ (images/<N>.jpg + annotations/<N>_exp.npy), and the Kaggle / AffectNet-HQ
``train/<class>/``, ``val/<class>/`` image folders (class names or ids 0..7; Kaggle's Train/, Test/ or test/)."""

from __future__ import annotations

import logging
import shutil

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


def test_image_folders_missing_class_is_named(tmp_path, caplog):
    folder = make_affectnet_folders(tmp_path, [("train", name, 1) for name in ("anger", "disgust", "fear", "happy", "neutral", "sad", "contempt")])
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.layout"):
        train = load_affectnet(folder, "train", image_size=8, use_cache=False)
    assert train.class_counts()["surprise"] == 0 and sum(train.class_counts().values()) == 7
    assert f"AffectNet {folder / 'train'}: no images of the classes ['surprise']" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.layout"):
        load_affectnet(folder, "train", image_size=8, classes=7, use_cache=False)
    assert "no images of the classes ['surprise']" in caplog.text  # contempt is not expected with classes=7


# Kaggle copies: Train/ + Test/ (capitalised), or train/ + test/; their test folder is the evaluation split.
KAGGLE_SPLIT_FOLDERS = {"Train/Test": ("Train", "Test"), "train/test": ("train", "test")}


@pytest.mark.parametrize("names", list(KAGGLE_SPLIT_FOLDERS), ids=list(KAGGLE_SPLIT_FOLDERS))
def test_kaggle_test_folder_is_the_evaluation_split(tmp_path, names, caplog):
    train_name, test_name = KAGGLE_SPLIT_FOLDERS[names]
    layout = [(train_name, "anger", 2), (train_name, "contempt", 1), (train_name, "happy", 1), (test_name, "neutral", 1), (test_name, "surprise", 1)]
    make_affectnet_folders(tmp_path / "AffectNet", layout)
    train = create_dataset("affectnet", tmp_path, "train", image_size=8)
    test = create_dataset("affectnet", tmp_path, "test", image_size=8)
    assert [train.class_names[i] for i in train.labels] == ["angry", "angry", "contempt", "happy"]
    assert all(sample.startswith(f"{train_name}/") for sample in train.sample_ids)
    assert test.split == "test" and test.sample_ids.tolist() == [f"{test_name}/neutral/image0000.jpg", f"{test_name}/surprise/image0000.jpg"]
    assert [test.class_names[i] for i in test.labels] == ["neutral", "surprise"]
    make_affectnet_folders(tmp_path / "AffectNet", [("val", "sad", 1)])  # the official validation set wins over a test folder
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.affectnet"):
        test = create_dataset("affectnet", tmp_path, "test", image_size=8)
    assert test.sample_ids.tolist() == ["val/sad/image0000.jpg"]
    assert f"ignored 1 entries that are not the split folders ['{train_name}', 'val']: ['{test_name}']" in caplog.text


def test_image_folders_missing_split_names_the_folders_tried(tmp_path):
    folder = make_affectnet_folders(tmp_path, [("Train", "happy", 1)])
    with pytest.raises(DatasetNotFoundError, match=r"no test split; expected one of \['val', 'test', 'Test'\]"):
        load_affectnet(folder, "test")


SEVEN_NAMES = ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (
            [(split, name, 1) for split in ("train", "val") for name in SEVEN_NAMES],
            {"anger": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "neutral": "neutral", "sad": "sad", "surprise": "surprise"},
        ),
        (
            [(split, str(i), 1) for split in ("train", "val") for i in range(7)],
            {"0": "neutral", "1": "happy", "2": "sad", "3": "surprise", "4": "fear", "5": "disgust", "6": "angry"},
        ),
    ],
    ids=["names-without-contempt", "ids-0-6"],
)
def test_seven_class_copies_are_located(tmp_path, layout, expected):
    make_affectnet_folders(tmp_path / "AffectNet", layout)
    train = create_dataset("affectnet", tmp_path, "train", image_size=8, classes=7)
    assert train.class_names == CLASSES_8[:7]
    assert {sample.split("/")[1]: train.class_names[label] for sample, label in zip(train.sample_ids, train.labels)} == expected


def test_seven_class_train_test_copy_is_found_only_in_an_affectnet_folder(tmp_path):
    # train/ + test/ with 7 class folders is also FER2013's Kaggle layout: the folder's name tells them apart.
    layout = [(split, name, 1) for split in ("train", "test") for name in SEVEN_NAMES]
    make_affectnet_folders(tmp_path / "affectnet", layout)
    test = create_dataset("affectnet", tmp_path, "test", image_size=8, classes=7, use_cache=False)
    assert len(test) == 7 and test.sample_ids[0].startswith("test/")
    at_root = tmp_path / "root"
    make_affectnet_folders(at_root, layout)
    with pytest.raises(DatasetNotFoundError, match="AffectNet not found under"):
        create_dataset("affectnet", at_root, "test", classes=7)


# RAF-DB's Kaggle copy: numeric class folders too, but RAF-DB ids 1..7 (1 surprise .. 7 neutral).
RAFDB_KAGGLE = [
    ("train", "5", "train_00001_aligned.jpg"),
    ("train", "1", "train_00002_aligned.jpg"),
    ("train", "7", "train_00003_aligned.jpg"),
    ("test", "3", "test_0001_aligned.jpg"),
]


@pytest.mark.parametrize(
    ("renamed", "reason"),
    [(False, "it holds RAF-DB's aligned face .*train_0000"), (True, r"class folders \['1', '3', '5', '7'\] are numbered from 1")],
    ids=["aligned-names", "renamed-files"],
)
def test_rafdb_kaggle_copy_is_refused(tmp_path, renamed, reason):
    dataset = tmp_path / "RAF-DB" / "DATASET"
    for i, (split, label, name) in enumerate(RAFDB_KAGGLE):
        write_flat(dataset / split / label / (f"image{i:04d}.jpg" if renamed else name), 100)
    with pytest.raises(DatasetFormatError, match=f"{dataset} looks like RAF-DB's Kaggle layout .*{reason}") as info:
        create_dataset("affectnet", dataset, "train", use_cache=False)
    assert "Load it as rafdb" in str(info.value)


# --- official release with .npy annotations: <split>_set/images/<N>.jpg + annotations/<N>_exp.npy -----------------

# (N, stored expression) per split folder; the grey value of image N is 10 + 10 * N. Ids are stored as strings in
# the release (np.array('3')); a 1-element numeric array must work too. 8 = none and 10 = no-face are not expressions.
NPY_ROWS = {"train_set": [(0, "1"), (2, np.array([6])), (10, "7"), (11, "8"), (12, np.array(10.0))], "val_set": [(3, "3"), (5, "0")]}


def make_affectnet_npy(folder, rows=NPY_ROWS):
    for split, items in rows.items():
        (folder / split / "annotations").mkdir(parents=True)
        for n, expression in items:
            write_flat(folder / split / "images" / f"{n}.jpg", 10 + 10 * n)
            np.save(folder / split / "annotations" / f"{n}_exp.npy", np.asarray(expression))
            # valence n/100 and arousal -n/100 (as strings, as released), so that a misaligned read shows
            for other, value in (("val", str(n / 100)), ("aro", str(-n / 100)), ("lnd", "1.0;2.0")):
                np.save(folder / split / "annotations" / f"{n}_{other}.npy", np.array(value))
    return folder


def test_npy_release_labels_drops_and_pixels(tmp_path, caplog):
    make_affectnet_npy(tmp_path / "AffectNet")
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.affectnet"):
        train = create_dataset("affectnet", tmp_path, "train", image_size=8, use_cache=False)
    assert "dropped 2 rows that hold no expression: {'no-face': 1, 'none': 1}" in caplog.text
    assert train.sample_ids.tolist() == ["train_set/images/0.jpg", "train_set/images/2.jpg", "train_set/images/10.jpg"]
    assert [train.class_names[i] for i in train.labels] == ["happy", "angry", "contempt"]
    np.testing.assert_allclose(train.images.reshape(3, -1).mean(axis=1), [10, 30, 110], atol=2)
    test = create_dataset("affectnet", tmp_path, "validation", image_size=8)
    assert test.split == "test" and test.sample_ids.tolist() == ["val_set/images/3.jpg", "val_set/images/5.jpg"]
    assert [test.class_names[i] for i in test.labels] == ["surprise", "neutral"]


def test_npy_release_reads_valence_and_arousal_of_the_kept_images(tmp_path):
    folder = make_affectnet_npy(tmp_path)
    train = load_affectnet(folder, "train", image_size=8, use_cache=False)
    np.testing.assert_allclose(train.meta["valence"], [0.0, 0.02, 0.10])  # ids 0, 2, 10; 11 and 12 hold no expression
    np.testing.assert_allclose(train.meta["arousal"], [0.0, -0.02, -0.10])
    every = load_affectnet(folder, "all", image_size=8, use_cache=False)
    np.testing.assert_allclose(every.meta["valence"], [0.0, 0.02, 0.10, 0.03, 0.05])


def test_npy_release_without_dimensional_files_loads_expressions_only(tmp_path):
    folder = make_affectnet_npy(tmp_path)
    for path in (folder / "val_set/annotations").glob("*_[va][ar][lo].npy"):
        path.unlink()
    test = load_affectnet(folder, "test", image_size=8, use_cache=False)
    assert set(test.meta) == {"split"} and len(test) == 2
    assert set(load_affectnet(folder, "all", image_size=8, use_cache=False).meta) == {"split"}  # train_set/ has them, val_set/ not


@pytest.mark.parametrize(("removed", "key"), [("3_aro.npy", "arousal"), ("5_val.npy", "valence")])
def test_npy_release_with_some_dimensional_files_missing_is_an_error(tmp_path, removed, key):
    folder = make_affectnet_npy(tmp_path)
    (folder / "val_set/annotations" / removed).unlink()
    with pytest.raises(DatasetNotFoundError, match=rf"AffectNet {key} file .*val_set/annotations/{removed} is missing \(1 of 2"):
        load_affectnet(folder, "test", use_cache=False)


def test_npy_release_bad_valence_is_named(tmp_path):
    folder = make_affectnet_npy(tmp_path)
    np.save(folder / "train_set/annotations/2_val.npy", np.array("high"))
    with pytest.raises(DatasetFormatError, match=r"train_set/annotations/2_val.npy: valence 'high' is not a number"):
        load_affectnet(folder, "train", use_cache=False)


def test_npy_release_seven_classes_and_all(tmp_path, caplog):
    folder = make_affectnet_npy(tmp_path)
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.affectnet"):
        dataset = load_affectnet(folder, "all", image_size=8, classes=7, use_cache=False)
    assert "dropped 1 contempt samples (classes=7)" in caplog.text
    assert dataset.class_names == CLASSES_8[:7] and dataset.meta["split"].tolist() == ["train", "train", "test", "test"]
    assert [dataset.class_names[i] for i in dataset.labels] == ["happy", "angry", "surprise", "neutral"]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (np.array("happy"), r"expression 'happy' is not an expression id; AffectNet uses 0..7"),
        (np.array("11"), r"expression '11' is not an expression id"),
        (np.array(2.5), r"expression 2.5 is not an expression id"),
        (np.array(["1", "2"]), r"holds 2 values; expected one expression id"),
        (b"not a numpy file", r"is not a readable .npy file"),
    ],
    ids=["name", "id-11", "fraction", "two-values", "not-npy"],
)
def test_npy_release_bad_annotation_is_named(tmp_path, value, error):
    folder = make_affectnet_npy(tmp_path)
    annotation = folder / "train_set/annotations/2_exp.npy"
    if isinstance(value, bytes):
        annotation.write_bytes(value)
    else:
        np.save(annotation, value)
    with pytest.raises(DatasetFormatError, match=error) as info:
        load_affectnet(folder, "train", use_cache=False)
    assert str(annotation) in str(info.value)


def test_npy_release_missing_and_unannotated_images(tmp_path, caplog):
    folder = make_affectnet_npy(tmp_path)
    write_flat(folder / "val_set/images/99.jpg", 0)
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.affectnet"):
        assert len(load_affectnet(folder, "test", image_size=8, use_cache=False)) == 2
    assert "1 files have no _exp.npy" in caplog.text
    (folder / "val_set/images/5.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"val_set/images/5.jpg is missing but .*val_set/annotations/5_exp.npy annotates it"):
        load_affectnet(folder, "test")
    shutil.rmtree(folder / "train_set/annotations")
    with pytest.raises(DatasetNotFoundError, match=r"train_set/annotations does not exist"):
        load_affectnet(folder, "train")


def test_not_found_names_every_layout(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        create_dataset("affectnet", tmp_path)
    message = str(info.value)
    assert "Manually_Annotated_file_lists" in message and "train_set/" in message and "annotations/<N>_exp.npy" in message and "Test/" in message
    write_flat(tmp_path / "AffectNet" / "images" / "a.jpg", 0)
    with pytest.raises(DatasetNotFoundError, match=r"train_set/ and val_set/ \(images/<N>.jpg \+ annotations/<N>_exp.npy\)"):
        load_affectnet(tmp_path / "AffectNet", "train")
