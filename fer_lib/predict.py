"""Label the facial expressions in images: ``python -m fer_lib predict IMAGE_OR_FOLDER [--model PATH] [--format csv|json]``.

Per image: detect every face (OpenCV Haar cascade), crop each as the model's training faces were framed (the model
file's :class:`~fer_lib.preprocess.face_crop.FaceCrop`), normalise with the training statistics, one forward pass for
all faces of the image, softmax. One row per face: file, face index, box ``x, y, w, h`` in image pixels, ``p_<class>``
per class, label. An image without a face gets one row with empty face fields and a note, so every input appears.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn

from .atomic_write import write_atomic
from .errors import ConfigError
from .model_file import ModelInfo, default_model_path, load_model, to_model_input
from .preprocess.detect import FaceDetector, HaarFaceDetector
from .preprocess.face_crop import crop_faces

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
FORMATS = ("csv", "json")
NO_FACE_NOTE = "no face found (the Haar detector finds frontal faces at least ~40 px wide)"
# Below this side the cascade (24-px windows, 40-px minimum face) misses faces that fill the image, e.g. 48×48 crops
# (on FER2013's it finds almost none as they are, most at 4× with a black border), so such images are upscaled and
# padded for detection only.
SMALL_IMAGE_SIDE = 160


def image_files(path: str | os.PathLike[str]) -> list[Path]:
    """``path`` itself if it is a file, else the image files directly in the folder ``path`` (sorted by name).

    A missing path, or a folder without images (suffixes :data:`IMAGE_SUFFIXES`), is a :class:`ConfigError`; the
    other entries of the folder (subfolders are not searched; hidden ones aside) are named in a warning.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path} does not exist: pass an image file or a folder of images")
    entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    files = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ConfigError(f"Folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)}): pass a folder with images or an image file")
    skipped = [p.name + ("/" if p.is_dir() else "") for p in entries if p not in files]
    if skipped:
        shown = ", ".join(skipped[:5]) + (", …" if len(skipped) > 5 else "")
        log.warning("%s: %d entries are not image files (%s) and are not read: %s", path, len(skipped), ", ".join(IMAGE_SUFFIXES), shown)
    return files


def read_image_bgr(path: Path) -> np.ndarray:
    """Decode ``path`` to uint8 BGR ``(H, W, 3)``; an unreadable or non-image file is a :class:`ConfigError`."""
    data = np.fromfile(path, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ConfigError(f"Cannot decode {path}: the file is empty, truncated or not an image; replace it or remove it from the input")
    return image


def detect_faces(frame_bgr: np.ndarray, detector: FaceDetector) -> np.ndarray:
    """Face boxes ``(N, 4)`` int ``x, y, w, h`` in ``frame_bgr`` pixels, largest first.

    Images smaller than :data:`SMALL_IMAGE_SIDE` are upscaled and padded with a black quarter-side border for the
    detector only; boxes are mapped back to the image (they may reach past its edges: the crop fills that with black).
    """
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    short = min(rgb.shape[:2])
    scale = math.ceil(SMALL_IMAGE_SIDE / short) if short < SMALL_IMAGE_SIDE else 1
    pad = 0
    if scale > 1:
        rgb = cv2.resize(rgb, (rgb.shape[1] * scale, rgb.shape[0] * scale), interpolation=cv2.INTER_LINEAR)
        pad = min(rgb.shape[:2]) // 4
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    boxes = [[(b.x - pad) / scale, (b.y - pad) / scale, b.w / scale, b.h / scale] for b in detector.detect(rgb)]
    return np.round(np.array(boxes, dtype=np.float64).reshape(-1, 4)).astype(np.int64)


@torch.no_grad()
def predict_faces(frame_bgr: np.ndarray, boxes: np.ndarray, model: nn.Module, info: ModelInfo) -> np.ndarray:
    """Class probabilities ``(N, num_classes)`` for the faces ``boxes`` ``(N, 4)`` of one frame, in one forward pass."""
    if len(boxes) == 0:
        return np.zeros((0, info.num_classes), np.float32)
    device = next(model.parameters()).device
    inputs = to_model_input(crop_faces(frame_bgr, boxes, info.crop), info).to(device)
    return torch.softmax(model(inputs).float(), dim=1).cpu().numpy()


def predict_images(
    path: str | os.PathLike[str], model_path: str | os.PathLike[str] | None = None, detector: FaceDetector | None = None, device: str = "cpu"
) -> pd.DataFrame:
    """Predict every face of the image (or folder of images) ``path`` with the model file ``model_path``
    (default: :func:`~fer_lib.model_file.default_model_path`).

    Returns one row per face: ``file``, ``face`` (0-based, largest first), ``x``, ``y``, ``w``, ``h``, ``p_<class>``,
    ``label``, ``note``; an image without a face gives one row with empty (NA) face fields and a ``note``.
    """
    files = image_files(path)
    model, info = load_model(model_path if model_path is not None else default_model_path(), device)
    detector = detector or HaarFaceDetector()
    columns = ["file", "face", "x", "y", "w", "h", *(f"p_{c}" for c in info.class_names), "label", "note"]
    rows: list[dict[str, Any]] = []
    for file in files:
        frame = read_image_bgr(file)
        boxes = detect_faces(frame, detector)
        if len(boxes) == 0:
            rows.append({"file": str(file), "note": NO_FACE_NOTE})
            continue
        for index, (box, probs) in enumerate(zip(boxes, predict_faces(frame, boxes, model, info))):
            row = {"file": str(file), "face": index, **dict(zip("xywh", box.tolist()))}
            row |= {f"p_{c}": float(p) for c, p in zip(info.class_names, probs)}
            rows.append(row | {"label": info.class_names[int(np.argmax(probs))], "note": ""})
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({key: "Int64" for key in ("face", "x", "y", "w", "h")})


def format_predictions(predictions: pd.DataFrame, fmt: str = "csv") -> str:
    """The rows as CSV (probabilities with 4 decimals, empty cells for missing fields) or as a JSON list (``null``)."""
    if fmt == "csv":
        return predictions.to_csv(index=False, float_format="%.4f", lineterminator="\n")
    if fmt == "json":
        records = [{k: _json_value(v) for k, v in row.items()} for row in predictions.to_dict(orient="records")]
        return json.dumps(records, indent=2) + "\n"
    raise ConfigError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return round(value, 4)
    return value.item() if isinstance(value, np.generic) else value


def run_predict(path: str, model: str | None = None, fmt: str = "csv", out: str | None = None) -> int:
    """The ``predict`` command: print the rows, or write them to ``out`` (atomically) and say where; exit status 0."""
    target = None if out is None else Path(out)
    if target is not None and not target.parent.is_dir():
        raise ConfigError(f"Cannot write {target}: its folder {target.parent} does not exist; create it or pass another --out")
    predictions = predict_images(path, model)
    text = format_predictions(predictions, fmt)
    if target is None:
        print(text, end="")
        return 0
    write_atomic(target, lambda tmp: tmp.write_text(text))
    print(f"Wrote {len(predictions)} rows to {target}")
    return 0
