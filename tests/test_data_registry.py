"""The registry: markers find every copy a loader accepts (any capitalisation, wildcards), and an empty split is an error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer_lib.data import DatasetFormatError, DatasetSpec, FaceDataset, create_dataset, get_dataset_spec, list_datasets
from fer_lib.data import registry
from fer_lib.data.registry import find_path


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))


def exact_markers() -> list[tuple[str, str]]:
    """(dataset, marker) for every registered marker without wildcards."""
    return [(name, m) for name in list_datasets() for m in get_dataset_spec(name).markers if not set("*?[") & set(m)]


@pytest.mark.parametrize(("name", "marker"), exact_markers())
def test_every_marker_is_found_in_any_capitalisation(tmp_path, name, marker):
    spec = get_dataset_spec(name)
    folder = tmp_path / spec.folders[0]
    (folder / marker.swapcase()).mkdir(parents=True)  # train/happy as TRAIN/HAPPY: each component in another case
    assert spec.locate(tmp_path) == folder


@pytest.mark.parametrize("name", list_datasets())
def test_every_dataset_folder_is_found_in_any_capitalisation(tmp_path, name):
    spec = get_dataset_spec(name)
    marker = spec.markers[0].replace("[A-Z]", "K").replace("[0-9]", "1").replace("*", "")  # a name the marker matches
    for folder in spec.folders:
        root = tmp_path / folder.replace("/", "_")
        (root / folder.swapcase() / marker).mkdir(parents=True)
        located = spec.locate(root)  # the folder itself, or a candidate above it (RAF-DB/ before RAF-DB/basic/)
        assert located is not None and (root / folder.swapcase()).is_relative_to(located), folder


def test_find_path_compares_each_component_ignoring_case_and_returns_the_real_path(tmp_path):
    (tmp_path / "Train" / "Happy").mkdir(parents=True)
    assert find_path(tmp_path, "train/happy") == tmp_path / "Train" / "Happy"
    assert find_path(tmp_path, "train/sad") is None
    assert find_path(tmp_path, "happy") is None  # components are matched level by level, not anywhere below


def test_find_path_components_may_be_wildcards(tmp_path):
    (tmp_path / "jaffedbase").mkdir()
    (tmp_path / "jaffedbase" / "KA.AN1.39.TIF").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a folder")
    assert find_path(tmp_path, "jaffedbase/*.tif*") == tmp_path / "jaffedbase" / "KA.AN1.39.TIF"
    assert find_path(tmp_path, "*/ka.an?.39.tif") == tmp_path / "jaffedbase" / "KA.AN1.39.TIF"
    assert find_path(tmp_path, "jaffedbase/*.png") is None
    assert find_path(tmp_path, "notes.txt/*") is None  # a file where a folder is expected: no match, no error


def toy_spec(n: int) -> DatasetSpec:
    """A dataset whose loader returns ``n`` samples of any split, found by a ``toy.csv`` marker."""

    def load(folder: Path, split: str) -> FaceDataset:
        return FaceDataset("toy", split, np.zeros((n, 4, 4, 1), np.uint8), np.zeros(n, np.int64), ("a",), np.array([f"s{i}" for i in range(n)]))

    return DatasetSpec(
        name="toy", title="Toy", load=load, splits=("train", "test"), folders=("toy",), markers=("toy.csv",), layout="toy.csv",
        source="the test suite",
    )


def test_an_empty_split_is_an_error_naming_dataset_split_and_folder(tmp_path, monkeypatch):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "toy.csv").write_text("label,pixels\n")  # header only: no samples
    monkeypatch.setitem(registry._REGISTRY, "toy", toy_spec(0))
    with pytest.raises(DatasetFormatError) as info:
        create_dataset("toy", tmp_path, "test")
    message = str(info.value)
    assert f"Toy split 'test' in {tmp_path / 'toy'} is empty: the files there hold no samples of that split" in message
    assert "Check that the copy is complete (expected toy.csv); obtain it from the test suite" in message
    monkeypatch.setitem(registry._REGISTRY, "toy", toy_spec(2))
    assert len(create_dataset("toy", tmp_path, "test")) == 2
