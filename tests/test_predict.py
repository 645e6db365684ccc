"""``python -m fer_lib predict``: faces found in real images, cropped as in training, one row per face (or a face-less
row), probabilities that sum to 1; bad input is one line and exit code 2. Also the crop recipe itself."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch


from fer_lib.__main__ import main
from fer_lib.data.io import resize_square
from fer_lib.model_file import default_model_path, load_model, to_model_input
from fer_lib.predict import NO_FACE_NOTE, detect_faces, image_files, predict_images
from fer_lib.preprocess.detect import HaarFaceDetector
from fer_lib.preprocess.face_crop import FaceCrop, crop_faces, measure_framing

from .fixtures_data import real_video_frame

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def face_frame(fer_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frame 300 of the real video (one smiling face, 640×360) as a PNG."""
    frame = real_video_frame(fer_data)
    path = tmp_path_factory.mktemp("frames") / "frame300.png"
    cv2.imwrite(str(path), frame)
    return path


@pytest.fixture(scope="module")
def no_face(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blank") / "wall.png"
    cv2.imwrite(str(path), np.full((240, 320, 3), 128, np.uint8))
    return path


def test_predict_finds_the_face_and_returns_probabilities(face_frame):
    rows = predict_images(face_frame)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["face"] == 0 and row["note"] == ""
    assert 200 < row["x"] + row["w"] / 2 < 640 and 100 < row["w"] < 360  # a face of the frame, not a speck
    probs = rows.filter(like="p_").to_numpy(dtype=float)
    assert probs.shape == (1, 7) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5) and (probs >= 0).all()
    assert row["label"] == rows.filter(like="p_").columns[probs.argmax()].removeprefix("p_")


def test_an_image_without_a_face_gets_one_row_with_a_note(no_face, face_frame):
    folder = no_face.parent
    (folder / face_frame.name).write_bytes(face_frame.read_bytes())
    (folder / "readme.txt").write_text("not an image: not an input either")
    rows = predict_images(folder)
    assert list(rows["file"]) == [str(folder / "frame300.png"), str(folder / "wall.png")]
    blank = rows.iloc[1]
    assert blank["note"] == NO_FACE_NOTE and pd.isna(blank["face"]) and pd.isna(blank["x"]) and pd.isna(blank["p_happy"])


def test_a_folders_other_entries_are_named_in_a_warning(tmp_path, caplog):
    cv2.imwrite(str(tmp_path / "wall.png"), np.full((64, 64, 3), 128, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "more").mkdir()
    (tmp_path / ".DS_Store").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="fer_lib.predict"):
        assert image_files(tmp_path) == [tmp_path / "wall.png"]
    assert f"{tmp_path}: 2 entries are not image files" in caplog.text and caplog.text.rstrip().endswith("are not read: more/, notes.txt")


def test_cli_prints_csv_and_writes_json_with_the_default_model(face_frame, no_face, tmp_path, capsys):
    assert main(["predict", str(face_frame)]) == 0  # no --model: the committed default
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("file,face,x,y,w,h,p_angry,") and lines[0].endswith(",label,note") and len(lines) == 2
    out = tmp_path / "faces.json"
    assert main(["predict", str(no_face), "--format", "json", "--out", str(out), "--model", str(default_model_path())]) == 0
    assert capsys.readouterr().out.strip() == f"Wrote 1 rows to {out}"
    (row,) = json.loads(out.read_text())
    assert row["face"] is None and row["p_happy"] is None and row["note"] == NO_FACE_NOTE
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("case", ["missing", "corrupt", "empty-folder", "foreign-model", "no-out-folder"])
def test_cli_bad_input_is_one_line_and_exit_code_2(case, face_frame, tmp_path, capsys):
    target = {"missing": tmp_path / "nope.jpg", "corrupt": tmp_path / "broken.jpg", "empty-folder": tmp_path / "empty"}.get(case, face_frame)
    argv = ["predict", str(target)]
    if case == "corrupt":
        target.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    if case == "empty-folder":
        target.mkdir()
    if case == "foreign-model":
        model = tmp_path / "weights.pt"
        torch.save({"conv.weight": torch.zeros(1)}, model)
        argv += ["--model", str(model)]
        target = model
    if case == "no-out-folder":
        target = tmp_path / "no" / "such"
        argv += ["--out", str(target / "out.csv")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert str(target) in captured.err


def test_crop_faces_pads_boxes_outside_the_frame_and_keeps_every_box():
    frame = np.full((100, 120, 3), (10, 20, 200), np.uint8)  # BGR: red
    boxes = np.array([[10, 10, 40, 40], [-20, -20, 40, 40], [100, 80, 40, 40]])
    grey = crop_faces(frame, boxes, FaceCrop(size=48, grayscale=True, margin=0.0, align=False))
    assert grey.shape == (3, 48, 48, 1) and grey.dtype == np.uint8
    assert (grey[0] == cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)[0, 0]).all()
    assert grey[1, :20, :20].max() == 0 and grey[1, 30:, 30:].min() > 0  # top-left half outside: black, not dropped
    rgb = crop_faces(frame, boxes[:1], FaceCrop(size=32, grayscale=False, margin=0.25, align=True))
    assert rgb.shape == (1, 32, 32, 3) and tuple(rgb[0, 16, 16]) == (200, 20, 10)  # RGB order, as training images
    assert crop_faces(frame, np.zeros((0, 4)), FaceCrop(48, True, 0.0, False)).shape == (0, 48, 48, 1)
    with pytest.raises(ValueError, match="w > 0"):
        crop_faces(frame, np.array([[0, 0, 0, 10]]), FaceCrop(48, True, 0.0, False))


def test_recorded_crop_reframes_fer2013_faces_like_the_dataset(fer_data):
    """Detect + crop with the model's recipe on FER2013 test crops gives the label of the original crop far more often
    than a looser framing does: the recipe reproduces the training framing."""
    model, info = load_model(default_model_path())
    paths = sorted((fer_data / "fer2013" / "test").glob("*/PrivateTest_*.jpg"))[::50][:70]
    frames = [cv2.imread(str(p)) for p in paths]
    detector = HaarFaceDetector()
    found = [(frame, boxes[:1]) for frame in frames if len(boxes := detect_faces(frame, detector))]
    assert len(found) >= len(frames) // 2

    def labels(faces: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(to_model_input(faces, info)).argmax(1).numpy()

    # the original crop as the dataset loader feeds it to the model (resized to the recipe's input side)
    original = labels(np.stack([resize_square(frame[..., :1], info.img_size) for frame, _ in found]))

    def agreement(crop: FaceCrop) -> float:
        return float(np.mean(labels(np.concatenate([crop_faces(frame, box, crop) for frame, box in found])) == original))

    loose = dataclasses.replace(info.crop, margin=0.3)
    assert agreement(info.crop) > agreement(loose) + 0.1


def test_measure_framing_of_fer2013_crops_is_about_the_detector_box(fer_data):
    paths = sorted((fer_data / "fer2013" / "train" / "happy").glob("*.jpg"))[:40]
    faces = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)[..., None] for p in paths])
    framing = measure_framing(faces, sample=40)
    assert framing.images == 40 and framing.detected >= 20
    assert framing.margin_q25 <= framing.margin <= framing.margin_q75 and abs(framing.margin) < 0.1
    blank = measure_framing(np.zeros((5, 48, 48, 1), np.uint8))
    assert blank.detected == 0 and np.isnan(blank.margin)
