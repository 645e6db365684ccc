"""Decode once: the cache returns equal arrays, follows changes in the sources, and never leaves partial files."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fer_lib.data import create_dataset
from fer_lib.paths import cache_dir

from .test_data_errors import fer2013_folders, write_image


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))


def test_second_load_reads_the_cache(tmp_path):
    fer2013_folders(tmp_path)
    first = create_dataset("fer2013", tmp_path, "all")
    entries = sorted(cache_dir().glob("fer2013-*.npz"))
    assert len(entries) == 1
    second = create_dataset("fer2013", tmp_path, "all")
    assert sorted(cache_dir().glob("fer2013-*.npz")) == entries
    for name in ("images", "labels", "sample_ids"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    assert second.meta["usage"].tolist() == first.meta["usage"].tolist()
    assert not list(cache_dir().glob(".*.tmp"))


def test_changed_source_or_parameters_build_a_new_entry(tmp_path):
    folder = fer2013_folders(tmp_path)
    create_dataset("fer2013", tmp_path)
    image = folder / "train" / "happy" / "Training_30.jpg"
    write_image(image, value=99, size=40)
    os.utime(image, ns=(1, 1))
    changed = create_dataset("fer2013", tmp_path)
    create_dataset("fer2013", tmp_path, image_size=32)
    assert len(list(cache_dir().glob("fer2013-*.npz"))) == 3
    assert changed.images.shape[1:] == (48, 48, 1)  # the 40 px image was resized to the requested size


def test_use_cache_false_writes_nothing(tmp_path):
    fer2013_folders(tmp_path)
    before = set(cache_dir().glob("*"))
    create_dataset("fer2013", tmp_path, use_cache=False)
    assert set(cache_dir().glob("*")) == before
