"""Decode once: the cache returns equal arrays, follows changes in the sources, never leaves partial files, and rebuilds
an entry it cannot read."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from fer_lib.data import create_dataset
from fer_lib.data.cache import load_dataset, save_dataset
from fer_lib.errors import ConfigError
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


def _truncate_to_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _zero_a_block(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 4096] = bytes(4096)  # inside images.npy: only its CRC-32 tells
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _not_a_zip(path: Path) -> None:
    path.write_bytes(b"<html>disk quota exceeded</html>")


@pytest.mark.parametrize("damage", [_truncate_to_half, _zero_a_block, _empty, _not_a_zip], ids=lambda f: f.__name__.strip("_"))
def test_an_unreadable_entry_is_rebuilt_with_a_warning(tmp_path, caplog, damage):
    fer2013_folders(tmp_path)
    first = create_dataset("fer2013", tmp_path)
    (entry,) = cache_dir().glob("fer2013-*.npz")
    damage(entry)
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.cache"):
        again = create_dataset("fer2013", tmp_path)
    assert np.array_equal(again.images, first.images) and np.array_equal(again.sample_ids, first.sample_ids)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert str(entry) in warning.getMessage() and "rebuilding" in warning.getMessage()
    assert np.array_equal(load_dataset(entry).images, first.images)  # the rebuilt entry replaced the damaged one
    assert sorted(cache_dir().iterdir()) == [entry]


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    dataset = create_dataset("fer2013", fer2013_folders(tmp_path).parent, use_cache=False)

    def disk_full(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_dataset(dataset, cache_dir() / "fer2013-entry.npz")
    assert list(cache_dir().iterdir()) == []


def test_writers_of_one_entry_use_distinct_temporary_files(tmp_path, monkeypatch):
    """Two processes building the same entry must not write into one temporary file (one rename would then fail)."""
    dataset = create_dataset("fer2013", fer2013_folders(tmp_path).parent, use_cache=False)
    renamed = []
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: renamed.append(Path(src)) or replace(src, dst))
    path = cache_dir() / "fer2013-entry.npz"
    save_dataset(dataset, path)
    save_dataset(dataset, path)
    assert len(set(renamed)) == 2 and all(p.parent == path.parent and p.name.endswith(".tmp") for p in renamed)
    assert np.array_equal(load_dataset(path).labels, dataset.labels)


@pytest.mark.parametrize("where", ["a_file", "a_file/cache"])
def test_fer_cache_that_is_not_a_folder_names_the_variable(tmp_path, monkeypatch, where):
    fer2013_folders(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("FER_CACHE", str(tmp_path / where))
    with pytest.raises(ConfigError, match=f"Cache folder {tmp_path / where} cannot be created.*set FER_CACHE to a writable folder"):
        create_dataset("fer2013", tmp_path)
