"""One experiment = one model trained and evaluated on one dataset under one profile, written as a run folder.

``run_experiment`` is what the model notebooks call: it resolves the recipe (:mod:`fer_lib.profiles`), builds the
splits (FER2013: official Training / PublicTest for honest selection / PrivateTest; CK+: subject-independent k-fold
with a validation part carved from each fold's training subjects; micro-expression databases: leave-one-subject-out,
the MEGC2019 protocol, with metrics on the predictions of all folds pooled), trains with :func:`fer_lib.engine.fit` (resumable
checkpoints under ``<run>/checkpoints/``), and writes the run folder (:mod:`fer_lib.runs`): both protocols, pooled
predictions, history, confusion matrices and curves. Models train from scratch: no pretrained weights are used.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch import nn

from .data import FaceDataset, create_dataset, loso_folds, stratified_subset, subject_kfold, validation_split
from .engine import FitResult, TrainConfig, derive_seed, fit, resolve_amp, seed_everything
from .engine.fit import torch_settings
from .metrics import classification_metrics, fold_summary
from .models import create_model
from .profiles import resolve_recipe
from .runs import RunFolder, environment_info, run_name
from .viz import plot_confusion_matrix, plot_history

log = logging.getLogger(__name__)
DATA_KEYS = ("img_size", "train_limit", "eval_limit", "k_folds", "max_folds", "val_fraction", "model_kwargs", "modality")
# Micro-expression databases are evaluated leave-one-subject-out (MEGC2019 protocol, paper §4.2).
LOSO_DATASETS = frozenset({"megc2019", "casme2", "samm", "smic"})
FOLD_INIT_STREAM = 2  # random stream of the folds' weight initialisation (the engine uses streams 0 and 1)
KEPT_MODELS = 10  # trained models kept in memory for figures: all of a k-fold run, the first ones of a 68-fold LOSO
PROTOCOLS = ("honest", "test_selected")
FP16_EXPORT_LIMIT = 25_000_000  # bytes: our own checkpoints are committed only when this small


@dataclass
class FoldData:
    name: str
    train: FaceDataset
    val: FaceDataset | None
    test: FaceDataset


@dataclass
class ExperimentResult:
    """The run folder, its ``metrics.json`` records, and per fold the fit, the test split and the trained (honest) model
    (``models`` holds the first :data:`KEPT_MODELS` folds' models: 68 ResNet34s would not fit in memory)."""

    run_dir: Path
    records: list[dict[str, Any]]
    folds: list[FoldData]
    fits: list[FitResult]
    models: list[nn.Module]

    def test_examples(self, n: int = 8, seed: int = 0, fold: int = 0) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """``n`` random test samples of ``fold``: normalised inputs ``(n, C, H, W)`` (clips ``(n, T, C, H, W)``) for the
        model (on its device), the uint8 images ``(n, H, W, C)`` (clips ``(n, T, H, W, C)``) to draw on, and their labels."""
        test = self.folds[fold].test
        pick = np.sort(np.random.default_rng(seed).choice(len(test), min(n, len(test)), replace=False))
        faces = test.images[pick]
        device = next(self.models[fold].parameters()).device
        inputs = self.fits[fold].normalize()(torch.from_numpy(faces).movedim(-1, -3)).to(device)
        return inputs, faces, test.labels[pick]

    def metrics_table(self) -> pd.DataFrame:
        columns = ["protocol", "split", "n", "accuracy", "macro_f1", "uar", "selected_epoch"]
        extra = [c for c in ("accuracy_std", "macro_f1_std", "n_folds") if c in self.records[0]]
        return pd.DataFrame(self.records)[columns + extra].set_index("protocol")


def build_folds(dataset: str, recipe: dict[str, Any], seed: int, data_root: str | None) -> list[FoldData]:
    """Train / validation / test splits: the official ones where the dataset has them, leave-one-subject-out for
    micro-expressions, else subject-independent k-fold. ``val_fraction=None`` trains without a validation part (honest =
    a fixed epoch budget, the last epoch)."""
    size = recipe["img_size"]
    if dataset == "fer2013":
        train, val, test = (create_dataset("fer2013", data_root, s, image_size=size) for s in ("train", "val", "test"))
        return [
            FoldData(
                "official",
                train.subset(stratified_subset(train, recipe["train_limit"], seed)),
                val.subset(stratified_subset(val, recipe["eval_limit"], seed)),
                test.subset(stratified_subset(test, recipe["eval_limit"], seed)),
            )
        ]
    modality = {"modality": recipe["modality"]} if recipe.get("modality") else {}
    full = create_dataset(dataset, data_root, "all", image_size=size, **modality)
    if full.subjects is None:
        raise ValueError(f"{dataset} has neither an official split nor subject ids for subject-independent k-fold")
    folds = loso_folds(full) if dataset in LOSO_DATASETS else subject_kfold(full, recipe["k_folds"], seed)
    out = []
    for fold in folds[: recipe["max_folds"]]:
        if recipe["val_fraction"] is None:
            out.append(FoldData(fold.name, full.subset(fold.train, "train"), None, full.subset(fold.test, "test")))
            continue
        train_idx, val_idx = validation_split(full, fold.train, recipe["val_fraction"], seed)
        out.append(FoldData(fold.name, full.subset(train_idx, "train"), full.subset(val_idx, "val"), full.subset(fold.test, "test")))
    return out


def train_config(recipe: dict[str, Any], seed: int, device: str) -> TrainConfig:
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(recipe) - fields - set(DATA_KEYS)
    if unknown:
        raise ValueError(f"recipe keys {sorted(unknown)} are neither TrainConfig fields nor data settings {DATA_KEYS}")
    cfg = TrainConfig(**{k: v for k, v in recipe.items() if k in fields}, seed=seed, device=device)
    # config.json records the precision the run trains with, not "auto": measured as fit will, at the run's threads
    with torch_settings(cfg, cfg.resolved_device()):
        return dataclasses.replace(cfg, amp=resolve_amp(cfg.amp, cfg.resolved_device()))


def run_experiment(
    model: str,
    dataset: str,
    profile: str = "smoke",
    seed: int = 0,
    device: str = "auto",
    data_root: str | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> ExperimentResult:
    """Train ``model`` on ``dataset`` with the ``profile`` recipe (``overrides`` win) and write its run folder.

    ``output_dir`` is the run folder (default: a new temporary folder). Re-running resumes from the checkpoints.
    """
    recipe = resolve_recipe(profile, model, dataset, overrides)
    cfg = train_config(recipe, seed, device)
    folder = RunFolder(*_split_path(output_dir, run_name(model, dataset, profile, seed))).start()
    folds = build_folds(dataset, recipe, seed, data_root)
    in_chans, classes = folds[0].train.images.shape[-1], folds[0].train.class_names
    config = {"model": model, "dataset": dataset, "profile": profile, "seed": seed, "recipe": recipe, "train_config": cfg.to_dict(), "pretrained": False}
    env = environment_info(cfg.resolved_device())  # taken at the start: the code that trains is the code recorded
    folder.write_json("config.json", config)
    folder.write_json("env.json", env)

    fits, models = [], []
    with _epoch_logs(len(folds) <= KEPT_MODELS):
        for index, fold in enumerate(folds):
            seed_everything(derive_seed(seed, FOLD_INIT_STREAM, index))  # each fold's initial weights are reproducible
            net = create_model(model, len(classes), in_chans, recipe["img_size"], **recipe["model_kwargs"])
            log.info("%s on %s, fold %s: %d train / %d val / %d test", model, dataset, fold.name, len(fold.train), len(fold.val or []), len(fold.test))
            fits.append(fit(net, fold.train, fold.val, fold.test, cfg, folder.path / "checkpoints" / fold.name))
            if index < KEPT_MODELS:
                models.append(net)
    result = ExperimentResult(folder.path, _records(model, dataset, profile, seed, folds, fits, env["git_sha"]), folds, fits, models)
    _write_outputs(folder, result)
    return result


@contextmanager
def _epoch_logs(enabled: bool) -> Iterator[None]:
    """Per-epoch log lines only for runs of few folds: 68 LOSO folds × hundreds of epochs would bury the notebook."""
    engine_log = logging.getLogger("fer_lib.engine.fit")
    level = engine_log.level
    if not enabled:
        engine_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        engine_log.setLevel(level)


def _split_path(output_dir: str | os.PathLike[str] | None, name: str) -> tuple[Path, str]:
    path = Path(output_dir) if output_dir else Path(tempfile.mkdtemp(prefix="fer_run_")) / name
    return path.parent, path.name


def _records(model: str, dataset: str, profile: str, seed: int, folds: list[FoldData], fits: list[FitResult], git_sha: str) -> list[dict[str, Any]]:
    """One ``metrics.json`` record per protocol. k-fold: mean ± std over folds (the CK+ convention) and pooled metrics.
    LOSO: metrics on the predictions of all folds pooled (the MEGC2019 protocol: UF1 = macro-F1, UAR), per-database
    breakdown where the dataset names the source database of each sample, and the fold mean ± std beside them."""
    classes = fits[0].class_names
    loso = dataset in LOSO_DATASETS
    records = []
    for protocol in PROTOCOLS:
        chosen = [f.protocols[protocol] for f in fits]
        per_fold = [p.metrics for p in chosen]
        pooled = classification_metrics(
            np.concatenate([p.result.labels.numpy() for p in chosen]), np.concatenate([p.result.preds.numpy() for p in chosen]), classes
        )
        record = {
            "model": model,
            "dataset": dataset,
            "protocol": protocol,
            "profile": profile,
            "seed": seed,
            "split": _split_label(dataset, folds),
            "n": pooled["n"],
            "accuracy": pooled["accuracy"],
            "macro_f1": pooled["macro_f1"],
            "uar": pooled["uar"],
            "epochs": fits[0].epochs,
            "selected_epoch": [p.epoch for p in chosen] if len(chosen) > 1 else chosen[0].epoch,
            "selected_on": chosen[0].selected_on,
            "train_wall_s": round(sum(f.train_wall_s for f in fits), 1),
            "train_images_per_s": round(float(np.mean([f.train_images_per_s for f in fits])), 1),
            "params": fits[0].params,
            "device": fits[0].device,
            "git_sha": git_sha,
            "pretrained": False,
            "per_class": pooled["per_class"],
            "confusion_matrix": pooled["confusion_matrix"],
        }
        if len(folds) > 1:
            summary = fold_summary(per_fold)
            record |= {"n_folds": len(folds), "fold_names": [f.name for f in folds]}
            for key in ("accuracy", "macro_f1", "uar"):
                record |= {f"{key}_mean": summary[key]["mean"], f"{key}_std": summary[key]["std"]}
            if not loso:  # k-fold reports the fold mean (the CK+ convention); LOSO keeps the pooled metrics
                record["accuracy"], record["macro_f1"], record["uar"] = (summary[k]["mean"] for k in ("accuracy", "macro_f1", "uar"))
            record["pooled"] = {k: pooled[k] for k in ("accuracy", "macro_f1", "uar")}
        if loso:
            record |= {"uf1": pooled["macro_f1"], "n_folds": len(folds), "by_database": _by_database(folds, chosen, classes)}
        records.append(record)
    return records


def _split_label(dataset: str, folds: list[FoldData]) -> str:
    if folds[0].name == "official":
        return "PrivateTest"
    if dataset in LOSO_DATASETS:
        return f"LOSO, {len(folds)} subjects"
    return f"{len(folds)} subject-independent folds"


def _by_database(folds: list[FoldData], chosen: list[Any], classes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """UF1, UAR, accuracy and n per source database (CASME II / SMIC / SAMM in the composite), on pooled predictions."""
    if any("database" not in fold.test.meta for fold in folds):
        return {}
    databases = np.concatenate([fold.test.meta["database"] for fold in folds])
    labels = np.concatenate([p.result.labels.numpy() for p in chosen])
    preds = np.concatenate([p.result.preds.numpy() for p in chosen])
    out = {}
    for name in sorted(set(databases)):
        m = classification_metrics(labels[databases == name], preds[databases == name], classes)
        out[name] = {"n": m["n"], "uf1": m["macro_f1"], "uar": m["uar"], "accuracy": m["accuracy"]}
    return out


def _write_outputs(folder: RunFolder, result: ExperimentResult) -> None:
    history = pd.concat([f.history.assign(fold=fold.name) for f, fold in zip(result.fits, result.folds)], ignore_index=True)
    folder.write_csv("history.csv", history)
    rows = []
    for fit_result, fold in zip(result.fits, result.folds):
        for protocol, chosen in fit_result.protocols.items():
            probs = chosen.result.probs.numpy()
            frame = pd.DataFrame({"sample_id": fold.test.sample_ids, "fold": fold.name, "protocol": protocol, "label": chosen.result.labels.numpy(), "pred": chosen.result.preds.numpy()})
            frame = frame.join(pd.DataFrame({k: v for k, v in fold.test.meta.items() if k not in frame}))
            rows.append(frame.join(pd.DataFrame(probs.round(5), columns=[f"p_{c}" for c in fit_result.class_names])))
    folder.write_csv("predictions.csv", pd.concat(rows, ignore_index=True))
    classes = result.fits[0].class_names
    for record in result.records:
        figure = plot_confusion_matrix(record["confusion_matrix"], classes, f"{record['model']} on {record['dataset']} — {record['protocol']}")
        folder.save_figure(f"confusion_{record['protocol']}", figure)
        plt.close(figure)
    marks = {p: e.epoch for p, e in result.fits[0].protocols.items()}
    figure = plot_history(result.fits[0].history, marks, f"{result.records[0]['model']} on {result.records[0]['dataset']} (fold {result.folds[0].name})")
    folder.save_figure("history", figure)
    plt.close(figure)
    _export_fp16(folder, result)
    folder.finish(result.records)


def _export_fp16(folder: RunFolder, result: ExperimentResult) -> None:
    """Save the honest model's weights in fp16 when the file stays small enough to commit (single-split runs only)."""
    if len(result.models) != 1:
        return
    state = {k: v.half() if v.is_floating_point() else v for k, v in result.models[0].state_dict().items()}
    size = sum(v.numel() * v.element_size() for v in state.values())
    if size > FP16_EXPORT_LIMIT:
        log.info("fp16 weights are %.1f MB (> %.0f MB): not exported", size / 1e6, FP16_EXPORT_LIMIT / 1e6)
        return
    torch.save(state, folder.path / "model_fp16.pt")
