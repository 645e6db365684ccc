"""Which recipe settings buy FER2013 epochs: the engine's training images/s at each batch size and input side, as
ratios against the cpu recipe's own setting, measured in one process.

    FER_DATA=../shared/data python benchmarks/recipe_throughput.py --models resnet18_fer dcn_cbam

A cpu-profile FER2013 run gets about 20 epochs in 90 minutes on a 2-core fp32-only CPU, and stops while validation
accuracy still rises, so every gain in images/s is epochs. Each model is built as the cpu recipe builds it (its
``model_kwargs``, e.g. the /4 stem) and trained by :func:`fer_lib.engine.train_one_epoch` with the recipe's optimizer,
precision and augmentation on real FER2013 faces, resized to each side by the dataset loader. Every setting trains the
same number of images; the settings run interleaved, ``--rounds`` times, and each figure is the median over rounds.
A larger batch changes the optimisation too (the learning rate must scale with it), so a ratio here says what a
setting costs, not what it scores. Writes ``results/bench/recipe_throughput_<machine kind>.json`` (one file per CPU kind).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics

import numpy as np
import torch

from fer_lib.data import create_dataset
from fer_lib.engine import TensorSplit, TrainConfig, resolve_amp
from fer_lib.models import create_model
from fer_lib.profiles import resolve_recipe

from bench_output import machine_facts, per_machine_path, write_report
from engine_epoch import epoch_runner

PROFILE, DATASET = "cpu", "fer2013"
TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def settings_grid(batches: list[int], sides: list[int]) -> list[tuple[int, int]]:
    """Every ``(batch, side)`` pair, the recipe's reference first."""
    return [(batch, side) for side in sides for batch in batches]


def images_per_s(model_name: str, recipe: dict, faces: TensorSplit, num_classes: int, batch: int, side: int, images: int) -> float:
    """Images/s of one epoch of ``images`` training faces at ``batch`` and ``side``, after a two-step warm-up epoch."""
    cfg = TrainConfig(**{key: value for key, value in recipe.items() if key in TRAIN_FIELDS})
    cfg = dataclasses.replace(cfg, batch_size=batch, epochs=1, warmup_epochs=0.0, progress=False, device="cpu", amp=resolve_amp(cfg.amp, torch.device("cpu")))
    model = create_model(model_name, num_classes, 1, side, **recipe["model_kwargs"])
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    run = epoch_runner(model, faces, cfg)
    run(torch.arange(2 * batch))
    return run(torch.randperm(images))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18_fer", "dcn_cbam"])
    parser.add_argument("--batches", nargs="+", type=int, default=[64, 128, 256], help="the first is the reference")
    parser.add_argument("--sides", nargs="+", type=int, default=[48, 40], help="input sides in px; the first is the reference")
    parser.add_argument("--images", type=int, default=1536, help="training images per measurement (a multiple of every batch)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", default=None, help="default: results/bench/recipe_throughput_<machine kind>.json")
    args = parser.parse_args()
    if any(args.images % batch for batch in args.batches):
        parser.error(f"--images {args.images} is not a multiple of every batch size {args.batches}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train = {side: create_dataset(DATASET, split="train", image_size=side) for side in args.sides}
    num_classes = len(train[args.sides[0]].class_names)
    pick = np.random.default_rng(0).choice(len(train[args.sides[0]]), args.images, replace=False)
    faces = {side: TensorSplit.from_dataset(data.subset(pick), torch.device("cpu")) for side, data in train.items()}
    grid = settings_grid(args.batches, args.sides)
    results = []
    for name in args.models:
        recipe = resolve_recipe(PROFILE, name, DATASET)
        rounds = [[images_per_s(name, recipe, faces[side], num_classes, batch, side, args.images) for batch, side in grid] for _ in range(args.rounds)]
        medians = [statistics.median(column) for column in zip(*rounds)]
        results.append(
            {
                "model": name,
                "model_kwargs": recipe["model_kwargs"],
                "reference": {"batch": grid[0][0], "side": grid[0][1], "img_s": round(medians[0], 1)},
                "settings": [
                    {"batch": batch, "side": side, "img_s": round(rate, 1), "ratio_vs_reference": round(rate / medians[0], 2), "ratio_per_round": [round(r[i] / r[0], 2) for r in rounds]}
                    for i, ((batch, side), rate) in enumerate(zip(grid, medians))
                ],
            }
        )
        print(json.dumps(results[-1]))
    report = {
        "what": f"training images/s of the {PROFILE} recipe on {DATASET} faces by batch size and input side, {args.images} images per measurement, median of {args.rounds} interleaved rounds",
        "threads": args.threads,
        "machine": machine_facts(),
        "models": results,
    }
    write_report(args.out or per_machine_path("recipe_throughput"), report)


if __name__ == "__main__":
    main()
