"""Cross-dataset evaluation: a model trained on one dataset (FER2013) scored on other datasets' faces (CK+, JAFFE).

``python -m fer_lib cross-dataset RUN_DIR [RUN_DIR ...] [--root DATA] [--out-dir DIR]`` writes each run's
:data:`CROSS_DATASET_FILE` (one record per evaluated dataset; the report's cross-dataset section reads it).

* Classes: only those both datasets share are scored. Samples of the other dataset's extra classes (CK+'s contempt)
  are dropped, and the model's predictions are restricted to the shared classes (argmax over their logits only), so a
  FER2013 model is never marked wrong on CK+ for answering "neutral", a class CK+ does not label.
* Faces: CK+ (CK+48) images are already tight 48×48 face crops like FER2013's: used as they are, resized to the
  model's input size. JAFFE images are whole 256×256 photos: each face is detected (Haar, as ``predict`` does) and
  cropped with the model file's :class:`~fer_lib.preprocess.face_crop.FaceCrop`; an image without a detected face is
  counted in ``n_no_face`` (and named in ``no_face_ids``), not scored.
* Each evaluation set is used when it is under the data root (a logged note otherwise); the command refuses a root
  holding neither.

Record keys: ``train_dataset``, ``eval_dataset``, ``classes``, ``n`` (samples scored), ``accuracy``, ``macro_f1``,
``uar``, ``per_class``, ``confusion_matrix`` (:func:`~fer_lib.metrics.classification_metrics`), ``n_images``,
``excluded_classes``, ``n_excluded``, ``n_no_face``, ``no_face_ids``, ``faces`` (how faces were obtained),
``model``, ``source_model``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from .atomic_write import write_atomic
from .data import create_dataset
from .data.base import FaceDataset
from .data.registry import get_dataset_spec
from .errors import ConfigError
from .metrics import SUMMARY_KEYS, classification_metrics
from .model_file import MODEL_FILE, load_model, why_no_model_file
from .paths import data_root as resolve_data_root
from .predict import detect_faces
from .preprocess.detect import FaceDetector, HaarFaceDetector
from .preprocess.face_crop import FaceCrop, crop_faces
from .preprocess.normalize import Normalize
from .runs import run_model_file

log = logging.getLogger(__name__)
CROSS_DATASET_FILE = "cross_dataset.json"  # the name fer_lib.report.collect reads
CROPPED = "ckplus"  # evaluation sets of face crops, used as they are
DETECTED = "jaffe"  # evaluation sets of whole photos: detect, then crop with the model's FaceCrop
CROPPED_FACES = "the dataset's face crops, resized to the model's input"
DETECTED_FACES = "largest Haar face of each photo, cropped with the model file's FaceCrop"


def shared_classes(model_classes: Sequence[str], eval_classes: Sequence[str]) -> tuple[str, ...]:
    """The classes of ``model_classes`` that ``eval_classes`` also has, in the model's order."""
    return tuple(c for c in model_classes if c in eval_classes)


def restricted_predictions(logits: torch.Tensor, model_classes: Sequence[str], shared: Sequence[str]) -> np.ndarray:
    """Predicted ids into ``shared`` for ``logits`` ``(N, len(model_classes))``: the argmax over the shared classes'
    logits only, so a class the evaluation set does not label (e.g. FER2013's neutral on CK+) is never predicted."""
    columns = [list(model_classes).index(c) for c in shared]
    return logits[:, columns].argmax(dim=1).cpu().numpy()


