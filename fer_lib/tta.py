"""Test-time augmentation (TTA): a model's class probabilities averaged over fixed views of each face.

The FER2013 literature reports ten-crop TTA: crops of 40-44 px at the four corners and the centre of the 48 px face,
and their mirrors. Our models train on the whole face with random shifts (:class:`~fer_lib.preprocess.BatchAugment`),
so the ten views here shift the face instead of cropping it: the image as it is, and the four diagonal shifts by
:data:`TEN_VIEW_SHIFT` of its side (4 px at 48 px, the offset of a 40 px corner crop), each also mirrored, with
reflection padding as in training; the input size stays the model's. ``flip`` is the image and its mirror.

Optical-flow maps (u, v, strain) take the same views as the flow field of the transformed frames
(:class:`~fer_lib.preprocess.flow_augment.FlowAugment`, the training augmentation of flow models): a mirror negates u,
and every view is re-encoded as the maps are. Clip models (frame sequences) have no view set here.

TTA changes only the evaluation: the honest model is still the epoch selected on single-view validation accuracy.
Each record holds the single-view metrics beside the TTA ones, from the same weights on the same split, for the
validation and the test split; :func:`views_chosen_on_validation` picks between them on the validation record, so
the honest figure may take TTA without reading the test split. ``python -m fer_lib tta RUN_DIR [RUN_DIR ...]`` writes a run's :data:`TTA_FILE` from its
model file. A new run of an image or flow model writes it at its end (``fer_lib.experiment``): a run of several folds
(k-fold, leave-one-subject-out) scores each fold's honest model on that fold's splits and pools the folds' views, as
its metrics pool the predictions; without a validation part (LOSO) the view set is the fixed default, chosen before any
test split was scored.

Record keys: ``role`` (``val`` or ``test``), ``split`` (e.g. ``PrivateTest``), ``views``, ``n_views``, ``shift``,
``single_view`` (``n``, ``accuracy``, ``macro_f1``, ``uar``), ``tta`` (:func:`~fer_lib.metrics.classification_metrics`),
``weights`` (what was evaluated), ``model``, ``source_model``, ``n_folds`` (folds pooled).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from .atomic_write import write_atomic
from .cross_dataset import require_model_file
from .data.base import FaceDataset
from .data.protocols import FoldData
from .data.registry import get_dataset_spec
from .errors import ConfigError
from .metrics import SUMMARY_KEYS, classification_metrics
from .model_file import load_model
from .preprocess.augment import affine_theta, warp_affine
from .preprocess.flow_augment import FlowAugment
from .preprocess.normalize import Normalize
from .runs import CONFIG_FILE

TTA_FILE = "tta.json"  # the name fer_lib.report.collect reads
TEN_VIEW_SHIFT = 4 / 48  # the centre of a 40 px corner crop of a 48 px face lies 4 px off the face's centre
VIEW_SETS = {"flip": 2, "ten_view": 10}
TRAINED_WEIGHTS = "the run's honest weights in float32, at the end of training"
MODEL_FILE_WEIGHTS = "the run's model file (fp16 weights, float32 compute)"


def view_params(views: str, shift: float = TEN_VIEW_SHIFT) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror flags ``(V,)`` and shifts ``(V, 2)`` (fractions of width and height) of the view set ``views``; the first
    view is the input as it is."""
    if views not in VIEW_SETS:
        raise ValueError(f"unknown TTA views {views!r}; choose from {sorted(VIEW_SETS)}")
    offsets = [(0.0, 0.0)] + ([(dx, dy) for dx in (-shift, shift) for dy in (-shift, shift)] if views == "ten_view" else [])
    return torch.tensor([False, True]).repeat_interleave(len(offsets)), torch.tensor(offsets * 2)


