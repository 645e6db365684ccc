"""Tiny copies of the downloadable still-image datasets (JAFFE, RAF-DB, AffectNet, ExpW) in their public layouts.

Every image is flat grey with a value that identifies it, so a test can check that each label, crop and sample
id travels with the right pixels (flat JPEG blocks decode to within a grey level or two of their value).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

FACE_VALUE = 200  # grey value inside a face box; the rest of an in-the-wild image is 0
CANVAS = (32, 48)  # (height, width) of the in-the-wild images; 8-pixel aligned so JPEG keeps the box edges sharp
FACE_BOX = (24, 8, 40, 24)  # (left, top, right, bottom): deliberately off-centre and not symmetric in x/y


def write_flat(path: Path, value: int, size: tuple[int, int] = (16, 16)) -> Path:
    """A flat grey image (``size`` = height, width) in the format given by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(size, value, np.uint8))
    return path


def write_scene(path: Path, box: tuple[int, int, int, int] = FACE_BOX, value: int = FACE_VALUE) -> Path:
    """A black ``CANVAS`` image whose ``box`` (left, top, right, bottom) is filled with ``value``."""
    left, top, right, bottom = box
    image = np.zeros(CANVAS, np.uint8)
    image[top:bottom, left:right] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def write_garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not an image \x00\x01\x02")
    return path


# --- JAFFE -------------------------------------------------------------------------------------------------------

# (file name, grey value); labels follow the two-letter code, subjects the prefix.
JAFFE_FILES = {
    "KA.AN1.39.tiff": 10,
    "KA.HA1.29.tiff": 20,
    "KL.NE1.155.tiff": 30,
    "KL.SU2.165.tiff": 40,
    "NA.DI1.214.tiff": 50,
    "NA.FE3.220.tiff": 60,
}
JAFFE_PALETTE_FILE = "YM.SA1.55.tiff"
JAFFE_PALETTE_VALUE = 77


def make_jaffe(folder: Path) -> Path:
    """A jaffedbase-like folder: TIFFs, one palette ('P' mode) TIFF whose indices differ from its grey values, a README."""
    for name, value in JAFFE_FILES.items():
        write_flat(folder / name, value)
    index = np.full((16, 16), 255 - JAFFE_PALETTE_VALUE, np.uint8)
    palette = Image.fromarray(index, "P")
    palette.putpalette([level for i in range(256) for level in (255 - i,) * 3])
    palette.save(folder / JAFFE_PALETTE_FILE)
    (folder / "README").write_text("JAFFE images, see the terms of use\n")
    return folder


# --- RAF-DB ------------------------------------------------------------------------------------------------------

# (name, label 1..7 as in list_patition_label.txt); the grey value of image i is 20 + 20 * i.
RAFDB_ROWS = [("train_00001.jpg", 5), ("train_00002.jpg", 1), ("train_00003.jpg", 4), ("test_0001.jpg", 7), ("test_0002.jpg", 3)]


def rafdb_value(index: int) -> int:
    return 20 + 20 * index


def make_rafdb(parent: Path, aligned: bool = True, original: bool = True, rows: list[tuple[str, int]] = RAFDB_ROWS) -> Path:
    """``parent/basic/`` with EmoLabel/list_patition_label.txt and Image/aligned (16×16) and/or Image/original (24×32)."""
    basic = parent / "basic"
    label_file = basic / "EmoLabel/list_patition_label.txt"
    label_file.parent.mkdir(parents=True)
    label_file.write_text("".join(f"{name} {label}\n" for name, label in rows))
    for i, (name, _) in enumerate(rows):
        stem = name.removesuffix(".jpg")
        if aligned:
            write_flat(basic / f"Image/aligned/{stem}_aligned.jpg", rafdb_value(i))
        if original:
            write_flat(basic / f"Image/original/{name}", rafdb_value(i), size=(24, 32))
    return basic


# --- AffectNet ---------------------------------------------------------------------------------------------------

