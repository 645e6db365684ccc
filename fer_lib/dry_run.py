"""Dry run of a profile's recipes on the CPU: every model step of the study trained for one or two optimizer steps.

The ``paper`` profile (stem /2 image models, full-width sequence models at 56 px, 200-epoch LOSO) is meant for a GPU
and may be run there first by someone who cannot afford a crash an hour in. :func:`dry_run_step` resolves a step's
recipe exactly as a run does — :func:`~fer_lib.profiles.resolve_recipe`, :func:`~fer_lib.experiment.train_config`
(which refuses unknown recipe keys), :func:`~fer_lib.experiment.build_folds` on the real data,
:func:`~fer_lib.models.create_model` with the recipe's ``img_size`` and ``model_kwargs``, :func:`~fer_lib.engine.fit` —
and changes only what makes it short and what the CPU can run:

* one epoch of the first fold, its splits cut to ``n_images`` random real samples each, and a batch size of
  ``n_images // steps`` so that exactly ``steps`` optimizer steps run; every sample keeps the recipe's shape;
* ``device="cpu"``, and ``amp="auto"`` becomes ``"bf16"``, what ``auto`` resolves to on a bf16 GPU (Ampere and later),
  so every layer runs under the same autocast as there.

So a first GPU run cannot die on a shape, a recipe key or a missing model parameter. What it does not check: GPU
memory at the full batch size, CUDA-only kernels, and the speed.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import FaceDataset
from .data.protocols import FoldData
from .engine import derive_seed, fit, seed_everything
from .errors import ConfigError
from .experiment import FOLD_INIT_STREAM, build_folds, train_config
from .models import create_model
from .profiles import resolve_recipe
from .study import Step, select_jobs, study_jobs

# The recipe keys build_folds reads (max_folds is 1 in a dry run): steps that agree on them share the first fold.
FOLD_SETTINGS = ("img_size", "modality", "loader_options", "k_folds", "val_fraction", "train_limit", "eval_limit")


@dataclass(frozen=True)
class DryRunResult:
    """One dry-run step: the recipe's input shape per sample and model settings, and the training it survived."""

    model: str
    dataset: str
    profile: str
    sample_shape: tuple[int, ...]
    model_kwargs: dict[str, Any]
    amp: str
    params: int
    steps: int
    batch_size: int
    train_loss: float
    seconds: float

    def describe(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.model} on {self.dataset} ({self.profile}): input {self.sample_shape}, model_kwargs {self.model_kwargs}, "
            f"{self.params:,} parameters, amp {self.amp}: {self.steps} steps of {self.batch_size}, "
            f"train loss {self.train_loss:.3f}, {self.seconds:.1f} s"
        )


def model_steps(only: str | None = None) -> list[Step]:
    """The steps of the study (:data:`fer_lib.study.STEPS`) that train a model, in study order; with ``only``, those
    ``study --only`` selects (a notebook, model, dataset or whole label). Raises ``ConfigError`` when none is left."""
    # a step appears once per seed of a profile; the seeds do not matter to a dry run
    steps = {job.label: job.step for job in select_jobs(study_jobs("paper"), only) if job.step.kind == "run"}
    if not steps:
        raise ConfigError(f"--only {only!r} selects no step that trains a model (data and report notebooks train none)")
    return list(steps.values())


def dry_run_step(
    model: str,
    dataset: str,
    profile: str = "paper",
    steps: int = 2,
    n_images: int = 16,
    data_root: str | os.PathLike[str] | None = None,
    seed: int = 0,
    fold_cache: dict[tuple[Any, ...], FoldData] | None = None,
) -> DryRunResult:
    """Train ``model`` on ``dataset`` with ``profile``'s recipe for ``steps`` optimizer steps on ``n_images`` real samples.

    ``fold_cache``, a dict shared between calls, builds each dataset's first fold once per data setting (FER2013 is
    read from its cache in seconds; the study's five FER2013 steps then read it once).

    Raises ``ConfigError`` when ``n_images`` is too small for ``steps`` batches of at least 2 samples (BatchNorm needs 2);
    ``FloatingPointError`` when the training loss is not finite.
    """
    if steps < 1 or n_images < 2 * steps:
        raise ConfigError(f"A dry run of {steps} steps needs n_images >= {2 * max(steps, 1)} (batches of at least 2), got {n_images}")
    recipe = resolve_recipe(profile, model, dataset)
    batch_size = n_images // steps
    recipe |= {"epochs": 1, "max_folds": 1, "batch_size": batch_size}
    if recipe.get("amp", "auto") == "auto":
        recipe["amp"] = "bf16"
    cfg = train_config(recipe, seed, device="cpu")
    root = None if data_root is None else str(data_root)
    key = (dataset, seed, root, json.dumps({k: recipe.get(k) for k in FOLD_SETTINGS}, sort_keys=True))  # loader_options is a dict
    fold = fold_cache.get(key) if fold_cache is not None else None
    if fold is None:
        fold = build_folds(dataset, recipe, seed, root)[0]
        if fold_cache is not None:
            fold_cache[key] = fold
    if len(fold.train) < n_images:
        raise ConfigError(f"A dry run of {model} on {dataset} asks for {n_images} training samples; the first fold has {len(fold.train)}")
    rng = np.random.default_rng(seed)
    train, val, test = (None if split is None else _sample(split, n_images, rng) for split in (fold.train, fold.val, fold.test))
    seed_everything(derive_seed(seed, FOLD_INIT_STREAM, 0))
    net = create_model(model, len(train.class_names), train.images.shape[-1], recipe["img_size"], **recipe["model_kwargs"])
    start = time.perf_counter()
    result = fit(net, train, val, test, cfg)
    seconds = time.perf_counter() - start
    loss = float(result.history["train_loss"].iloc[-1])
    if not math.isfinite(loss):
        raise FloatingPointError(f"{model} on {dataset} ({profile}): the training loss is {loss} after {steps} steps in {cfg.amp}")
    sample_shape = tuple(int(d) for d in train.tensors()[0].shape[1:])
    steps_run = len(train) // batch_size
    return DryRunResult(model, dataset, profile, sample_shape, recipe["model_kwargs"], cfg.amp, result.params, steps_run, batch_size, loss, seconds)


def _sample(split: FaceDataset, n: int, rng: np.random.Generator) -> FaceDataset:
    """``n`` random rows of ``split`` (all of a smaller one), in their original order."""
    return split.subset(np.sort(rng.choice(len(split), min(n, len(split)), replace=False)))