def view_warper(input_kind: str, normalize: Normalize) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``warp(x, flip, shift)``: one view of a normalised batch ``x`` (``flip`` a bool scalar, ``shift`` ``(2,)``) as the
    model's training augmentation would make it: images resampled with reflection padding; flow maps through
    :class:`FlowAugment` (mirror negates u, border padding, maps re-encoded)."""
    if input_kind == "image":
        return lambda x, flip, shift: warp_affine(x, affine_theta(flip[None], torch.zeros(1), torch.ones(1), shift[None], 1, 1).expand(len(x), 2, 3))
    if input_kind == "flow":
        flow_views = FlowAugment(normalize=normalize)
        return lambda x, flip, shift: flow_views.apply(x, flip.expand(len(x)), torch.zeros(len(x)), torch.ones(len(x)), shift.expand(len(x), 2))
    raise ValueError(f"TTA views exist for image and flow inputs, not {input_kind!r} (a clip model reads frame sequences)")


@torch.no_grad()
def view_probabilities(
    model: nn.Module, images_u8: torch.Tensor, normalize: Normalize, views: str = "ten_view", input_kind: str = "image", batch_size: int = 256
) -> torch.Tensor:
    """Softmax probabilities ``(V, N, K)`` of ``model`` (in the mode it is in) on each view of the uint8 inputs
    ``(N, C, H, W)`` (images, or flow maps with ``input_kind="flow"``); view 0 is fed unwarped, so its probabilities are
    exactly the single-view ones."""
    device = next(model.parameters()).device
    normalize = normalize.to(device)
    flips, shifts = view_params(views)
    warp = view_warper(input_kind, normalize)
    out = []
    for start in range(0, len(images_u8), batch_size):
        x = normalize(images_u8[start : start + batch_size].to(device))
        inputs = [x] + [warp(x, flip, shift) for flip, shift in zip(flips[1:], shifts[1:])]
        out.append(torch.stack([model(v).float().softmax(-1) for v in inputs]).cpu())
    return torch.cat(out, 1)


def tta_record(probs: torch.Tensor, labels: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Single-view metrics (view 0) and TTA metrics (views averaged) of ``probs`` ``(V, N, K)`` against ``labels`` ``(N,)``."""
    single = classification_metrics(labels, probs[0].argmax(-1).numpy(), class_names)
    return {
        "single_view": {key: single[key] for key in ("n", *SUMMARY_KEYS)},
        "tta": classification_metrics(labels, probs.mean(0).argmax(-1).numpy(), class_names),
    }


@dataclass
class SplitViews:
    """One split's view probabilities ``(V, N, K)`` and labels ``(N,)``, its ``role`` (``val`` / ``test``) and label."""

    role: str
    split: str
    probs: torch.Tensor
    labels: np.ndarray


def score_views(
    model: nn.Module,
    mean: Sequence[float] | np.ndarray,
    std: Sequence[float] | np.ndarray,
    splits: Sequence[tuple[str, str, FaceDataset]],
    views: str = "ten_view",
    input_kind: str = "image",
) -> list[SplitViews]:
    """The view probabilities of the in-memory ``model`` on each ``(role, split label, dataset)`` of ``splits``, its
    inputs normalised with the training split's ``mean``/``std`` ([0, 1] units). The model's train/eval mode is restored."""
    normalize = Normalize(np.asarray(mean), np.asarray(std))
    was_training = model.training
    model.eval()
    try:
        return [
            SplitViews(role, label, view_probabilities(model, torch.from_numpy(np.ascontiguousarray(data.images)).movedim(-1, -3), normalize, views, input_kind), data.labels)
            for role, label, data in splits
        ]  # fmt: skip
    finally:
        model.train(was_training)


def tta_records(
    folds: Sequence[Sequence[SplitViews]], class_names: Sequence[str], views: str, weights: str = TRAINED_WEIGHTS, model_name: str = "", source_model: str = ""
) -> list[dict[str, Any]]:
    """One record per role of the folds' :class:`SplitViews` (one fold's, or each fold's of a k-fold or LOSO run), the
    folds pooled (their samples concatenated) as the run's metrics pool its predictions."""
    records = []
    for role in dict.fromkeys(part.role for fold in folds for part in fold):
        parts = [part for fold in folds for part in fold if part.role == role]
        probs, labels = torch.cat([part.probs for part in parts], 1), np.concatenate([part.labels for part in parts])
        records.append({
            "role": role, "split": parts[0].split, "views": views, "n_views": len(probs), "shift": TEN_VIEW_SHIFT if views == "ten_view" else 0.0,
            **tta_record(probs, labels, class_names), "weights": weights, "model": model_name, "source_model": source_model, "n_folds": len(parts),
        })  # fmt: skip
    return records


