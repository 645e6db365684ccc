"""RAF-DB basic loader on tiny copies of ``basic/`` (EmoLabel/list_patition_label.txt, Image/aligned, Image/original)
and of the Kaggle copy (DATASET/{train,test}/<1..7>/<name>_aligned.jpg with train_labels.csv, test_labels.csv)."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from fer_lib.data import DatasetFormatError, DatasetNotFoundError, create_dataset
from fer_lib.data.rafdb import load_rafdb

from .fixtures_data import RAFDB_ROWS, make_rafdb, rafdb_value, write_flat, write_garbage

CLASSES = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
RELEASE_IDS = [name for name, _ in RAFDB_ROWS]
RELEASE_LABELS = ["sad", "surprise", "happy", "neutral", "disgust"]  # file ids 5 1 4 7 3


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def basic(tmp_path):
    return make_rafdb(tmp_path / "data" / "RAF-DB")


def label_file(basic):
    return basic / "EmoLabel/list_patition_label.txt"


def test_all_split_labels_and_pixels(basic):
    dataset = load_rafdb(basic, "all", use_cache=False)
    assert dataset.class_names == CLASSES
    assert dataset.images.shape == (5, 100, 100, 3) and dataset.subjects is None
    assert dataset.sample_ids.tolist() == RELEASE_IDS
    assert [dataset.class_names[i] for i in dataset.labels] == RELEASE_LABELS
    means = dataset.images.reshape(5, -1).mean(axis=1)
    np.testing.assert_allclose(means, [rafdb_value(i) for i in range(5)], atol=2)


@pytest.mark.parametrize(("split", "ids"), [("train", ["train_00001.jpg", "train_00002.jpg", "train_00003.jpg"]), ("test", ["test_0001.jpg", "test_0002.jpg"])])
@pytest.mark.parametrize("folder", ["RAF-DB", "rafdb", "RAF-DB/basic"])
def test_official_splits_via_registry(tmp_path, folder, split, ids):
    make_rafdb((tmp_path / folder).parent if folder.endswith("basic") else tmp_path / folder)
    dataset = create_dataset("rafdb", tmp_path, split, image_size=8, color="gray")
    assert dataset.sample_ids.tolist() == ids and dataset.split == split
    assert dataset.images.shape == (len(ids), 8, 8, 1)


def test_basic_folder_or_its_parent(basic):
    from_basic = load_rafdb(basic, "all", image_size=8, use_cache=False)
    from_parent = load_rafdb(basic.parent, "all", image_size=8, use_cache=False)
    np.testing.assert_array_equal(from_basic.images, from_parent.images)


def test_second_load_comes_from_cache(basic, cache):
    first = load_rafdb(basic, "train", image_size=8)
    second = load_rafdb(basic, "train", image_size=8)
    assert len(list(cache.glob("rafdb-*.npz"))) == 1
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert (first.sample_ids == second.sample_ids).all()


def test_original_images_with_aligned_false(tmp_path):
    basic = make_rafdb(tmp_path, aligned=False)
    dataset = load_rafdb(basic, "all", image_size=12, aligned=False, use_cache=False)
    assert dataset.images.shape == (5, 12, 12, 3)
    with pytest.raises(DatasetNotFoundError, match="aligned=False"):
        load_rafdb(basic, "all", use_cache=False)


def test_unlisted_images_are_counted(basic, caplog):
    write_flat(basic / "Image/aligned/train_09999_aligned.jpg", 0)
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.rafdb"):
        assert len(load_rafdb(basic, "all", image_size=8, use_cache=False)) == 5
    assert "1 files are not listed" in caplog.text


def test_missing_root_says_where_to_obtain(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="whdeng"):
        create_dataset("rafdb", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="whdeng"):
        load_rafdb(tmp_path / "nowhere", "all")


def test_wrong_layout(tmp_path):
    write_flat(tmp_path / "RAF-DB" / "aligned" / "train_00001_aligned.jpg", 0)
    with pytest.raises(DatasetNotFoundError, match="EmoLabel/list_patition_label.txt"):
        load_rafdb(tmp_path / "RAF-DB", "all")


def test_missing_label_file(basic):
    label_file(basic).unlink()
    with pytest.raises(DatasetNotFoundError, match="list_patition_label.txt does not exist"):
        load_rafdb(basic, "all")


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("train_00001.jpg", "expected"),
        ("train_00001.jpg five", "expected"),
        ("val_00001.jpg 3", "not train_<id>.jpg"),
        ("train_00001.jpg 0", "out of range"),
        ("train_00001.jpg 8", "out of range"),
        ("train_00002.jpg 1", "listed again"),
    ],
    ids=["one-field", "not-a-number", "unknown-split", "label-0", "label-8", "duplicate"],
)
def test_bad_label_lines_name_the_line(basic, line, error):
    with label_file(basic).open("a") as f:
        f.write(line + "\n")
    with pytest.raises(DatasetFormatError, match=error) as info:
        load_rafdb(basic, "all", use_cache=False)
    assert f"list_patition_label.txt:{len(RAFDB_ROWS) + 1}" in str(info.value)


def test_empty_label_file(basic):
    label_file(basic).write_text("\n")
    with pytest.raises(DatasetFormatError, match="lists no images"):
        load_rafdb(basic, "all")


def test_missing_image_is_named(basic):
    (basic / "Image/aligned/test_0002_aligned.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match="test_0002_aligned.jpg"):
        load_rafdb(basic, "all")


def test_corrupt_image_is_named(basic):
    write_garbage(basic / "Image/aligned/train_00003_aligned.jpg")
    with pytest.raises(DatasetFormatError, match="train_00003_aligned.jpg"):
        load_rafdb(basic, "all", use_cache=False)


def test_label_file_without_test_rows(basic):
    label_file(basic).write_text("".join(f"{name} {label}\n" for name, label in RAFDB_ROWS if name.startswith("train_")))
    with pytest.raises(DatasetFormatError, match="lists no test_<id>.jpg images") as info:
        create_dataset("rafdb", basic.parent.parent, "test", use_cache=False)
    assert str(label_file(basic)) in str(info.value)


# --- the Kaggle copy: DATASET/<split>/<RAF-DB id>/<name>_aligned.jpg, <split>_labels.csv beside DATASET/ -----------


def make_rafdb_kaggle(parent, rows=RAFDB_ROWS, label_files=True):
    """The Kaggle copy of RAFDB_ROWS (the same images as make_rafdb's Image/aligned) in ``parent``."""
    for split in ("train", "test"):
        files = [(f"{name.removesuffix('.jpg')}_aligned.jpg", label, i) for i, (name, label) in enumerate(rows) if name.startswith(split)]
        for file, label, i in files:
            write_flat(parent / "DATASET" / split / str(label) / file, rafdb_value(i))
        if label_files:
            (parent / f"{split}_labels.csv").write_text("image,label\n" + "".join(f"{file},{label}\n" for file, label, _ in files))
    return parent


def test_kaggle_copy_matches_the_release(tmp_path):
    kaggle = make_rafdb_kaggle(tmp_path / "kaggle")
    release = load_rafdb(make_rafdb(tmp_path / "release", original=False), "all", use_cache=False)
    for folder in (kaggle, kaggle / "DATASET"):
        dataset = load_rafdb(folder, "all", use_cache=False)
        assert dataset.sample_ids.tolist() == RELEASE_IDS and dataset.meta["split"].tolist() == ["train"] * 3 + ["test"] * 2
        assert [dataset.class_names[i] for i in dataset.labels] == RELEASE_LABELS
        np.testing.assert_allclose(dataset.images.reshape(5, -1).mean(axis=1), [rafdb_value(i) for i in range(5)], atol=2)
        assert dataset.content_digest() == release.content_digest()


@pytest.mark.parametrize("label_files", [True, False], ids=["with-csv", "folders-only"])
@pytest.mark.parametrize(("split", "ids"), [("train", RELEASE_IDS[:3]), ("test", RELEASE_IDS[3:])])
def test_kaggle_official_splits_via_registry(tmp_path, split, ids, label_files):
    make_rafdb_kaggle(tmp_path / "RAF-DB", label_files=label_files)
    dataset = create_dataset("rafdb", tmp_path, split, image_size=8, color="gray")
    assert dataset.sample_ids.tolist() == ids and dataset.split == split and dataset.images.shape == (len(ids), 8, 8, 1)
    assert [CLASSES[i] for i in dataset.labels] == (RELEASE_LABELS[:3] if split == "train" else RELEASE_LABELS[3:])


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (
            lambda text: text.replace("train_00002_aligned.jpg,1", "train_00002_aligned.jpg,2"),
            r"train_labels.csv:3: train_00002_aligned.jpg has label 2 \(fear\) but lies in .*train/1 \(surprise\)",
        ),
        (lambda text: text.replace("train_00003_aligned.jpg,4\n", ""), r"train_labels.csv does not list .*train/4/train_00003_aligned.jpg"),
        (lambda text: text + "train_00009_aligned.jpg,2\n", r"train_labels.csv:5: train_00009_aligned.jpg is listed but is in no class folder"),
        (lambda text: text + "train_00001_aligned.jpg,5\n", r"train_labels.csv:5: train_00001_aligned.jpg is listed again \(first at line 2\)"),
        (lambda text: text.replace("image,label", "name,emotion"), r"train_labels.csv: expected the header 'image,label'"),
        (lambda text: text + "train_00009_aligned.jpg,8\n", r"train_labels.csv:5: expected '<image>,<label 1..7>'"),
    ],
    ids=["label-differs", "image-unlisted", "listed-not-in-folders", "listed-twice", "bad-header", "label-8"],
)
def test_kaggle_label_file_must_agree_with_folders(tmp_path, edit, error):
    kaggle = make_rafdb_kaggle(tmp_path)
    csv = kaggle / "train_labels.csv"
    csv.write_text(edit(csv.read_text()))
    with pytest.raises(DatasetFormatError, match=error):
        load_rafdb(kaggle, "test", use_cache=False)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("DATASET/train/0/train_00009_aligned.jpg", r"train/0 is not a RAF-DB label id 1..7"),
        ("DATASET/train/happy/train_00009_aligned.jpg", r"train/happy is not a RAF-DB label id 1..7"),
        ("DATASET/train/2/test_0009_aligned.jpg", r"files in train/ are named train_<id>_aligned.jpg"),
        ("DATASET/train/2/train_00009.jpg", r"files in train/ are named train_<id>_aligned.jpg"),
        ("DATASET/train/2/train_00001_aligned.jpg", r"train_00001_aligned.jpg is in both .*train/2 and .*train/5"),
    ],
    ids=["folder-0", "folder-name", "test-image-in-train", "not-aligned-name", "two-class-folders"],
)
def test_kaggle_bad_folders_and_names(tmp_path, path, error):
    kaggle = make_rafdb_kaggle(tmp_path, label_files=False)
    write_flat(kaggle / path, 0)
    with pytest.raises(DatasetFormatError, match=error):
        load_rafdb(kaggle, "train", use_cache=False)


