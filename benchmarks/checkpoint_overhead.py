"""What checkpointing costs a CK+ fold: the wall time of ``fit`` writing a checkpoint after every epoch, as a ratio
against ``fit`` with the default ``checkpoint_interval_s`` (a checkpoint about once a minute), measured in one process.

    FER_DATA=../shared/data python benchmarks/checkpoint_overhead.py --models resnet50_fer resnet18_cbam

A CK+ fold trains about 800 faces per epoch, seconds of work, while its checkpoint holds the weights, the optimizer's
momentum and the best epoch's weights: hundreds of MB for the ResNet50 trunk. Each model trains fold 0 of its cpu CK+
recipe (its input size and model arguments) for ``--epochs`` epochs into a fresh temporary run folder, once per
setting, the settings interleaved over ``--rounds`` rounds after an untimed warm-up run; each figure is the median over
rounds. The wall is timed around the whole ``fit`` call, since the ``train_wall_s`` it returns sums the epochs'
training and evaluation and leaves the writes out. Writes ``results/bench/checkpoint_overhead_<machine kind>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from fer_lib.data.protocols import FoldData
from fer_lib.engine import CHECKPOINT_NAME, TrainConfig, fit
from fer_lib.experiment import build_folds, train_config
from fer_lib.models import create_model
from fer_lib.profiles import resolve_recipe

from bench_output import machine_facts, per_machine_path, write_report

PROFILE, DATASET = "cpu", "ckplus"
EVERY_EPOCH = 0.0


def fit_wall(name: str, recipe: dict, fold: FoldData, cfg: TrainConfig) -> tuple[float, int]:
    """Seconds of one ``fit`` of a freshly built ``name`` on ``fold`` into a temporary run folder, and the size in bytes
    of the checkpoint it left."""
    model = create_model(name, len(fold.train.class_names), fold.train.images.shape[-1], recipe["img_size"], **recipe["model_kwargs"])
    with tempfile.TemporaryDirectory() as run_dir:
        started = time.perf_counter()
        fit(model, fold.train, fold.val, fold.test, cfg, run_dir)
        return time.perf_counter() - started, (Path(run_dir) / CHECKPOINT_NAME).stat().st_size


def measure(name: str, epochs: int, rounds: int) -> dict:
    """Median wall of ``fit`` per checkpoint setting for model ``name``, and the ratio of every epoch to the default."""
    recipe = resolve_recipe(PROFILE, name, DATASET)
    fold = build_folds(DATASET, recipe, 0, None)[0]  # None: the data root FER_DATA names
    base = dataclasses.replace(train_config(recipe, 0, "cpu"), epochs=epochs, progress=False)
    settings = {"every_epoch": EVERY_EPOCH, "default_interval": TrainConfig.checkpoint_interval_s}
    fit_wall(name, recipe, fold, dataclasses.replace(base, epochs=1))  # warm-up: the precision probe, first allocations
    walls: dict[str, list[float]] = {key: [] for key in settings}
    size = 0
    for _ in range(rounds):
        for key, interval in settings.items():
            wall, size = fit_wall(name, recipe, fold, dataclasses.replace(base, checkpoint_interval_s=interval))
            walls[key].append(wall)
    every, default = statistics.median(walls["every_epoch"]), statistics.median(walls["default_interval"])
    return {
        "model": name,
        "img_size": recipe["img_size"],
        "model_kwargs": recipe["model_kwargs"],
        "train_images": len(fold.train),
        "checkpoint_mb": round(size / 1e6, 1),
        "wall_s": {"every_epoch": round(every, 2), "default_interval": round(default, 2)},
        "wall_per_round_s": {key: [round(w, 2) for w in values] for key, values in walls.items()},
        "checkpoint_s_per_epoch": round((every - default) / max(1, epochs - 1), 3),
        "ratio_every_epoch_vs_default": round(every / default, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50_fer", "resnet18_cbam"])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit; the default interval checkpoints only the last")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", default=None, help="default: results/bench/checkpoint_overhead_<machine kind>.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = [measure(name, args.epochs, args.rounds) for name in args.models]
    report = {
        "what": (
            f"wall of fit on fold 0 of the {PROFILE} {DATASET} recipe, {args.epochs} epochs, checkpointing after every epoch "
            f"against every {TrainConfig.checkpoint_interval_s:g} s (the default), median of {args.rounds} interleaved rounds"
        ),
        "threads": args.threads,
        "machine": machine_facts(),
        "models": results,
    }
    write_report(args.out or per_machine_path("checkpoint_overhead"), report)


if __name__ == "__main__":
    main()
