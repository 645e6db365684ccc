"""RAF-DB basic loader on a tiny copy of ``basic/`` (EmoLabel/list_patition_label.txt, Image/aligned, Image/original)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from fer_lib.data import DatasetFormatError, DatasetNotFoundError, create_dataset
from fer_lib.data.rafdb import load_rafdb

from .fixtures_data import RAFDB_ROWS, make_rafdb, rafdb_value, write_flat, write_garbage


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
    assert dataset.class_names == ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
    assert dataset.images.shape == (5, 100, 100, 3) and dataset.subjects is None
    assert dataset.sample_ids.tolist() == [name for name, _ in RAFDB_ROWS]
    assert [dataset.class_names[i] for i in dataset.labels] == ["sad", "surprise", "happy", "neutral", "disgust"]  # file ids 5 1 4 7 3
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