@torch.no_grad()
def evaluate_model_cross_dataset(
    model: nn.Module,
    mean: Sequence[float] | np.ndarray,
    std: Sequence[float] | np.ndarray,
    class_names: Sequence[str],
    img_size: int,
    crop: FaceCrop,
    train_dataset: str,
    data_root: str | os.PathLike[str] | None = None,
    source_model: str = "",
    model_name: str = "",
    detector: FaceDetector | None = None,
    batch_size: int = 256,
) -> list[dict[str, Any]]:
    """One record per evaluation set (CK+, and JAFFE when present under ``data_root`` / ``FER_DATA``) for an in-memory
    ``model`` trained on ``train_dataset``: its logits follow ``class_names``, it takes ``crop.channels`` ×
    ``img_size`` × ``img_size`` inputs normalised with the training split's ``mean``/``std`` ([0, 1] units).

    ``model`` is put in eval mode for the evaluation and left in the mode it had. An evaluation set that is the
    training set, or shares fewer than two classes with it, is skipped with a logged note.
    """
    base = resolve_data_root(data_root)
    score = _Scorer(model, mean, std, tuple(class_names), batch_size)
    evaluated: list[tuple[dict[str, Any] | None, str]] = []
    was_training = model.training
    model.eval()
    try:
        for name in (CROPPED, DETECTED):
            spec = get_dataset_spec(name)
            if name == train_dataset:
                continue
            if spec.locate(base) is None:
                log.warning("%s is not under %s: no cross-dataset evaluation on it", spec.title, base)
            elif name == CROPPED:
                crops = create_dataset(name, base, "all", image_size=img_size, color="gray" if crop.grayscale else "rgb")
                evaluated.append((score(crops, crops.images, np.ones(len(crops), bool)), CROPPED_FACES))
            else:
                photos = create_dataset(name, base, "all", color="gray")
                evaluated.append((score(photos, *_detected_faces(photos, crop, detector or HaarFaceDetector())), DETECTED_FACES))
    finally:
        model.train(was_training)
    return [
        {"train_dataset": train_dataset, **record, "faces": how, "model": model_name, "source_model": source_model}
        for record, how in evaluated
        if record is not None
    ]


def evaluate_cross_dataset(
    run_dir: str | os.PathLike[str], data_root: str | os.PathLike[str] | None = None, out_dir: str | os.PathLike[str] | None = None
) -> list[dict[str, Any]]:
    """Evaluate the model file of the run folder ``run_dir`` on the other datasets; write the records to
    ``out_dir`` (default: the run folder) as :data:`CROSS_DATASET_FILE`, atomically, and return them.

    A run without a model file is a :class:`ConfigError` naming the run and why it has none.
    """
    model_path = require_model_file(run_dir)
    model, info = load_model(model_path)
    records = evaluate_model_cross_dataset(
        model, info.mean, info.std, info.class_names, info.img_size, info.crop, info.dataset, data_root, info.run, info.model
    )
    write_cross_dataset(Path(out_dir if out_dir is not None else run_dir) / CROSS_DATASET_FILE, records)
    return records


def write_cross_dataset(path: str | os.PathLike[str], records: list[dict[str, Any]]) -> Path:
    """Write ``records`` as the JSON list the report reads, atomically; return the path."""
    path = Path(path)
    text = json.dumps(records, indent=2) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))
    return path


