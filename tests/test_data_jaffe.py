"""JAFFE loader on a tiny jaffedbase-like folder (flat ``KA.AN1.39.tiff`` files, one palette TIFF, a README)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from fer_lib.data import DatasetFormatError, DatasetNotFoundError, create_dataset
from fer_lib.data.jaffe import load_jaffe

from .fixtures_data import JAFFE_FILES, JAFFE_PALETTE_FILE, JAFFE_PALETTE_VALUE, make_jaffe, write_flat, write_garbage


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def jaffe(tmp_path):
    return make_jaffe(tmp_path / "data" / "jaffedbase")


def test_loads_labels_subjects_and_palette_tiff(jaffe, caplog):
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.jaffe"):
        dataset = load_jaffe(jaffe, "all", image_size=16, use_cache=False)
    assert "ignored 1 entries" in caplog.text  # the README
    assert dataset.class_names == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert dataset.images.shape == (7, 16, 16, 1)
    names = sorted([*JAFFE_FILES, JAFFE_PALETTE_FILE])
    assert dataset.sample_ids.tolist() == [n.removesuffix(".tiff") for n in names]
    assert [dataset.class_names[i] for i in dataset.labels] == ["angry", "happy", "neutral", "surprise", "disgust", "fear", "sad"]
    assert dataset.subjects.tolist() == ["KA", "KA", "KL", "KL", "NA", "NA", "YM"]
    expected = [JAFFE_FILES.get(n, JAFFE_PALETTE_VALUE) for n in names]
    assert dataset.images.reshape(7, -1).mean(axis=1).round().tolist() == expected  # palette decoded to grey, not indices


@pytest.mark.parametrize("folder", ["jaffe", "JAFFE", "jaffedbase"])
def test_registry_finds_folder_names_and_caches(tmp_path, cache, folder):
    make_jaffe(tmp_path / folder)
    first = create_dataset("jaffe", tmp_path, image_size=8, color="rgb")
    second = create_dataset("jaffe", tmp_path, image_size=8, color="rgb")
    assert first.images.shape == (7, 8, 8, 3) and first.num_subjects == 4
    assert len(list(cache.glob("jaffe-*.npz"))) == 1
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert (first.subjects == second.subjects).all() and (first.sample_ids == second.sample_ids).all()


def test_registry_finds_a_tif_copy_and_a_copy_without_the_usual_files(tmp_path):
    for name, value in JAFFE_FILES.items():
        if not name.startswith("KA"):  # a partial copy: the markers must not depend on particular files
            write_flat(tmp_path / "JAFFE" / "jaffedbase" / name.replace(".tiff", ".TIF"), value)
    dataset = create_dataset("jaffe", tmp_path, image_size=8, use_cache=False)
    assert dataset.sample_ids.tolist() == ["KL.NE1.155", "KL.SU2.165", "NA.DI1.214", "NA.FE3.220"]


def test_default_size_is_native_256(jaffe):
    assert load_jaffe(jaffe, use_cache=False).images.shape == (7, 256, 256, 1)


def test_only_split_all(tmp_path):
    make_jaffe(tmp_path / "jaffe")
    with pytest.raises(ValueError, match="'all'"):
        create_dataset("jaffe", tmp_path, "train")


def test_missing_root_says_where_to_obtain(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="zenodo"):
        create_dataset("jaffe", tmp_path)
    with pytest.raises(DatasetNotFoundError, match="zenodo"):
        load_jaffe(tmp_path / "nowhere")


def test_wrong_layout_class_subfolders(tmp_path):
    write_flat(tmp_path / "jaffe" / "happy" / "KA.HA1.29.tiff", 0)
    with pytest.raises(DatasetNotFoundError, match="No JAFFE images"):
        load_jaffe(tmp_path / "jaffe")


@pytest.mark.parametrize(
    ("name", "error"),
    [("KA.XX1.40.tiff", "expression code 'XX'"), ("KA-AN1-40.tiff", "not named"), ("KA.AN1.39.png", "appears twice")],
    ids=["unknown-class", "bad-name", "duplicate"],
)
def test_bad_file_names(jaffe, name, error):
    write_flat(jaffe / name, 0)
    with pytest.raises(DatasetFormatError, match=error) as info:
        load_jaffe(jaffe, use_cache=False)
    assert name.split(".")[0] in str(info.value)


def test_corrupt_image_is_named(jaffe):
    write_garbage(jaffe / "KM.SA1.9.tiff")
    with pytest.raises(DatasetFormatError, match=r"KM\.SA1\.9\.tiff"):
        load_jaffe(jaffe, image_size=16, use_cache=False)
