"""Fine-tuning from our own weights: a run initialised from the model file of another of the study's runs.

A recipe's ``init_from`` names the dataset of the source run (``"fer2013"``): the run of the same model, profile and
seed on that dataset, ``results/runs/<model>__<dataset>__<profile>__s<seed>/model.pt``, or the uncommitted
``checkpoints/model.pt`` a model too large to commit leaves on the machine that trained it (a path to a model file or
run folder is taken as well). No external pretraining is involved: the source was trained from scratch by this study, and
the run records which file it started from (:func:`describe_source`: run, epoch, test accuracy, SHA-256 of the file).

How the weights are carried over (:func:`initialise_from`): every tensor of the same name and shape is copied; the
classifier (the last linear layer with one output per class) is copied row by row for the classes both datasets
name alike (FER2013 and CK+ share six of seven, :mod:`fer_lib.data`'s canonical names), and the target's other
classes (CK+'s contempt) keep their fresh initialisation. A source of another model or trunk shape is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from .errors import ConfigError
from .model_file import LOCAL_MODEL_FILE, MODEL_FILE, RUNS_DIR, ModelInfo, load_model
from .runs import model_file_sha256, run_model_file, run_name


@dataclass(frozen=True)
class InitSource:
    """The model file a run starts from: its path, metadata, weights (float32, on the CPU) and SHA-256."""

    path: Path
    info: ModelInfo
    state: dict[str, torch.Tensor]
    sha256: str


def source_path(init_from: str, model: str, profile: str, seed: int, runs_dir: str | Path = RUNS_DIR) -> Path:
    """The model file ``init_from`` means for a run of ``model`` in ``profile`` with ``seed``: a dataset name means our
    run of that model there (same profile and seed); a path (``.pt``, or with a folder part) is a model file or a run
    folder holding one. A bare name is always a dataset, even where a folder of that name happens to exist. A run
    folder without a committed model file gives its local one (:data:`~fer_lib.model_file.LOCAL_MODEL_FILE`) where that
    exists."""
    given = Path(init_from)
    if _names_a_path(init_from):
        return _model_file_of(given) if given.is_dir() else given
    return _model_file_of(Path(runs_dir) / run_name(model, init_from, profile, seed))


def _names_a_path(init_from: str) -> bool:
    return Path(init_from).suffix == ".pt" or len(Path(init_from).parts) > 1


def _model_file_of(run_dir: Path) -> Path:
    return run_model_file(run_dir) or run_dir / MODEL_FILE


def load_source(init_from: str, model: str, profile: str, seed: int, runs_dir: str | Path = RUNS_DIR) -> InitSource:
    """Load the source model file of ``init_from`` (:func:`source_path`); a missing file or one of another model is a
    :class:`ConfigError` that says which run to train first (for a path, that asks for an existing one)."""
    path = source_path(init_from, model, profile, seed, runs_dir)
    if not path.is_file():
        if _names_a_path(init_from):
            raise ConfigError(f"init_from={init_from!r}: no model file {path}; pass the path of an existing model.pt or of a run folder holding one")
        # A source run folder without its model file (weights over the commit limit, trained on another machine) is
        # complete to the study, which skips it unless forced.
        force = " --force" if path.parent.is_dir() else ""
        train = f'python -m fer_lib study --profile {profile} --only "{model} {init_from}"{force}'
        raise ConfigError(
            f"init_from={init_from!r}: no model file {path}. Train the source run first ({train}; a run writes model.pt when its "
            f"fp16 weights are under 25 MB, else {LOCAL_MODEL_FILE}, not committed, on the machine that trains it), or pass the path of a model.pt"
        )
    source_model, info = load_model(path)
    if info.model != model:
        raise ConfigError(f"init_from={init_from!r}: {path} holds a {info.model} model, not {model}: fine-tuning starts from the same architecture")
    state = {k: v.float() for k, v in source_model.state_dict().items()}
    return InitSource(path, info, state, model_file_sha256(path))


def classifier_name(model: nn.Module, num_classes: int) -> str:
    """The module name of ``model``'s classifier: its last :class:`nn.Linear` with ``num_classes`` outputs."""
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear) and module.out_features == num_classes]
    if not names:
        raise ConfigError(f"{type(model).__name__} has no linear layer with {num_classes} outputs to serve as its classifier")
    return names[-1]


@torch.no_grad()
def initialise_from(model: nn.Module, source: InitSource, class_names: Sequence[str]) -> dict[str, Any]:
    """Copy ``source``'s weights into ``model`` (built for ``class_names``) as the module docstring says; return what
    was carried over: ``tensors`` copied whole, ``classes_copied`` and ``classes_new`` of the classifier."""
    head = classifier_name(model, len(class_names))
    target = model.state_dict()
    head_keys = {f"{head}.weight", f"{head}.bias"}
    mismatched = sorted(k for k in target if k not in head_keys and (k not in source.state or source.state[k].shape != target[k].shape))
    if mismatched:
        raise ConfigError(
            f"{source.path} does not fit this {source.info.model} (model_kwargs {source.info.model_kwargs}): "
            f"{len(mismatched)} tensors differ in name or shape, e.g. {mismatched[:3]}; fine-tune with the source run's model_kwargs"
        )
    for key, value in target.items():
        if key not in head_keys:
            value.copy_(source.state[key])
    copied = [c for c in class_names if c in source.info.class_names]
    rows_to = [list(class_names).index(c) for c in copied]
    rows_from = [list(source.info.class_names).index(c) for c in copied]
    for key in head_keys & set(target):
        target[key][rows_to] = source.state[key][rows_from]
    return {"tensors": len(target) - len(head_keys), "classes_copied": copied, "classes_new": [c for c in class_names if c not in copied]}


def describe_source(source: InitSource, repository: Path = RUNS_DIR.parent.parent) -> dict[str, Any]:
    """What a run records about its start (``config.json`` and every ``metrics.json`` record): the source run, dataset,
    epoch and test accuracy of its weights, the model file (relative to the repository when inside it) and its SHA-256."""
    path = source.path.resolve()
    shown = path.relative_to(repository) if path.is_relative_to(repository) else path
    return {
        "run": source.info.run,
        "dataset": source.info.dataset,
        "epoch": source.info.epoch,
        "test_accuracy": source.info.metrics.get("accuracy"),
        "model_file": str(shown),
        "sha256": source.sha256,
    }
