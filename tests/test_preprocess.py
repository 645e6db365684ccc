"""Face detection, alignment and normalisation: known answers on synthetic images, hit rate on real CASME II frames."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fer_lib.data.io import read_image
from fer_lib.preprocess import (
    FaceBox,
    HaarFaceDetector,
    NoFaceError,
    Normalize,
    YuNetFaceDetector,
    align_face,
    align_faces,
    channel_stats,
    crop_face_box,
    detect_eyes,
    standardize_per_image,
)
from fer_lib.preprocess import detect as detect_module

CASME_SUB01 = "casme2/CASME2_RAW_selected/sub01"


class FixedDetector:
    """A detector that returns the same boxes for every image (or none for images listed in ``blind``)."""

    def __init__(self, boxes: list[FaceBox], blind: tuple[int, ...] = ()) -> None:
        self.boxes, self.blind, self.calls = boxes, blind, 0

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        self.calls += 1
        return [] if self.calls - 1 in self.blind else self.boxes


@pytest.fixture
def casme_frames(fer_data: Path) -> list[Path]:
    """20 frames spread evenly over the 497 CASME II sub01 frames."""
    paths = sorted((fer_data / CASME_SUB01).glob("*/img*.jpg"))
    assert paths, f"no frames under {fer_data / CASME_SUB01}"
    return [paths[i] for i in np.linspace(0, len(paths) - 1, 20).astype(int)]


# --- detection -------------------------------------------------------------------------------------------


def test_facebox_scaled_and_center() -> None:
    box = FaceBox(10, 20, 30, 40, 1.0, eyes=((15, 30), (35, 30))).scaled(2)
    assert (box.x, box.y, box.w, box.h, box.center) == (20, 40, 60, 80, (50, 80))
    assert box.eyes == ((30, 60), (70, 60)) and box.area == 4800


def test_detector_rejects_float_image() -> None:
    with pytest.raises(ValueError, match="uint8"):
        HaarFaceDetector().detect(np.zeros((64, 64, 3), np.float32))


def test_missing_cascade_names_file_and_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect_module.cv2.data, "haarcascades", str(tmp_path) + "/")
    with pytest.raises(FileNotFoundError, match="haarcascade_frontalface_default.xml.*opencv-contrib-python-headless==4.14.0.94"):
        HaarFaceDetector()


def test_yunet_missing_model_names_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="yunet.onnx"):
        YuNetFaceDetector(tmp_path / "yunet.onnx")


def test_yunet_row_parsing() -> None:
    row = np.array([10, 20, 100, 120, 80, 60, 40, 62, 60, 90, 45, 110, 75, 110, 0.93], np.float32)
    box = detect_module._yunet_box(row).scaled(0.5)
    assert (box.x, box.y, box.w, box.h) == (5, 10, 50, 60) and box.score == pytest.approx(0.93)
    assert box.eyes == ((20, 31), (40, 30))  # sorted image-left first


def test_haar_finds_real_faces_largest_first_and_scales_back(casme_frames: list[Path]) -> None:
    image = read_image(casme_frames[0])
    detector = HaarFaceDetector()
    (box,) = detector.detect(image)
    big = detector.detect(cv2.resize(image, None, fx=2, fy=2))[0]  # 1280 px: detected at 512 px, scaled back
    assert big.w == pytest.approx(2 * box.w, rel=0.1) and big.x == pytest.approx(2 * box.x, rel=0.1)
    face = image[int(box.y) : int(box.y + box.h), int(box.x) : int(box.x + box.w)]
    canvas = np.full((480, 900, 3), 128, np.uint8)
    canvas[: face.shape[0], : face.shape[1]] = face
    small = cv2.resize(face, None, fx=0.5, fy=0.5)
    canvas[100 : 100 + small.shape[0], 600 : 600 + small.shape[1]] = small
    boxes = detector.detect(canvas)
    assert len(boxes) == 2 and boxes[0].area > boxes[1].area and boxes[0].x < 300


def test_eyes_found_in_upper_face(casme_frames: list[Path]) -> None:
    image = read_image(casme_frames[0])
    box = HaarFaceDetector().detect(image)[0]
    face = image[int(box.y) : int(box.y + box.h), int(box.x) : int(box.x + box.w)]
    (lx, ly), (rx, ry) = detect_eyes(face)
    assert lx < face.shape[1] / 2 <= rx and max(ly, ry) < 0.6 * face.shape[0]
    assert detect_eyes(np.full((120, 120), 128, np.uint8)) is None


# --- alignment -------------------------------------------------------------------------------------------


def test_casme_frames_align(casme_frames: list[Path]) -> None:
    faces, kept = align_faces([read_image(p) for p in casme_frames], size=64, names=[str(p) for p in casme_frames], on_missing="skip")
    assert len(kept) >= 18 and faces.shape == (len(kept), 64, 64, 1)


def test_blank_image_raises_naming_source() -> None:
    with pytest.raises(NoFaceError, match="No face found in frame 12 of clip.mp4.*on_missing='skip'"):
        align_face(np.full((240, 320, 3), 128, np.uint8), where="frame 12 of clip.mp4")


def _two_dots(tilt_deg: float) -> tuple[np.ndarray, FaceBox]:
    """A 200×200 image with two bright 'eyes' 60 px apart on a line tilted by ``tilt_deg`` about (100, 90)."""
    image = np.zeros((200, 200), np.uint8)
    dx, dy = 30 * math.cos(math.radians(tilt_deg)), 30 * math.sin(math.radians(tilt_deg))
    eyes = ((100 - dx, 90 - dy), (100 + dx, 90 + dy))
    for x, y in eyes:
        cv2.circle(image, (round(x), round(y)), 4, 255, -1)
    return image, FaceBox(50, 50, 100, 100, 1.0, eyes=eyes)


def test_align_levels_eye_line() -> None:
    image, box = _two_dots(20)
    aligned = align_face(image, FixedDetector([box]), size=100, margin=0.0)
    assert aligned.angle_deg == pytest.approx(20, abs=1) and aligned.image.shape == (100, 100, 1)
    ys, xs = np.nonzero(aligned.image[..., 0] > 128)
    left, right = ys[xs < 50].mean(), ys[xs >= 50].mean()
    assert abs(left - right) < 1 and abs(left - 40) < 1.5  # eyes at y=90 in a box spanning 50..150 -> row 40


def test_align_without_eyes_is_upright_rgb() -> None:
    image, box = _two_dots(20)
    aligned = align_face(np.dstack([image] * 3), FixedDetector([box]), size=50, color="rgb", align_eyes=False)
    assert aligned.angle_deg == 0 and aligned.eyes is None and aligned.image.shape == (50, 50, 3)


def test_crop_face_box_exact_and_padded() -> None:
    image = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    crop = crop_face_box(image, FaceBox(10, 5, 30, 30, 1.0), size=30, margin=0.0, color="rgb")
    np.testing.assert_array_equal(crop, image[5:35, 10:40])
    padded = crop_face_box(image, FaceBox(-10, -10, 20, 20, 1.0), size=20, margin=0.0, color="rgb")
    assert (padded[:10, :10] == 0).all()
    np.testing.assert_array_equal(padded[10:, 10:], image[:10, :10])


def test_align_faces_raise_names_first_miss() -> None:
    image, box = _two_dots(0)
    with pytest.raises(NoFaceError, match="frame 1 of a.mp4"):
        align_faces([image] * 3, FixedDetector([box], blind=(1,)), names=[f"frame {i} of a.mp4" for i in range(3)])


def test_align_faces_skip_warns_with_count(caplog: pytest.LogCaptureFixture) -> None:
    image, box = _two_dots(0)
    with caplog.at_level(logging.WARNING):
        faces, kept = align_faces([image] * 4, FixedDetector([box], blind=(0, 2)), size=32, on_missing="skip")
    assert kept.tolist() == [1, 3] and faces.shape == (2, 32, 32, 1)
    assert "no face in 2 of 4 images" in caplog.text and "image 0" in caplog.text


def test_align_faces_all_missing_gives_empty_batch() -> None:
    faces, kept = align_faces([np.zeros((50, 50), np.uint8)], FixedDetector([]), size=32, color="rgb", on_missing="skip")
    assert faces.shape == (0, 32, 32, 3) and kept.shape == (0,)


# --- normalisation ---------------------------------------------------------------------------------------


def test_channel_stats_matches_numpy_in_chunks() -> None:
    images = np.random.default_rng(1).integers(0, 256, (37, 8, 8, 3), dtype=np.uint8)
    mean, std = channel_stats(images, chunk=5)
    np.testing.assert_allclose(mean, images.mean(axis=(0, 1, 2)) / 255, rtol=1e-5)
    np.testing.assert_allclose(std, images.std(axis=(0, 1, 2)) / 255, rtol=1e-5)


def test_channel_stats_rejects_float() -> None:
    with pytest.raises(ValueError, match="uint8"):
        channel_stats(np.zeros((2, 4, 4, 1), np.float32))


def test_normalize_uint8_float_channels_last_bf16() -> None:
    norm = Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.5))
    x = torch.randint(0, 256, (4, 3, 6, 6), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
    expected = (x.float() / 255 - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.25, 0.5]).view(1, 3, 1, 1)
    out = norm(x)
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(norm(x.float() / 255), expected)
    assert norm(x.bfloat16() / 255).dtype == torch.bfloat16
    assert set(norm.state_dict()) == {"scale", "shift"}


def test_normalize_rejects_zero_std() -> None:
    with pytest.raises(ValueError, match="std > 0"):
        Normalize(0.5, 0.0)


def test_standardize_per_image() -> None:
    x = torch.rand(3, 2, 5, 5) * torch.tensor([1.0, 10.0, 100.0]).view(3, 1, 1, 1) + 7
    out = standardize_per_image(x)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(dim=(1, 2, 3), correction=0), torch.ones(3), atol=1e-4, rtol=0)
