"""Faces cut from uncropped photographs: the full CK+ release, BU-3DFE's and BU-4DFE's 2D texture images.

Each image is detected and aligned (:func:`fer_lib.preprocess.align_face`, the paper's §3.2 face alignment) and
resized to the loader's ``image_size``. Images come in units (a CK+ or BU-4DFE sequence, a BU-3DFE photo) that are
kept or left out whole, so that every sequence contributes the same number of frames. An image without a detectable
face is an error naming it (``on_no_face="raise"``, the default) or leaves out its unit with a logged warning
(``"skip"``): never a silent drop.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from .errors import DatasetFormatError
from .io import Color, read_image

log = logging.getLogger(__name__)
NoFace = Literal["raise", "skip"]
ON_NO_FACE = ("raise", "skip")


def check_on_no_face(on_no_face: str) -> None:
    """A ``ValueError`` unless ``on_no_face`` is one of :data:`ON_NO_FACE`."""
    if on_no_face not in ON_NO_FACE:
        raise ValueError(f"on_no_face must be 'raise' or 'skip', got {on_no_face!r}")


def align_units(
    folder: Path,
    units: Sequence[Sequence[Path]],
    size: int,
    color: Color,
    on_no_face: NoFace,
    dataset: str,
    title: str,
    crop_hint: str = "",
) -> tuple[np.ndarray, list[int]]:
    """The aligned faces ``(N, size, size, C)`` of the images of the units kept, in order, and the indices of those
    units in ``units`` (all under the dataset folder ``folder``). ``dataset`` (the registry name) and ``title`` word
    the error, which gives the ways to skip; ``crop_hint`` adds a dataset's own way out (CK+48, a cropped copy)."""
    from ..preprocess import NoFaceError, align_face  # face alignment is needed only for uncropped photographs

    check_on_no_face(on_no_face)
    faces: list[np.ndarray] = []
    kept: list[int] = []
    for index, paths in enumerate(units):
        aligned = []
        for path in paths:
            try:
                aligned.append(align_face(read_image(path, "rgb"), size=size, color=color, where=str(path)).image)
            except NoFaceError:
                if on_no_face == "raise":
                    raise DatasetFormatError(
                        f"No face found in {title} {'frame' if _is_sequence(paths) else 'image'} {path} (the detector needs a roughly frontal, unoccluded face at least ~40 px wide): "
                        f"check the image, or leave out such {_unit_kind(units)}s (each is logged): "
                        f"create_dataset('{dataset}', root, on_no_face='skip'), train --set loader_options='{{\"on_no_face\": \"skip\"}}', "
                        f"datasets --loader-option {dataset}.on_no_face=skip{crop_hint}"
                    ) from None
                log.warning("%s %s left out (on_no_face='skip'): no face found in %s", title, _unit_name(paths), path)
                break
        else:
            faces += aligned
            kept.append(index)
    if not kept:
        raise DatasetFormatError(
            f"Every {title} {_unit_kind(units)} under {folder} was left out (on_no_face='skip'): none of the {len(units)} has a detectable face"
        )
    return np.stack(faces), kept


def _is_sequence(paths: Sequence[Path]) -> bool:
    return len(paths) > 1


def _unit_kind(units: Sequence[Sequence[Path]]) -> str:
    """``"sequence"`` when the units are frames of sequences, ``"image"`` when each is one photograph."""
    return "sequence" if any(_is_sequence(paths) for paths in units) else "image"


def _unit_name(paths: Sequence[Path]) -> str:
    """``sequence S010/002`` for several frames of one folder, ``image <file name>`` for one photograph."""
    if _is_sequence(paths):
        return f"sequence {paths[0].parent.parent.name}/{paths[0].parent.name}"
    return f"image {paths[0].name}"