def evaluate_tta(
    run_dir: str | os.PathLike[str], data_root: str | os.PathLike[str] | None = None, views: str = "ten_view", out_dir: str | os.PathLike[str] | None = None
) -> list[dict[str, Any]]:
    """Evaluate the model file of the run folder ``run_dir`` with and without TTA on the validation and test split the
    run was selected and scored on (rebuilt from its ``config.json``); write :data:`TTA_FILE` to ``out_dir`` (default:
    the run folder) atomically and return the records."""
    from .experiment import build_folds  # experiment.py imports this module for new runs

    model_path = require_model_file(run_dir)
    config_path = Path(run_dir) / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"{run_dir} has no {CONFIG_FILE}: it is not a finished run; run it to completion first")
    config = json.loads(config_path.read_text())
    model, info = load_model(model_path)
    fold = build_folds(config["dataset"], config["recipe"], config["seed"], None if data_root is None else str(data_root))[0]
    scored = score_views(model, info.mean, info.std, fold_splits(config["dataset"], fold), views)
    records = tta_records([scored], fold.train.class_names, views, MODEL_FILE_WEIGHTS, info.model, info.run)
    write_tta(Path(out_dir if out_dir is not None else run_dir) / TTA_FILE, records)
    return records


def views_chosen_on_validation(records: Sequence[dict[str, Any]], metric: str = "accuracy") -> str | None:
    """Which evaluation of a run's TTA ``records`` is its honest one, chosen on validation as its epoch is: ``"tta"``
    where the averaged views beat the single view on the validation record's ``metric``, ``"single_view"`` where they
    do not (a tie keeps the cheaper single view); ``None`` without a validation record (leave-one-subject-out, where a
    choice would read the test split) or where that record lacks ``metric``."""
    val = next((r for r in records if isinstance(r, dict) and r.get("role") == "val"), {})
    scores = [part.get(metric) if isinstance(part := val.get(key), dict) else None for key in ("single_view", "tta")]
    if not all(isinstance(score, (int, float)) for score in scores):
        return None
    return "tta" if scores[1] > scores[0] else "single_view"


def fold_splits(dataset: str, fold: FoldData, n_folds: int = 1) -> list[tuple[str, str, FaceDataset]]:
    """``(role, split label, data)`` of a fold's validation part (when it has one) and its test split, the test split
    labelled as the protocol describes a run of ``n_folds`` folds (e.g. ``PrivateTest``, ``LOSO, 68 subjects``)."""
    test_label = get_dataset_spec(dataset).protocol.describe(n_folds)
    return ([("val", "validation", fold.val)] if fold.val is not None else []) + [("test", test_label, fold.test)]


def write_tta(path: str | os.PathLike[str], records: list[dict[str, Any]]) -> Path:
    """Write ``records`` as the JSON list the report reads, atomically; return the path."""
    path = Path(path)
    text = json.dumps(records, indent=2) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))
    return path


def add_tta_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``tta`` subcommand's arguments."""
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders with a model.pt, e.g. results/runs/resnet18_fer__fer2013__cpu__s0")
    parser.add_argument("--views", default="ten_view", choices=sorted(VIEW_SETS), help="view set (default: ten_view)")
    parser.add_argument("--root", help="data root (default: $FER_DATA)")
    parser.add_argument("--out-dir", help=f"write <out-dir>/<run>/{TTA_FILE} instead of into each run folder")


def run_tta(args: argparse.Namespace) -> int:
    """The ``tta`` command: every run folder is checked for a model file first, then each is evaluated and one line
    per split printed; exit status 0."""
    for run_dir in args.run_dirs:
        require_model_file(run_dir)
    for run_dir in args.run_dirs:
        out_dir = None if args.out_dir is None else Path(args.out_dir) / Path(run_dir).resolve().name
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        for r in evaluate_tta(run_dir, args.root, args.views, out_dir):
            single, tta = r["single_view"], r["tta"]
            print(
                f"{Path(run_dir).name}: {r['split']} (n={single['n']}): accuracy {single['accuracy']:.4f} single view, "
                f"{tta['accuracy']:.4f} with {r['n_views']} views (macro-F1 {single['macro_f1']:.4f} -> {tta['macro_f1']:.4f})"
            )
        print(f"Wrote {Path(out_dir if out_dir is not None else run_dir) / TTA_FILE}")
    return 0
