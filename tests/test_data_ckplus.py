"""CK+ loader: CK+48 class folders in any capitalisation, and full-release frames in which no face is detected."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import pytest

from fer_lib import experiment
from fer_lib.__main__ import main
from fer_lib.data import DatasetFormatError, create_dataset
from fer_lib.errors import ConfigError
from fer_lib.experiment import run_experiment
from fer_lib.data.labels import CKPLUS_CLASSES

from .fixtures_data import real_video_frame, write_flat


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))


CK48_FOLDERS = ("Anger", "Contempt", "Disgust", "Fear", "Happy", "Sadness", "Surprise")  # as some Kaggle copies name them


def test_ck48_with_capitalised_folders(tmp_path):
    for i, name in enumerate(CK48_FOLDERS):
        write_flat(tmp_path / "CK+" / "ck+48" / name / f"S{100 + i:03d}_001_0000001{i}.png", 10 * i)
    dataset = create_dataset("ckplus", tmp_path, use_cache=False)
    assert [dataset.class_names[i] for i in dataset.labels] == list(CKPLUS_CLASSES)
    assert dataset.images.reshape(7, -1).mean(axis=1).round().tolist() == [10 * i for i in range(7)]


def test_ck48_without_a_class_folder_names_it(tmp_path):
    for i, name in enumerate(CK48_FOLDERS[2:]):
        write_flat(tmp_path / "ckplus" / "CK+48" / name / f"S{100 + i:03d}_001_0000001{i}.png", 10 * i)
    with pytest.raises(DatasetFormatError, match=r"CK\+48 lacks the class folders \['angry', 'contempt'\]"):
        create_dataset("ckplus", tmp_path, use_cache=False)


def full_release(root: Path, sequences: list[tuple[str, str]], images: str = "cohn-kanade-images", emotion: str = "Emotion") -> Path:
    """``root/ckplus`` with 4 flat grey frames (no face) and an emotion file (code 5 = happy) per (subject, sequence)."""
    folder = root / "ckplus"
    for subject, sequence in sequences:
        for k in range(1, 5):
            write_flat(folder / images / subject / sequence / f"{subject}_{sequence}_{k:08d}.png", 90, (120, 160))
        label = folder / emotion / subject / sequence / f"{subject}_{sequence}_00000004_emotion.txt"
        label.parent.mkdir(parents=True)
        label.write_text("   5.0000000e+00\n")
    return folder


def test_full_release_frame_without_a_face_is_named_with_the_fix(tmp_path):
    # Folder names in other capitalisations are found as well; the flat frames then show no face.
    folder = full_release(tmp_path, [("S005", "001")], images="Cohn-Kanade-Images", emotion="emotion")
    with pytest.raises(DatasetFormatError) as info:
        create_dataset("ckplus", tmp_path, use_cache=False)
    message = str(info.value)
    assert message.startswith(f"No face found in CK+ frame {folder}/Cohn-Kanade-Images/S005/001/S005_001_00000002.png")
    assert "create_dataset('ckplus', root, on_no_face='skip')" in message


def test_skip_leaves_out_sequences_without_a_face_and_logs_each(tmp_path, fer_data, caplog):
    folder = full_release(tmp_path, [("S005", "001"), ("S010", "002")])
    face = real_video_frame(fer_data)
    for k in (2, 3, 4):  # the last three frames, the ones loaded
        assert cv2.imwrite(str(folder / "cohn-kanade-images" / "S005" / "001" / f"S005_001_{k:08d}.png"), face)
    with caplog.at_level(logging.WARNING, logger="fer_lib.data.uncropped"):
        dataset = create_dataset("ckplus", tmp_path, on_no_face="skip")
    assert dataset.sample_ids.tolist() == [f"cohn-kanade-images/S005/001/S005_001_{k:08d}.png" for k in (2, 3, 4)]
    assert dataset.class_counts()["happy"] == 3 and dataset.images.shape == (3, 48, 48, 1)
    no_face = folder / "cohn-kanade-images/S010/002/S010_002_00000002.png"
    assert f"CK+ sequence S010/002 left out (on_no_face='skip'): no face found in {no_face}" in caplog.text
    with pytest.raises(DatasetFormatError, match="S010_002_00000002.png"):  # the cached skip result is not served to a strict load
        create_dataset("ckplus", tmp_path)


def test_skip_of_every_sequence_is_an_error(tmp_path):
    folder = full_release(tmp_path, [("S005", "001")])
    with pytest.raises(DatasetFormatError, match=f"Every CK\\+ sequence under {folder} was left out"):
        create_dataset("ckplus", tmp_path, on_no_face="skip", use_cache=False)


def test_the_datasets_command_passes_loader_options(tmp_path, fer_data, capsys):
    folder = full_release(tmp_path, [("S005", "001"), ("S010", "002")])
    face = real_video_frame(fer_data)
    for k in (2, 3, 4):
        assert cv2.imwrite(str(folder / "cohn-kanade-images" / "S005" / "001" / f"S005_001_{k:08d}.png"), face)
    assert main(["datasets", "--root", str(tmp_path)]) == 1
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ckplus")]
    assert "failed to load: No face found in CK+ frame" in line and "datasets --loader-option ckplus.on_no_face=skip" in line
    assert main(["datasets", "--root", str(tmp_path), "--loader-option", "ckplus.on_no_face=skip"]) == 0
    assert "ckplus     all    n=3, 1 subjects: " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("ckplus=skip", "expected DATASET.KEY=VALUE"),
        ("ckplus.on_no_face", "expected DATASET.KEY=VALUE"),
        ("ck.on_no_face=skip", "unknown dataset 'ck'"),
        ("ckplus.on_no_faces=skip", r"loader_options \['on_no_faces'\] are not options of the ckplus loader"),
        ("ckplus.on_no_face=drop", "the ckplus loader refuses {'on_no_face': 'drop'}: on_no_face must be 'raise' or 'skip'"),
    ],
)
def test_the_datasets_command_refuses_bad_loader_options_in_one_line(tmp_path, capsys, option, message):
    full_release(tmp_path, [("S005", "001")])
    assert main(["datasets", "--root", str(tmp_path), "--loader-option", option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err


def test_a_run_passes_loader_options_to_the_loader_and_refuses_a_bad_value(tmp_path, monkeypatch):
    full_release(tmp_path, [("S005", "001")])
    with pytest.raises(ConfigError, match=r"the ckplus loader refuses .*'on_no_face': 'drop'.*: on_no_face must be 'raise' or 'skip', got 'drop'"):
        run_experiment("resnet18_fer", "ckplus", "smoke", device="cpu", data_root=str(tmp_path), output_dir=tmp_path / "run", loader_options={"on_no_face": "drop"})
    assert not (tmp_path / "run").exists()
    seen = []

    def load(*args, **kwargs):
        seen.append(kwargs)
        raise ConfigError("stop here")

    monkeypatch.setattr(experiment, "create_dataset", load)
    with pytest.raises(ConfigError, match="stop here"):
        run_experiment("resnet18_fer", "ckplus", "smoke", device="cpu", data_root=str(tmp_path), output_dir=tmp_path / "run", loader_options={"on_no_face": "skip"})
    assert seen == [{"image_size": 48, "on_no_face": "skip"}]


def test_on_no_face_is_checked(tmp_path):
    full_release(tmp_path, [("S005", "001")])
    with pytest.raises(ValueError, match="on_no_face must be 'raise' or 'skip', got 'drop'"):
        create_dataset("ckplus", tmp_path, on_no_face="drop")