def test_kaggle_split_without_a_class_warns(tmp_path, caplog):
    kaggle = make_rafdb_kaggle(tmp_path, label_files=False)
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.layout"):
        dataset = load_rafdb(kaggle, "test", use_cache=False)
    absent = [name for label, name in enumerate(CLASSES) if label not in set(dataset.labels)]
    assert absent and f"RAF-DB {kaggle / 'DATASET' / 'test'}: no images of the classes {absent}" in caplog.text


def test_kaggle_copy_needs_both_splits_and_has_no_originals(tmp_path):
    kaggle = make_rafdb_kaggle(tmp_path, label_files=False)
    with pytest.raises(DatasetNotFoundError, match="holds only the aligned faces: aligned=False needs the release's basic/Image/original/"):
        load_rafdb(kaggle, "train", aligned=False)
    shutil.rmtree(kaggle / "DATASET/test")
    with pytest.raises(DatasetNotFoundError, match=r"lacks test/: it holds train/<1..7>/ and test/<1..7>/"):
        load_rafdb(kaggle, "train", use_cache=False)


def test_not_found_names_both_layouts(tmp_path):
    write_flat(tmp_path / "RAF-DB" / "images" / "train_00001_aligned.jpg", 0)
    for call in (lambda: create_dataset("rafdb", tmp_path), lambda: load_rafdb(tmp_path / "RAF-DB", "all")):
        with pytest.raises(DatasetNotFoundError) as info:
            call()
        message = str(info.value)
        assert "EmoLabel/list_patition_label.txt" in message and "Image/aligned/" in message  # the release's basic/
        assert "Kaggle copy" in message and "DATASET/" in message and "/<1..7>/" in message