def require_model_file(run_dir: str | os.PathLike[str]) -> Path:
    """The run folder's model file (its committed one, else the local one a model too large to commit leaves on the
    machine that trained it); a :class:`ConfigError` naming the run and why it has none otherwise."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"Run folder {run_dir} does not exist: pass a folder of results/runs/ (e.g. results/runs/resnet18_fer__fer2013__cpu__s0)")
    if (path := run_model_file(run_dir)) is not None:
        return path
    raise ConfigError(f"{run_dir} has no {MODEL_FILE}, so it cannot be evaluated on other datasets: {why_no_model_file(run_dir)}")


def _detected_faces(dataset: FaceDataset, crop: FaceCrop, detector: FaceDetector) -> tuple[np.ndarray, np.ndarray]:
    """The largest detected face of each photo cropped with ``crop`` ``(N, size, size, C)`` (zeros where none was
    found) and a boolean ``(N,)`` saying where one was found."""
    faces = np.zeros((len(dataset), crop.size, crop.size, crop.channels), np.uint8)
    found = np.zeros(len(dataset), bool)
    for i, image in enumerate(dataset.images):
        frame = cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR) if image.shape[-1] == 1 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        boxes = detect_faces(frame, detector)
        if len(boxes):
            faces[i] = crop_faces(frame, boxes[:1], crop)[0]
            found[i] = True
    return faces, found


class _Scorer:
    """Scores one model on the faces of an evaluation set, over the classes both share."""

    def __init__(
        self, model: nn.Module, mean: Sequence[float] | np.ndarray, std: Sequence[float] | np.ndarray, classes: tuple[str, ...], batch_size: int
    ) -> None:
        self.model, self.classes, self.batch_size = model, classes, batch_size
        self.device = next(model.parameters()).device
        self.normalize = Normalize(np.asarray(mean), np.asarray(std)).to(self.device)

    def __call__(self, dataset: FaceDataset, faces: np.ndarray, found: np.ndarray) -> dict[str, Any] | None:
        shared = shared_classes(self.classes, dataset.class_names)
        if len(shared) < 2:
            log.warning("%s shares %s with the model's classes %s: not evaluated", dataset.name, list(shared), list(self.classes))
            return None
        excluded = [c for c in dataset.class_names if c not in shared]
        names = np.array(dataset.class_names)[dataset.labels]
        in_shared = np.isin(names, shared)
        scored = in_shared & found
        no_face = in_shared & ~found
        if no_face.any():
            log.warning("%s: no face detected in %d of %d images (not scored)", dataset.name, int(no_face.sum()), int(in_shared.sum()))
        y_true = np.array([shared.index(c) for c in names[scored]], dtype=np.int64)
        y_pred = self._predict(faces[scored], shared)
        metrics = classification_metrics(y_true, y_pred, shared) if len(y_true) else {"n": 0, **dict.fromkeys(SUMMARY_KEYS)}
        return {
            "eval_dataset": dataset.name,
            "classes": list(shared),
            **metrics,
            "n_images": len(dataset),
            "excluded_classes": excluded,
            "n_excluded": int((~in_shared).sum()),
            "n_no_face": int(no_face.sum()),
            "no_face_ids": [str(s) for s in dataset.sample_ids[no_face]],
        }

    def _predict(self, faces: np.ndarray, shared: tuple[str, ...]) -> np.ndarray:
        predictions = [np.zeros(0, np.int64)]
        for start in range(0, len(faces), self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(faces[start : start + self.batch_size])).to(self.device)
            logits = self.model(self.normalize(batch.movedim(-1, -3))).float()
            predictions.append(restricted_predictions(logits, self.classes, shared))
        return np.concatenate(predictions)


def add_cross_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``cross-dataset`` subcommand's arguments."""
    example = "results/runs/resnet18_fer__fer2013__cpu__s0"
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help=f"run folders with a model.pt, e.g. {example}")
    parser.add_argument("--root", help="data root (default: $FER_DATA)")
    parser.add_argument("--out-dir", help=f"write <out-dir>/<run>/{CROSS_DATASET_FILE} instead of into each run folder")


def run_cross_dataset(args: argparse.Namespace) -> int:
    """The ``cross-dataset`` command: every run folder is checked for a model file first, then each is evaluated and
    one line per evaluation set printed; exit status 0."""
    for run_dir in args.run_dirs:
        require_model_file(run_dir)
    root = resolve_data_root(args.root)
    if all(get_dataset_spec(name).locate(root) is None for name in (CROPPED, DETECTED)):
        raise ConfigError(f"Neither CK+ nor JAFFE is under {root}: put one there (python -m fer_lib datasets lists what is found)")
    for run_dir in args.run_dirs:
        out_dir = None if args.out_dir is None else Path(args.out_dir) / Path(run_dir).resolve().name
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        records = evaluate_cross_dataset(run_dir, args.root, out_dir)
        for r in records:
            scores = "no face scored" if r["n"] == 0 else f"accuracy {r['accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f}, UAR {r['uar']:.4f}"
            print(f"{Path(run_dir).name}: {r['eval_dataset']} ({len(r['classes'])} classes, n={r['n']}, {r['n_no_face']} without a face): {scores}")
        print(f"Wrote {Path(out_dir if out_dir is not None else run_dir) / CROSS_DATASET_FILE}")
    return 0