AFFECTNET_HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
# (subDirectory_filePath, expression) per CSV; 8/9/10 rows are not expressions, 7 is contempt.
AFFECTNET_ROWS = {
    "training.csv": [("689/a1.jpg", 0), ("689/a2.jpg", 1), ("12/b1.png", 6), ("12/b2.jpg", 7), ("12/b3.jpg", 8), ("12/b4.jpg", 9), ("5/c1.jpg", 10), ("5/c2.jpg", 10)],
    "validation.csv": [("1/v1.jpg", 3), ("1/v2.jpg", 7), ("2/v3.jpg", 5)],
}


def affectnet_line(path: str, expression: int, box: tuple[int, int, int, int] = FACE_BOX) -> str:
    left, top, right, bottom = box
    landmarks = ";".join(f"{v:.2f}" for v in np.linspace(left, right, 10))
    return f"{path},{left},{top},{right - left},{bottom - top},{landmarks},{expression},0.25,-0.5\n"


def make_affectnet_csv(folder: Path, validation_header: bool = False) -> Path:
    """The official layout; validation.csv is written without its header row, as in some copies of the release."""
    lists = folder / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True)
    for csv, rows in AFFECTNET_ROWS.items():
        header = AFFECTNET_HEADER + "\n" if csv == "training.csv" or validation_header else ""
        (lists / csv).write_text(header + "".join(affectnet_line(path, expression) for path, expression in rows))
        for path, _ in rows:
            write_scene(folder / "Manually_Annotated_Images" / path)
    return folder


# (split folder, class folder name, number of images); numeric names are AffectNet ids.
AFFECTNET_FOLDERS_NAMED = [("train", "anger", 2), ("train", "contempt", 1), ("train", "happy", 1), ("val", "neutral", 1), ("val", "Contempt", 1)]
AFFECTNET_FOLDERS_NUMERIC = [("train", "6", 2), ("train", "7", 1), ("train", "1", 1), ("val", "0", 1), ("val", "7", 1)]


def make_affectnet_folders(folder: Path, layout: list[tuple[str, str, int]]) -> Path:
    """The Kaggle / AffectNet-HQ image-folder layout ``<split>/<class>/*.jpg`` with 16×16 faces."""
    for split, name, count in layout:
        for i in range(count):
            write_flat(folder / split / name / f"image{i:04d}.jpg", 100)
    return folder


# --- ExpW --------------------------------------------------------------------------------------------------------

# label.lst rows: (image_name, face_id, top, left, right, bottom, confidence, label). Two faces share one image.
EXPW_ROWS = [
    ("angry_actor_1.jpg", 0, 8, 24, 40, 24, 71.75, 0),
    ("happy_child_7.jpg", 0, 8, 24, 40, 24, 55.10, 3),
    ("happy_child_7.jpg", 1, 0, 0, 8, 8, 12.50, 6),
    ("sad_man_3.jpg", 0, 8, 24, 40, 24, 40.00, 4),
]


def expw_line(row: tuple) -> str:
    return " ".join(str(v) for v in row) + "\n"


def make_expw(data: Path, rows: list[tuple] = EXPW_ROWS) -> Path:
    """The download's ``data/`` folder: label/label.lst and image/origin/<image_name> (face boxes filled with FACE_VALUE)."""
    (data / "label").mkdir(parents=True)
    (data / "label/label.lst").write_text("".join(expw_line(row) for row in rows))
    for image in {row[0] for row in rows}:
        write_scene(data / "image/origin" / image)
    return data


def real_video_frame(data_root: Path, index: int = 300) -> np.ndarray:
    """Frame ``index`` (BGR) of the data root's real video: one smiling face, 640×360."""
    capture = cv2.VideoCapture(str(data_root / "videos" / "WolfgangLanger_Pexels.mp4"))
    for _ in range(index):
        capture.grab()
    ok, frame = capture.read()
    capture.release()
    assert ok, f"the video has fewer than {index + 1} frames"
    return frame
