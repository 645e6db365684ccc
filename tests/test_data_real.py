"""The loaders on the real data under FER_DATA give the counts the datasets document (FER2013 official split, CK+48, MEGC2019)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fer_lib.__main__ import main
from fer_lib.data import create_dataset

FER2013_COUNTS = {
    "train": [3995, 436, 4097, 7215, 4830, 3171, 4965],
    "val": [467, 56, 496, 895, 653, 415, 607],
    "test": [491, 55, 528, 879, 594, 416, 626],
}


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_fer2013_official_split_counts(fer_data, split):
    dataset = create_dataset("fer2013", fer_data, split)
    assert list(dataset.class_counts().values()) == FER2013_COUNTS[split]
    assert dataset.images.shape[1:] == (48, 48, 1) and dataset.images.dtype == np.uint8
    assert dataset.class_names == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_fer2013_split_aliases_and_rgb(fer_data):
    public = create_dataset("fer2013", fer_data, "PublicTest", color="rgb", image_size=64)
    assert len(public) == 3589 and public.images.shape[1:] == (64, 64, 3)
    assert set(public.meta["usage"]) == {"PublicTest"}


def test_ckplus48_counts_and_subjects(fer_data):
    dataset = create_dataset("ckplus", fer_data)
    assert len(dataset) == 981 and dataset.num_subjects == 118
    assert dataset.class_counts() == {"angry": 135, "contempt": 54, "disgust": 177, "fear": 75, "happy": 207, "sad": 84, "surprise": 249}
    assert dataset.subjects[0].startswith("S")


def test_megc2019_composite(fer_data):
    dataset = create_dataset("megc2019", fer_data)
    assert dataset.images.shape == (442, 28, 28, 3)
    assert dataset.class_counts() == {"negative": 250, "positive": 109, "surprise": 83}
    per_database = {db: (int((dataset.meta["database"] == db).sum()), len(set(dataset.subjects[dataset.meta["database"] == db]))) for db in ("casme2", "smic", "samm")}
    assert per_database == {"casme2": (145, 24), "smic": (164, 16), "samm": (133, 28)}
    assert "006" in set(dataset.subjects)  # SAMM ids stay zero-padded (read as strings)


def test_megc2019_apex_faces_align_with_flow_rows(fer_data):
    flow = create_dataset("megc2019", fer_data)
    apex = create_dataset("megc2019", fer_data, modality="apex", image_size=64)
    assert apex.images.shape == (442, 64, 64, 3)
    assert (apex.sample_ids == flow.sample_ids).all() and (apex.labels == flow.labels).all()


def test_cli_json_prints_exact_counts(fer_data, capsys):
    assert main(["datasets", "--root", str(fer_data), "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)["datasets"]}
    splits = entries["fer2013"]["splits"]
    assert {k: v["n"] for k, v in splits.items()} == {"train": 28709, "val": 3589, "test": 3589}
    assert entries["ckplus"]["splits"]["all"]["subjects"] == 118
    assert entries["megc2019"]["splits"]["all"]["n"] == 442
    missing = [e for e in entries.values() if not e["found"]]
    assert all(e["source"] for e in missing)  # a dataset not found says where to get it (none missing is fine too)
