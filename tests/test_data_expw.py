"""ExpW loader on a tiny copy of the download's ``data/`` folder (label/label.lst + image/origin/)."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lib.data import DatasetFormatError, DatasetNotFoundError, create_dataset
from fer_lib.data.expw import load_expw

from .fixtures_data import EXPW_ROWS, FACE_VALUE, make_expw, write_flat, write_garbage


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def data(tmp_path):
    return make_expw(tmp_path / "ExpW" / "data")


def append_line(data, line):
    with (data / "label/label.lst").open("a") as f:
        f.write(line + "\n")


def test_faces_labels_and_crops(data):
    dataset = load_expw(data, image_size=8, use_cache=False)
    assert dataset.class_names == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert dataset.sample_ids.tolist() == ["angry_actor_1.jpg#0", "happy_child_7.jpg#0", "happy_child_7.jpg#1", "sad_man_3.jpg#0"]
    assert [dataset.class_names[i] for i in dataset.labels] == ["angry", "happy", "neutral", "sad"]
    assert dataset.images.shape == (4, 8, 8, 3) and dataset.subjects is None
    # rows 0, 1, 3 box the bright face (top 8, left 24, right 40, bottom 24); row 2 boxes the black corner
    means = dataset.images.reshape(4, -1).mean(axis=1)
    np.testing.assert_allclose(means, [FACE_VALUE, FACE_VALUE, 0, FACE_VALUE], atol=6)
    np.testing.assert_allclose(dataset.meta["confidence"], [row[6] for row in EXPW_ROWS])


@pytest.mark.parametrize("given", ["data", "parent"])
def test_registry_and_cache(tmp_path, cache, given):
    make_expw(tmp_path / "ExpW" / "data") if given == "data" else make_expw(tmp_path / "expw")
    first = create_dataset("expw", tmp_path, image_size=8, color="gray")
    second = create_dataset("expw", tmp_path, "all", image_size=8, color="gray")
    assert first.images.shape == (4, 8, 8, 1)
    assert len(list(cache.glob("expw-*.npz"))) == 1
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert (first.sample_ids == second.sample_ids).all()


def test_only_split_all(data):
    with pytest.raises(ValueError, match="'all'"):
        load_expw(data, "train")


def test_missing_root_says_where_to_obtain(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="mmlab.ie.cuhk.edu.hk"):
        create_dataset("expw", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="mmlab.ie.cuhk.edu.hk"):
        load_expw(tmp_path / "nowhere")


def test_wrong_layout(tmp_path):
    write_flat(tmp_path / "ExpW" / "images" / "angry_actor_1.jpg", 0)
    with pytest.raises(DatasetNotFoundError, match="label/label.lst"):
        load_expw(tmp_path / "ExpW")


def test_missing_label_file(data):
    (data / "label/label.lst").unlink()
    with pytest.raises(DatasetNotFoundError, match="label.lst does not exist"):
        load_expw(data)


def test_empty_label_file(data):
    (data / "label/label.lst").write_text("")
    with pytest.raises(DatasetFormatError, match="lists no faces"):
        load_expw(data)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("sad_man_3.jpg 1 8 24 40 24 40.0", "expected the 8 fields"),
        ("sad_man_3.jpg 1 8 24 40 24 40.0 3 extra", "expected the 8 fields"),
        ("sad_man_3.jpg 1 8 24 40 24 40.0 sad", "must be integers"),
        ("sad_man_3.jpg 1 8 24 40 24 high 3", "must be integers"),
        ("sad_man_3.jpg 1 8 24 40 24 40.0 7", "label 7 is out of range"),
        ("sad_man_3.jpg 1 8 24 40 24 40.0 -1", "label -1 is out of range"),
        ("happy_child_7.jpg 1 8 24 40 24 40.0 3", "listed again"),
    ],
    ids=["seven-fields", "nine-fields", "label-not-a-number", "confidence-not-a-number", "label-7", "label-negative", "duplicate-face"],
)
def test_bad_lines_name_the_line(data, line, error):
    append_line(data, line)
    with pytest.raises(DatasetFormatError, match=error) as info:
        load_expw(data, use_cache=False)
    assert f"label.lst:{len(EXPW_ROWS) + 1}" in str(info.value)


def test_missing_image_is_named(data):
    (data / "image/origin/sad_man_3.jpg").unlink()
    with pytest.raises(DatasetNotFoundError, match="sad_man_3.jpg"):
        load_expw(data)


def test_corrupt_image_is_named(data):
    write_garbage(data / "image/origin/angry_actor_1.jpg")
    with pytest.raises(DatasetFormatError, match="angry_actor_1.jpg"):
        load_expw(data, use_cache=False)


def test_face_box_outside_image_is_named(data):
    append_line(data, "sad_man_3.jpg 1 100 100 120 120 10.0 4")
    with pytest.raises(DatasetFormatError, match=r"sad_man_3\.jpg"):
        load_expw(data, use_cache=False)
