"""Image decoding with errors that name the file. OpenCV decodes; Pillow covers what it cannot (palette TIFFs)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, Sequence

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DatasetFormatError, DatasetNotFoundError

Color = Literal["gray", "rgb"]


def decode_image(data: bytes | np.ndarray, color: Color, where: str) -> np.ndarray:
    """Decode encoded image bytes to uint8 ``(H, W, C)`` with C = 1 (gray) or 3 (RGB)."""
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else data
    flag = cv2.IMREAD_GRAYSCALE if color == "gray" else cv2.IMREAD_COLOR
    image = cv2.imdecode(buffer, flag) if buffer.size else None
    if image is None:
        image = _decode_with_pillow(buffer.tobytes(), color, where)
    elif color == "rgb":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image[..., None] if image.ndim == 2 else image


def _decode_with_pillow(data: bytes, color: Color, where: str) -> np.ndarray:
    import io

    try:
        with Image.open(io.BytesIO(data)) as pil:
            return np.asarray(pil.convert("L" if color == "gray" else "RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DatasetFormatError(
            f"Cannot decode image {where}: the file is empty, truncated or not an image ({error}). "
            "Re-download or replace this file."
        ) from None


def read_image(path: str | os.PathLike[str], color: Color = "rgb", size: int | None = None) -> np.ndarray:
    """Read one image as uint8 ``(H, W, C)``; resize to ``size``×``size`` (area interpolation) if given."""
    path = Path(path)
    try:
        data = np.fromfile(path, np.uint8)
    except FileNotFoundError:
        raise DatasetNotFoundError(f"Image file {path} does not exist") from None
    image = decode_image(data, color, str(path))
    return resize_square(image, size) if size else image


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(H, W, C)`` to ``(size, size, C)``; area interpolation when shrinking, linear when growing."""
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image
    interpolation = cv2.INTER_AREA if size < min(h, w) else cv2.INTER_LINEAR
    resized = cv2.resize(image, (size, size), interpolation=interpolation)
    return resized[..., None] if resized.ndim == 2 else resized


def read_images(paths: Sequence[Path], color: Color, size: int | None = None, workers: int | None = None) -> np.ndarray:
    """Decode many images in parallel threads (OpenCV releases the GIL) into one ``(N, H, W, C)`` array.

    Images of different sizes need ``size``; the error names the first file whose shape differs.
    """
    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        images = list(pool.map(lambda p: read_image(p, color, size), paths, chunksize=256))
    if not images:
        channels = 1 if color == "gray" else 3
        return np.zeros((0, size or 0, size or 0, channels), np.uint8)
    shape = images[0].shape
    for path, image in zip(paths, images):
        if image.shape != shape:
            raise DatasetFormatError(f"Image {path} is {image.shape[:2]} but {paths[0]} is {shape[:2]}; pass image_size=... to resize")
    return np.stack(images)


def crop_box(image: np.ndarray, box: tuple[int, int, int, int], where: str) -> np.ndarray:
    """Crop ``box = (left, top, right, bottom)`` (right/bottom exclusive) from ``(H, W, C)``, clipped to the image.

    Annotated face boxes often reach past the border; an empty crop is an error naming ``where``.
    """
    h, w = image.shape[:2]
    left, top, right, bottom = box
    x0, y0, x1, y1 = max(left, 0), max(top, 0), min(right, w), min(bottom, h)
    if x1 <= x0 or y1 <= y0:
        raise DatasetFormatError(f"Face box (left, top, right, bottom) = {box} of {where} does not overlap the {w}x{h} image")
    return image[y0:y1, x0:x1]


def read_face_crops(
    paths: Sequence[Path], boxes: Sequence[tuple[int, int, int, int]], color: Color, size: int, workers: int | None = None
) -> np.ndarray:
    """Decode each image, crop its face box (see :func:`crop_box`) and resize to ``size``×``size``: ``(N, size, size, C)``."""

    def crop(path: Path, box: tuple[int, int, int, int]) -> np.ndarray:
        return resize_square(crop_box(read_image(path, color), box, str(path)), size)

    workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        images = list(pool.map(crop, paths, boxes, chunksize=256))
    channels = 1 if color == "gray" else 3
    return np.stack(images) if images else np.zeros((0, size, size, channels), np.uint8)
