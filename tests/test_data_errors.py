"""Bad input gets a clear error naming the path and the fix: FER2013, CK+ and MEGC2019 layouts built as fixtures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_lib.data import DatasetFormatError, DatasetNotFoundError, FaceDataset, create_dataset
from fer_lib.data.labels import CKPLUS_CLASSES, FER2013_CLASSES

FOLDER_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def write_image(path: Path, value: int = 128, size: int = 48, channels: int = 1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    image = rng.integers(0, 256, (size, size) if channels == 1 else (size, size, channels), dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def fer2013_folders(root: Path) -> Path:
    folder = root / "fer2013"
    for i, name in enumerate(FOLDER_NAMES):
        write_image(folder / "train" / name / f"Training_{i}0.jpg", i)
        write_image(folder / "train" / name / f"Training_{i}1.jpg", i + 10)
        write_image(folder / "test" / name / f"PublicTest_{i}.jpg", i + 20)
        write_image(folder / "test" / name / f"PrivateTest_{i}.jpg", i + 30)
    return folder


def fer2013_csv(root: Path, rows: list[tuple[str, str, str]] | None = None) -> Path:
    folder = root / "fer2013"
    folder.mkdir(parents=True)
    pixels = " ".join(["7"] * 48 * 48)
    rows = rows or [(str(i % 7), pixels, usage) for i, usage in enumerate(["Training"] * 7 + ["PublicTest"] * 2 + ["PrivateTest"] * 3)]
    pd.DataFrame(rows, columns=["emotion", "pixels", "Usage"]).to_csv(folder / "fer2013.csv", index=False)
    return folder / "fer2013.csv"


def test_fer2013_image_folders_fixture(tmp_path):
    fer2013_folders(tmp_path)
    assert [len(create_dataset("fer2013", tmp_path, s)) for s in ("train", "val", "test", "all")] == [14, 7, 7, 28]
    train = create_dataset("fer2013", tmp_path, "train")
    assert list(train.class_counts().values()) == [2] * 7 and train.class_names == FER2013_CLASSES


def test_fer2013_csv_and_icml_layouts(tmp_path):
    csv = fer2013_csv(tmp_path)
    dataset = create_dataset("fer2013", tmp_path, "test")
    assert len(dataset) == 3 and (dataset.images == 7).all() and dataset.sample_ids[0] == "fer2013.csv#row11"
    table = pd.read_csv(csv)[["emotion", "Usage", "pixels"]]
    csv.unlink()
    table.rename(columns={"Usage": " Usage", "pixels": " pixels"}).to_csv(csv.with_name("icml_face_data.csv"), index=False)
    assert len(create_dataset("fer2013", tmp_path, "train", use_cache=False)) == 7


def test_missing_root_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("FER_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="FER_DATA"):
        create_dataset("fer2013")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_dataset("fer2013", tmp_path / "nowhere")


@pytest.mark.parametrize("name, source", [("fer2013", "kaggle"), ("ckplus", "jeffcohn"), ("megc2019", "MEGC2019")])
def test_missing_dataset_says_where_to_obtain_it(tmp_path, name, source):
    with pytest.raises(DatasetNotFoundError, match=source):
        create_dataset(name, tmp_path)


def test_wrong_layout_names_the_missing_folder(tmp_path):
    folder = fer2013_folders(tmp_path)
    for file in (folder / "test").rglob("*.jpg"):
        file.unlink()
    for sub in (folder / "test").iterdir():
        sub.rmdir()
    (folder / "test").rmdir()
    with pytest.raises(DatasetNotFoundError, match="test"):
        create_dataset("fer2013", tmp_path, "train")


def test_missing_class_folder(tmp_path):
    folder = fer2013_folders(tmp_path)
    for file in (folder / "train" / "disgust").iterdir():
        file.unlink()
    (folder / "train" / "disgust").rmdir()
    with pytest.raises(DatasetFormatError, match="disgust"):
        create_dataset("fer2013", tmp_path, "train")


def test_unknown_class_folder(tmp_path):
    folder = fer2013_folders(tmp_path)
    write_image(folder / "train" / "bored" / "Training_99.jpg")
    with pytest.raises(DatasetFormatError, match="bored"):
        create_dataset("fer2013", tmp_path, "train")


def test_two_folders_of_one_class(tmp_path):
    folder = fer2013_folders(tmp_path)
    write_image(folder / "train" / "anger" / "Training_99.jpg")  # an alias of angry: the same class twice
    with pytest.raises(DatasetFormatError, match="folders 'anger' and 'angry' both hold class angry"):
        create_dataset("fer2013", tmp_path, "train")


def test_class_folders_without_images(tmp_path):
    folder = fer2013_folders(tmp_path)
    for file in (folder / "test").rglob("*.jpg"):
        file.unlink()
    with pytest.raises(DatasetFormatError, match="test holds no images in its class folders"):
        create_dataset("fer2013", tmp_path, "train")


def test_unexpected_file_name(tmp_path):
    folder = fer2013_folders(tmp_path)
    write_image(folder / "train" / "happy" / "PrivateTest_5.jpg")
    with pytest.raises(DatasetFormatError, match="PrivateTest_5.jpg"):
        create_dataset("fer2013", tmp_path, "train")


def test_corrupt_image_is_named(tmp_path):
    folder = fer2013_folders(tmp_path)
    bad = folder / "test" / "sad" / "PublicTest_77.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(DatasetFormatError, match="PublicTest_77.jpg"):
        create_dataset("fer2013", tmp_path, "val")


def test_non_image_files_are_reported_not_dropped_silently(tmp_path, caplog):
    folder = fer2013_folders(tmp_path)
    (folder / "train" / "happy" / "notes.txt").write_text("x")
    assert len(create_dataset("fer2013", tmp_path, "train")) == 14
    assert "ignored 1 entries" in caplog.text


@pytest.mark.parametrize(
    "row, match",
    [(("7", " ".join(["1"] * 2304), "Training"), "not a label id"), (("3", "1 2 3", "Training"), "2304 integers"), (("3", " ".join(["1"] * 2304), "Dev"), "unknown Usage")],
)
def test_malformed_csv_rows(tmp_path, row, match):
    fer2013_csv(tmp_path, [row])
    with pytest.raises(DatasetFormatError, match=match):
        create_dataset("fer2013", tmp_path, "all")


def test_csv_missing_columns(tmp_path):
    folder = tmp_path / "fer2013"
    folder.mkdir()
    (folder / "fer2013.csv").write_text("label,pixels\n1,2\n")
    with pytest.raises(DatasetFormatError, match="emotion"):
        create_dataset("fer2013", tmp_path)


def test_duplicate_samples_are_rejected():
    with pytest.raises(DatasetFormatError, match="duplicate"):
        FaceDataset("x", "all", np.zeros((2, 4, 4, 1), np.uint8), np.zeros(2, np.int64), ("a",), np.array(["s1", "s1"]))


def test_label_out_of_range_is_rejected():
    with pytest.raises(DatasetFormatError, match="label ids"):
        FaceDataset("x", "all", np.zeros((2, 4, 4, 1), np.uint8), np.array([0, 3]), ("a", "b"), np.array(["s1", "s2"]))


def ck48(root: Path) -> Path:
    folder = root / "ckplus" / "CK+48"
    for i, name in enumerate(["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]):
        write_image(folder / name / f"S{100 + i:03d}_001_0000001{i}.png", i)
    return folder


def test_ckplus48_fixture_and_bad_name(tmp_path):
    folder = ck48(tmp_path)
    dataset = create_dataset("ckplus", tmp_path)
    assert dataset.class_names == CKPLUS_CLASSES and list(dataset.subjects) == [f"S{100 + i}" for i in range(7)]
    write_image(folder / "happy" / "img_1.png")
    with pytest.raises(DatasetFormatError, match="img_1.png"):
        create_dataset("ckplus", tmp_path, use_cache=False)


def test_ckplus_full_release_label_file_errors(tmp_path):
    folder = tmp_path / "ckplus"
    write_image(folder / "cohn-kanade-images" / "S005" / "001" / "S005_001_00000001.png")
    label = folder / "Emotion" / "S005" / "001" / "S005_001_00000001_emotion.txt"
    label.parent.mkdir(parents=True)
    label.write_text("   9.0000000e+00\n")
    with pytest.raises(DatasetFormatError, match="outside 1..7"):
        create_dataset("ckplus", tmp_path)
    label.write_text("happy\n")
    with pytest.raises(DatasetFormatError, match="expected one number"):
        create_dataset("ckplus", tmp_path)
    label.write_text("3\n")
    with pytest.raises(DatasetNotFoundError, match="holds 1 frames"):
        create_dataset("ckplus", tmp_path)


def megc(root: Path, rows: list[list[str]]) -> Path:
    folder = root / "megc2019"
    (folder / "STSNet_whole_norm_u_v_os").mkdir(parents=True)
    columns = ["dataset", "sub", "filename_o", "label", "apex", "imagename", "sub_filename"]
    pd.DataFrame(rows, columns=columns).to_csv(folder / "combined_3_class2_for_optical_flow.csv", index=False)
    for row in rows:
        write_image(folder / "STSNet_whole_norm_u_v_os" / f"{row[1]}_{row[2]} .png", size=28, channels=3)
    return folder


def test_megc_flow_planes_load_as_u_v_strain(tmp_path):
    folder = megc(tmp_path, [["samm", "006", "006_1_2", "0", "", "006_006_1_2.jpg", ""]])
    flow = np.zeros((28, 28, 3), np.uint8)
    flow[..., 0], flow[..., 1], flow[..., 2] = 30, 20, 10  # strain, v, u in cv2's B, G, R: u red, v green, strain blue
    cv2.imwrite(str(folder / "STSNet_whole_norm_u_v_os" / "006_006_1_2 .png"), flow)
    dataset = create_dataset("megc2019", tmp_path)
    assert dataset.subjects.tolist() == ["006"] and dataset.images[0, 0, 0].tolist() == [10, 20, 30]


@pytest.mark.parametrize(
    "rows, error, match",
    [
        ([["casme2", "sub01", "EP1", "3", "", "a.jpg", ""]], DatasetFormatError, "not 0, 1 or 2"),
        ([["casme2", "sub01", "EP1", "0", "", "a.jpg", ""]] * 2, DatasetFormatError, "listed twice"),
    ],
)
def test_megc_bad_index(tmp_path, rows, error, match):
    megc(tmp_path, rows)
    with pytest.raises(error, match=match):
        create_dataset("megc2019", tmp_path)


def test_megc_missing_flow_file_and_ground_truth_mismatch(tmp_path):
    folder = megc(tmp_path, [["smic", "s01", "s01_ne_01", "0", "", "s01_s1_ne_01.jpg", ""]])
    (folder / "MEGC2019_combined_3class_gt_v1.csv").write_text("smic,s01,s01_ne_01,2\n")
    with pytest.raises(DatasetFormatError, match="disagree on 1"):
        create_dataset("megc2019", tmp_path)
    (folder / "MEGC2019_combined_3class_gt_v1.csv").unlink()
    (folder / "STSNet_whole_norm_u_v_os" / "s01_s01_ne_01 .png").unlink()
    with pytest.raises(DatasetNotFoundError, match="s01_s01_ne_01 .png"):
        create_dataset("megc2019", tmp_path)
