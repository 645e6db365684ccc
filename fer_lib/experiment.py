"""One experiment = one model trained and evaluated on one dataset under one profile, written as a run folder.

``run_experiment`` is what the model notebooks call: it resolves the recipe (:mod:`fer_lib.profiles`), checks every
name and setting and what the run folder holds before touching it, builds the folds of the evaluation protocol the
dataset declares (:mod:`fer_lib.data.protocols`: FER2013's official splits, CK+'s subject-independent k-fold, the
micro-expression databases' leave-one-subject-out with metrics on the pooled predictions), trains with :func:`fer_lib.engine.fit` (resumable checkpoints under
``<run>/checkpoints/``), and writes both protocols, pooled predictions, history, confusion matrices and curves into the
run's staging folder (:mod:`fer_lib.runs`). The notebook adds its figures through the returned
:class:`ExperimentResult`, and its last cell calls :meth:`ExperimentResult.finish`: only then is the run complete.
Models train from scratch: no pretrained weights are used. A recipe with ``init_from`` starts each fold from the
weights of our own run of the model on another dataset (:mod:`fer_lib.fine_tune`), recorded as ``init_from``.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import nn

from .data import FaceDataset, check_loader_options, create_dataset, get_dataset_spec, list_datasets
from .data.protocols import FoldData
from .engine import FitResult, TrainConfig, derive_seed, fit, seed_everything
from .engine.checkpoint import CheckpointMismatchError
from .errors import ConfigError
from .convergence import convergence
from .fine_tune import describe_source, initialise_from, load_source
from .metrics import classification_metrics, fold_summary, pooled_metrics
from .cross_dataset import CROSS_DATASET_FILE, evaluate_model_cross_dataset
from .model_file import export_run_model, training_face_crop
from .models import create_model, list_models, model_input_kind
from .preprocess.face_crop import FaceCrop, Framing
from .profiles import resolve_recipe
from .tta import TTA_FILE, SplitViews, fold_splits, score_views, tta_records
from .runs import (
    CONFIG_FILE,
    FAILURE_FILE,
    METRICS_FILE,
    RunFolder,
    environment_info,
    full_recipe,
    inspect_run,
    recipe_differences,
    recipe_hash,
    recorded_recipe,
    run_name,
)
from .viz import plot_confusion_matrix, plot_history

log = logging.getLogger(__name__)
DATA_KEYS = ("img_size", "train_limit", "eval_limit", "k_folds", "max_folds", "val_fraction", "model_kwargs", "modality", "init_from", "loader_options")
FOLD_INIT_STREAM = 2  # random stream of the folds' weight initialisation (the engine uses streams 0 and 1)
KEPT_MODELS = 10  # trained models kept in memory for figures: all of a k-fold run, the first ones of a 68-fold LOSO
PROTOCOLS = ("honest", "test_selected")
TEMP_PREFIX = "fer_run_pid"  # a notebook run without output_dir: <tmp>/fer_run_pid<pid>_*/<run name>/
FP16_EXPORT_LIMIT = 25_000_000  # bytes: our own checkpoints are committed only when this small
# Test-time augmentation of every run of images or flow maps, k-fold and LOSO ones pooled over folds: the ten views of
# the FER2013 literature, the same set for flow maps (fixed before any LOSO test split was scored; LOSO has no
# validation part to choose on). The honest epoch stays selected on the single view.
TTA_VIEWS, TTA_INPUT_KINDS = "ten_view", ("image", "flow")


@dataclass
class ExperimentResult:
    """A trained run, not yet finished: its ``config.json`` data, ``metrics.json`` records, and per fold the fit, the
    test split and the trained (honest) model (``models`` holds the first :data:`KEPT_MODELS` folds' models: 68
    ResNet34s would not fit in memory); ``views`` holds each fold's test-time-augmentation views (:mod:`fer_lib.tta`).

    Figures and extra files go into the run through :meth:`save_figure`, :meth:`write_json` and :meth:`write_csv`;
    :meth:`finish` (a notebook's last step) then writes ``metrics.json`` and moves the run into ``run_dir``.
    """

    run_dir: Path
    config: dict[str, Any]
    records: list[dict[str, Any]]
    folds: list[FoldData]
    fits: list[FitResult]
    models: list[nn.Module]
    folder: RunFolder
    temporary: bool = False
    views: list[list[SplitViews]] = field(default_factory=list)

    def save_figure(self, name: str, figure: Figure) -> None:
        """Save ``figure`` as ``figures/<name>.png`` of the run."""
        self.folder.save_figure(name, figure)

    def write_json(self, name: str, data: Any) -> None:
        """Write ``data`` as the run's JSON file ``name``."""
        self.folder.write_json(name, data)

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        """Write ``frame`` as the run's CSV file ``name`` (without the index)."""
        self.folder.write_csv(name, frame)

    def finish(self) -> Path:
        """Validate the records, write ``metrics.json`` and move the run into :attr:`run_dir` (replacing an older run
        there only now); return :attr:`run_dir`. A temporary run drops its checkpoints, nothing resumes it."""
        if self.temporary:
            shutil.rmtree(self.folder.path / "checkpoints", ignore_errors=True)
        return self.folder.finish(self.records)

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


def loader_arguments(recipe: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments a run with ``recipe`` gives its dataset's loader: the recipe's size, its modality (for
    micro-expression data) and its ``loader_options`` (e.g. ``{"on_no_face": "skip"}`` for CK+'s full release)."""
    modality = {"modality": recipe["modality"]} if recipe.get("modality") else {}
    return {"image_size": recipe["img_size"], **modality, **recipe.get("loader_options", {})}


def build_folds(dataset: str, recipe: dict[str, Any], seed: int, data_root: str | None) -> list[FoldData]:
    """Train / validation / test folds of ``dataset`` under the evaluation protocol it declares
    (:mod:`fer_lib.data.protocols`), loaded with :func:`loader_arguments`."""

    def load(split: str) -> FaceDataset:
        return create_dataset(dataset, data_root, split, **loader_arguments(recipe))

    return get_dataset_spec(dataset).protocol.folds(load, recipe, seed)


def train_config(recipe: dict[str, Any], seed: int, device: str) -> TrainConfig:
    """The :class:`TrainConfig` of ``recipe`` (its precision as asked: ``fit`` resolves ``"auto"``, and the run's
    metrics record what it trained with)."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(recipe) - fields - set(DATA_KEYS)
    if unknown:
        raise ValueError(f"recipe keys {sorted(unknown)} are neither TrainConfig fields nor data settings {DATA_KEYS}")
    bad_data = _bad_data_settings(recipe)
    if bad_data:
        raise ValueError(f"invalid data settings: {'; '.join(bad_data)}")
    return TrainConfig(**{k: v for k, v in recipe.items() if k in fields}, seed=seed, device=device)


def _bad_data_settings(recipe: dict[str, Any]) -> list[str]:
    """What is wrong with the recipe's counts and fractions (``"img_size must be an integer >= 1, got 0"``)."""

    def count(value: Any, least: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= least

    rules = {
        "img_size": ("an integer >= 1", lambda v: count(v, 1)),
        "train_limit": ("null or an integer >= 1", lambda v: v is None or count(v, 1)),
        "eval_limit": ("null or an integer >= 1", lambda v: v is None or count(v, 1)),
        "k_folds": ("an integer >= 2", lambda v: count(v, 2)),
        "max_folds": ("null or an integer >= 1", lambda v: v is None or count(v, 1)),
        "val_fraction": ("null or a number in (0, 1)", lambda v: v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1)),
        "model_kwargs": ("an object of the model's keyword arguments", lambda v: isinstance(v, dict)),
        "loader_options": ("an object of the dataset loader's keyword arguments", lambda v: isinstance(v, dict)),
    }
    return [f"{key} must be {rule}, got {recipe[key]!r}" for key, (rule, ok) in rules.items() if key in recipe and not ok(recipe[key])]


def run_experiment(
    model: str,
    dataset: str,
    profile: str = "smoke",
    seed: int = 0,
    device: str = "auto",
    data_root: str | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    **overrides: Any,
) -> ExperimentResult:
    """Train ``model`` on ``dataset`` with the ``profile`` recipe (``overrides`` that are not ``None`` win) for the run
    folder ``output_dir`` (default: a new temporary folder, removed when the interpreter exits).

    Everything is checked before the folder is touched: names, recipe, data, the model's arguments and what the folder
    holds (:class:`~fer_lib.errors.ConfigError` says what to change). The run is written into a staging folder
    (:class:`~fer_lib.runs.RunFolder`); the caller adds figures through the result and calls
    :meth:`ExperimentResult.finish`, which moves the run into ``output_dir``. A folder holding a complete run is
    replaced only with ``force=True``, and then only by a finished run. An unfinished run of the same recipe resumes
    from its checkpoints.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    recipe, cfg = _checked_recipe(model, dataset, profile, seed, device, overrides)
    source = load_source(recipe["init_from"], model, profile, seed) if recipe.get("init_from") else None
    env = environment_info(cfg.resolved_device())  # taken at the start: the code that trains is the code recorded
    config = {
        "model": model,
        "dataset": dataset,
        "profile": profile,
        "seed": seed,
        "overrides": overrides,
        "recipe": recipe,
        "recipe_hash": recipe_hash(full_recipe(recipe)),
        "train_config": cfg.to_dict(),
        "code_version": env["git_sha"],
        "pretrained": False,  # no external weights; a fine-tuned run's start is our own run, named under "init_from"
    } | ({"init_from": describe_source(source)} if source else {})
    temporary = not output_dir
    final = _temporary_folder() / run_name(model, dataset, profile, seed, recipe.get("init_from")) if temporary else Path(output_dir)
    folder = RunFolder(final, staged=not temporary)
    discard_staging = _check_run_folder(folder, config, force)
    folds = build_folds(dataset, recipe, seed, data_root)
    in_chans, classes = folds[0].train.images.shape[-1], folds[0].train.class_names
    built = _check_model_arguments(model, len(classes), in_chans, recipe)
    if source is not None:
        initialise_from(built, source, classes)  # a source that does not fit is refused before anything is written

    if discard_staging and folder.writes:
        shutil.rmtree(folder.path)
    folder.write_json(CONFIG_FILE, config)
    folder.write_json("env.json", env)
    fits, models, views = [], [], []
    input_kind = model_input_kind(model)
    scores_views = folder.writes and input_kind in TTA_INPUT_KINDS  # under torchrun, rank 0 alone
    with _epoch_logs(len(folds) <= KEPT_MODELS):
        for index, fold in enumerate(folds):
            seed_everything(derive_seed(seed, FOLD_INIT_STREAM, index))  # each fold's initial weights are reproducible
            net = create_model(model, len(classes), in_chans, recipe["img_size"], **recipe["model_kwargs"])
            if source is not None:
                carried = initialise_from(net, source, classes)
                log.info("fold %s starts from %s: %d tensors, classifier rows of %s (new: %s)", fold.name, source.path, carried["tensors"], carried["classes_copied"], carried["classes_new"] or "none")
            log.info("%s on %s, fold %s: %d train / %d val / %d test", model, dataset, fold.name, len(fold.train), len(fold.val or []), len(fold.test))
            fits.append(_fit_fold(net, fold, cfg, folder.path / "checkpoints" / fold.name))
            if scores_views:  # each fold's honest model on its own splits, while it is in memory (KEPT_MODELS)
                views.append(score_views(net, fits[-1].normalize_mean, fits[-1].normalize_std, fold_splits(dataset, fold, len(folds)), TTA_VIEWS, input_kind))
            if index < KEPT_MODELS:
                models.append(net)
    records = _records(model, dataset, profile, seed, folds, fits, env["git_sha"])
    if source is not None:
        records = [record | {"init_from": config["init_from"]} for record in records]
    result = ExperimentResult(final, config, records, folds, fits, models, folder, temporary, views)
    if folder.writes:  # under torchrun rank 0 alone draws and exports (the model file is written outside RunFolder)
        _write_outputs(folder, result, data_root)
    return result


def _temporary_folder() -> Path:
    """A new folder ``fer_run_pid<pid>_*`` in the system's temporary folder, removed when this interpreter exits.

    A killed interpreter runs no exit handler (nbval kills its kernels), so the folders of processes that no longer
    exist are removed first (POSIX; elsewhere only the exit handler cleans up).
    """
    if os.name == "posix":
        for old in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*_*"):
            pid = old.name[len(TEMP_PREFIX) :].split("_")[0]
            if pid.isdigit() and not _process_exists(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _checked_recipe(model: str, dataset: str, profile: str, seed: int, device: str, overrides: dict[str, Any]) -> tuple[dict[str, Any], TrainConfig]:
    """The resolved recipe and its :class:`TrainConfig`, or a :class:`ConfigError` naming the unknown name or bad setting."""
    if model not in list_models():
        raise ConfigError(f"Unknown model {model!r}; choose one of {list_models()}")
    if dataset not in list_datasets():
        raise ConfigError(f"Unknown dataset {dataset!r}; choose one of {list_datasets()}")
    try:
        recipe = resolve_recipe(profile, model, dataset, overrides)
        cfg = train_config(recipe, seed, device)
        check_loader_options(dataset, recipe.get("loader_options", {}))
        return recipe, cfg
    except (ValueError, TypeError) as error:
        raise ConfigError(f"Invalid recipe for {model} on {dataset} ({profile} profile, overrides {overrides}): {error}") from None


def _check_model_arguments(model: str, num_classes: int, in_chans: int, recipe: dict[str, Any]) -> nn.Module:
    """The model the recipe builds, or a :class:`ConfigError` naming the arguments it refuses, or the input size it
    cannot read (one image through it: a size too small for its strides fails here, not in the first training step)."""
    size, kwargs = recipe["img_size"], recipe["model_kwargs"]
    try:
        built = create_model(model, num_classes, in_chans, size, **kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{model} cannot be built with img_size={size} and model_kwargs={kwargs}: {error}") from None
    try:
        with torch.no_grad():
            built.eval()(torch.zeros(1, in_chans, size, size))  # clip models take one frame as a clip of one
    except (RuntimeError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise ConfigError(f"{model} cannot read {in_chans}×{size}×{size} inputs (img_size={size}, model_kwargs={kwargs}): {first_line}") from None
    return built.train()


def _check_run_folder(folder: RunFolder, config: dict[str, Any], force: bool) -> bool:
    """Refuse, before anything is written, a run that would replace a complete run without ``force``, a target that
    is not a run folder, or an unfinished staged run of another recipe (``force`` discards it: return True)."""
    final, retry = folder.final, "pass force=True (notebook: -p force True; study: --force)"
    if final.exists() and not final.is_dir():
        raise ConfigError(f"output_dir {final} is a file, not a run folder: give a new or empty folder")
    if final.is_dir() and not _is_run_folder(final):
        raise ConfigError(f"output_dir {final} is not a run folder (it holds {sorted(p.name for p in final.iterdir())[:5]}): give a new or empty folder")
    state = inspect_run(final) if final.is_dir() else None
    if state is not None and state.status == "complete" and not force:
        differences = _request_differences(state.config or {}, config)
        held = f"a finished run with another recipe ({differences})" if differences else "a finished run of this recipe"
        raise ConfigError(f"{final} holds {held}, kept as it is. To train again and replace it once the new run finishes, {retry}; or give another output_dir")
    if folder.path == final or not folder.path.exists():
        return False
    staged = _read_config(folder.path)
    differences = _request_differences(staged, config) if staged is not None else f"no readable {CONFIG_FILE}"
    if not differences:
        return False
    if force:
        return True
    raise ConfigError(f"{folder.path} holds an unfinished run of another recipe ({differences}), which cannot resume this one: {retry} to discard it and start over")


def _is_run_folder(path: Path) -> bool:
    """Empty, or holding what a run or a study step writes (so a typo such as output_dir="results" never replaces a tree)."""
    names = {p.name for p in path.iterdir()}
    return not names or bool(names & {CONFIG_FILE, METRICS_FILE, FAILURE_FILE}) or all(n.endswith(".ipynb") for n in names)


def _read_config(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _request_differences(recorded: dict[str, Any], config: dict[str, Any]) -> str:
    """What differs between a recorded run's config and the requested one: its name parts, then recipe settings."""
    names = [f"{k} {recorded.get(k)!r} -> {config[k]!r}" for k in ("model", "dataset", "profile", "seed") if recorded.get(k) != config[k]]
    recipe = recipe_differences(recorded_recipe(recorded), full_recipe(config["recipe"]))
    return ", ".join(names + ([recipe] if recipe else []))


def _fit_fold(net: nn.Module, fold: FoldData, cfg: TrainConfig, checkpoints: Path) -> FitResult:
    """:func:`fit` with checkpoints under ``checkpoints``; checkpoints of another run are a :class:`ConfigError`."""
    try:
        return fit(net, fold.train, fold.val, fold.test, cfg, checkpoints)
    except CheckpointMismatchError as error:
        found = "; ".join(line.strip() for line in str(error).splitlines() if line.startswith("  "))
        staging = checkpoints.parent.parent
        raise ConfigError(
            f"{checkpoints} holds a checkpoint of another run ({found}), so this run cannot resume it: remove the unfinished run "
            f"(rm -r '{staging}') to train from scratch, or give another output_dir"
        ) from None


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


def _records(model: str, dataset: str, profile: str, seed: int, folds: list[FoldData], fits: list[FitResult], git_sha: str) -> list[dict[str, Any]]:
    """One ``metrics.json`` record per selection protocol. k-fold: mean ± std over folds (the CK+ convention) and pooled
    metrics. Pooled evaluation protocols (LOSO): metrics on the predictions of all folds pooled (the MEGC2019 protocol:
    UF1 = macro-F1, UAR), per-database breakdown where the dataset names the source database of each sample, and the
    fold mean ± std beside them."""
    classes = fits[0].class_names
    evaluation = get_dataset_spec(dataset).protocol  # how the dataset was split (the selection protocols are PROTOCOLS)
    records = []
    for protocol in PROTOCOLS:
        chosen = [f.protocols[protocol] for f in fits]
        per_fold = [p.metrics for p in chosen]
        pooled = pooled_metrics([p.predictions.labels.numpy() for p in chosen], [p.predictions.preds.numpy() for p in chosen], classes)
        record = {
            "model": model,
            "dataset": dataset,
            "protocol": protocol,
            "profile": profile,
            "seed": seed,
            "split": evaluation.describe(len(folds)),
            "n": pooled["n"],
            "accuracy": pooled["accuracy"],
            "macro_f1": pooled["macro_f1"],
            "uar": pooled["uar"],
            "epochs": fits[0].epochs,
            "selected_epoch": [p.epoch for p in chosen] if len(chosen) > 1 else chosen[0].epoch,
            "selected_on": chosen[0].selected_on,
            "convergence": _convergence(fits),
            "train_wall_s": round(sum(f.train_wall_s for f in fits), 1),
            "train_images_per_s": round(float(np.mean([f.train_images_per_s for f in fits])), 1),
            "params": fits[0].params,
            "device": fits[0].device,
            "precision": fits[0].config["amp"],  # what fit resolved "auto" to and trained with
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
            if not evaluation.pooled:  # k-fold reports the fold mean (the CK+ convention); LOSO keeps the pooled metrics
                record["accuracy"], record["macro_f1"], record["uar"] = (summary[k]["mean"] for k in ("accuracy", "macro_f1", "uar"))
            record["pooled"] = {k: pooled[k] for k in ("accuracy", "macro_f1", "uar")}
        if evaluation.pooled:
            record |= {"uf1": pooled["macro_f1"], "n_folds": len(folds), "by_database": _by_database(folds, chosen, classes)}
        records.append(record)
    return records


def _convergence(fits: list[FitResult]) -> dict[str, Any]:
    """The convergence rule (:mod:`fer_lib.convergence`) on the fold-averaged validation curve of the metric the run
    selects on (the training loss where there is no validation split)."""
    history = pd.concat([f.history for f in fits], ignore_index=True)
    return convergence(history, "val_macro_f1" if fits[0].config["select_metric"] == "macro_f1" else "val_acc")


def _by_database(folds: list[FoldData], chosen: list[Any], classes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """UF1, UAR, accuracy and n per source database (CASME II / SMIC / SAMM in the composite), on pooled predictions."""
    if any("database" not in fold.test.meta for fold in folds):
        return {}
    databases = np.concatenate([fold.test.meta["database"] for fold in folds])
    labels = np.concatenate([p.predictions.labels.numpy() for p in chosen])
    preds = np.concatenate([p.predictions.preds.numpy() for p in chosen])
    out = {}
    for name in sorted(set(databases)):
        m = classification_metrics(labels[databases == name], preds[databases == name], classes)
        out[name] = {"n": m["n"], "uf1": m["macro_f1"], "uar": m["uar"], "accuracy": m["accuracy"]}
    return out


def _write_outputs(folder: RunFolder, result: ExperimentResult, data_root: str | None) -> None:
    history = pd.concat([f.history.assign(fold=fold.name) for f, fold in zip(result.fits, result.folds)], ignore_index=True)
    folder.write_csv("history.csv", history)
    rows = []
    for fit_result, fold in zip(result.fits, result.folds):
        for protocol, chosen in fit_result.protocols.items():
            probs = chosen.predictions.probs.numpy()
            frame = pd.DataFrame({"sample_id": fold.test.sample_ids, "fold": fold.name, "protocol": protocol, "label": chosen.predictions.labels.numpy(), "pred": chosen.predictions.preds.numpy()})
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
    if len(result.models) == 1 and model_input_kind(result.config["model"]) == "image":  # one model of face images
        face_crop = training_face_crop(result.folds[0].train, folder.final.name)
        _export_model(folder, result, face_crop)
        _evaluate_cross_dataset(folder, result, face_crop[0], data_root)
    if result.views:
        folder.write_json(TTA_FILE, tta_records(result.views, classes, TTA_VIEWS, model_name=result.config["model"], source_model=folder.final.name))


def _export_model(folder: RunFolder, result: ExperimentResult, face_crop: tuple[FaceCrop, Framing]) -> None:
    """Write the honest model as a model file (fp16 weights + metadata) and its model card; a model too large to
    commit gets only a card that says so (:func:`fer_lib.model_file.export_run_model`)."""
    fit_result, fold = result.fits[0], result.folds[0]
    mean, std = fit_result.normalize_mean, fit_result.normalize_std
    path = export_run_model(folder.path, result.models[0], fold.train, fold.test, mean, std, result.records, result.config, FP16_EXPORT_LIMIT, face_crop)
    if path is None:
        log.info("fp16 weights over %.0f MB: no model file, MODEL_CARD.md says so", FP16_EXPORT_LIMIT / 1e6)


def _evaluate_cross_dataset(folder: RunFolder, result: ExperimentResult, crop: FaceCrop, data_root: str | None) -> None:
    """Score the honest model on the other datasets' faces (CK+, JAFFE where present; :mod:`fer_lib.cross_dataset`)
    into ``cross_dataset.json``, the faces of photos cropped as the model file would crop them."""
    fit_result, config = result.fits[0], result.config
    records = evaluate_model_cross_dataset(
        result.models[0], fit_result.normalize_mean, fit_result.normalize_std, fit_result.class_names, config["recipe"]["img_size"], crop,
        config["dataset"], data_root, source_model=folder.final.name, model_name=config["model"],
    )  # fmt: skip
    if records:
        folder.write_json(CROSS_DATASET_FILE, records)
