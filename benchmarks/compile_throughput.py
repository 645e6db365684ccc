"""Does ``torch.compile`` buy epochs on this CPU? Our engine's training loop with the model eager vs compiled, in one run.

    FER_DATA=../shared/data python benchmarks/compile_throughput.py --models resnet18_fer dcn_cbam
    FER_DATA=../shared/data python benchmarks/compile_throughput.py --profile cpu --dataset megc2019 --models resnet34_lstm mfem_lstm

For each model: images/s of :func:`fer_lib.engine.train_one_epoch` with the model eager and wrapped in ``torch.compile``
(Inductor, default mode), same images and optimizer settings. By default: FER2013 at 48 px, batch 64, channels_last, the
precision ``amp="auto"`` picks here, the model as ``create_model`` builds it (the paper's stem, not the cpu recipe's /4).
With ``--profile``: each model as that profile's recipe for ``--dataset`` trains it (its input size and modality,
``model_kwargs``, batch, precision, layout, augmentation and thread count). The compiled model's first call compiles its
forward and backward graphs: that time (``compile_s``) is reported apart, since a run pays it once, while images/s is
what each epoch gains. A k-fold or LOSO run builds a new model for every fold: ``recompile_s`` is the first call of a
second compiled instance, what each further fold pays. The two loops run interleaved, ``--rounds`` times, after both
are warm; each figure is the median over rounds. Inductor on a CPU needs a C++ compiler: where it fails, the file
records the error instead of a speed. Writes ``results/bench/compile_throughput_<machine kind>[_<dataset>].json``; all
figures are ratios within this run. Caveat: the eager loop shares its process with the compiled one, and a process that
has run compiled kernels runs eager code slower than one that never did, so on two threads the ratio can overstate what
a run gains (this benchmark measured IRNet on CK+ faster compiled, yet a compiled run of it trained slower than an eager
one: fer_lib/profiles.py). Check the images/s of real runs (each run's history.csv) before a recipe compiles.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from fer_lib.data import create_dataset, get_dataset_spec
from fer_lib.engine import TensorSplit, TrainConfig, normalization_stats, resolve_amp
from fer_lib.experiment import train_config
from fer_lib.models import create_model
from fer_lib.preprocess import Normalize
from fer_lib.profiles import resolve_recipe

from bench_output import machine_facts, per_machine_path, write_report
from engine_epoch import epoch_runner


@dataclass(frozen=True)
class Setting:
    """How one model is built and trained in the benchmark."""

    build: Callable[[], torch.nn.Module]
    cfg: TrainConfig
    data: TensorSplit
    normalize: Normalize | None = None  # None: one grey channel's


def default_setting(name: str, data: TensorSplit, batch: int, amp: str) -> Setting:
    """48 px FER2013 faces, the model as ``create_model`` builds it, batch ``batch``, channels_last, precision ``amp``."""
    cfg = TrainConfig(batch_size=batch, amp=amp, channels_last=True, epochs=1, progress=False, device="cpu")
    return Setting(lambda: create_model(name), cfg, data)


def recipe_setting(name: str, profile: str, dataset: str, steps: int) -> Setting:
    """The model as ``profile``'s recipe for ``dataset`` builds and trains it, on the first ``steps`` batches of its data."""
    recipe = resolve_recipe(profile, name, dataset)
    modality = {"modality": recipe["modality"]} if recipe.get("modality") else {}
    split = "train" if "train" in get_dataset_spec(dataset).splits else "all"
    faces = create_dataset(dataset, split=split, image_size=recipe["img_size"], **modality)
    cfg = dataclasses.replace(train_config(recipe, seed=0, device="cpu"), epochs=1, warmup_epochs=0.0, progress=False)
    if len(faces) < cfg.batch_size * steps:
        raise SystemExit(f"{dataset} has {len(faces)} samples: fewer than {steps} batches of {cfg.batch_size}; lower --steps")
    data = TensorSplit.from_dataset(faces.subset(np.arange(cfg.batch_size * steps)), torch.device("cpu"))
    cfg = dataclasses.replace(cfg, amp=resolve_amp(cfg.amp, torch.device("cpu")))
    in_chans, side = faces.images.shape[-1], recipe["img_size"]  # loaders return channels last
    build = lambda: create_model(name, len(faces.class_names), in_chans, side, **recipe["model_kwargs"])  # noqa: E731
    return Setting(build, cfg, data, Normalize(*normalization_stats(faces)))


def measure(name: str, setting: Setting, steps: int, rounds: int) -> dict[str, Any]:
    """Eager and compiled images/s of ``name`` (medians of interleaved rounds), the seconds the first compiled call took
    and those the first call of a second compiled instance took (what each further fold of a run pays)."""
    cfg, data, batch = setting.cfg, setting.data, setting.cfg.batch_size
    layout = (lambda m: m.to(memory_format=torch.channels_last)) if cfg.channels_last else (lambda m: m)
    eager_model, compiled_model = layout(setting.build()), torch.compile(layout(setting.build()))
    eager, compiled = (epoch_runner(model, data, cfg, setting.normalize) for model in (eager_model, compiled_model))
    warm = torch.arange(2 * batch)
    eager(warm)
    try:
        start = time.perf_counter()
        compiled(warm)  # traces, compiles forward and backward: paid once per run (and again if a shape changes)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        epoch_runner(torch.compile(layout(setting.build())), data, cfg, setting.normalize)(warm)  # a new fold's model: a new instance
        recompile_s = time.perf_counter() - start
    except Exception as error:  # noqa: BLE001 — Inductor's failures (no C++ compiler, an unsupported op) are the result here
        return {"model": name, "compiled": f"failed: {type(error).__name__}: {str(error).splitlines()[0][:300]}"}
    timed = [(eager(torch.randperm(batch * steps)), compiled(torch.randperm(batch * steps))) for _ in range(rounds)]
    eager_img_s, compiled_img_s = (statistics.median(column) for column in zip(*timed))
    return {
        "model": name,
        "compiled": "measured",
        "compile_s": round(compile_s, 1),
        "recompile_s": round(recompile_s, 1),
        "eager_img_s": round(eager_img_s, 1),
        "compiled_img_s": round(compiled_img_s, 1),
        "speedup": round(compiled_img_s / eager_img_s, 2),
        "speedup_per_round": [round(c / e, 2) for e, c in timed],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18_fer", "dcn_cbam"])
    parser.add_argument("--profile", default=None, help="train each model as this profile's recipe for --dataset")
    parser.add_argument("--dataset", default="fer2013", help="with --profile: the dataset whose recipe and data are used")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of the two loops (median reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="without --profile (a recipe sets its own)")
    parser.add_argument("--out", default=None, help="default: results/bench/compile_throughput_<machine kind>.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.profile is None:
        torch.set_num_threads(args.threads)
        amp = resolve_amp("auto", torch.device("cpu"))
        train = create_dataset("fer2013", split="train")
        data = TensorSplit.from_dataset(train.subset(np.arange(args.batch * args.steps)), torch.device("cpu"))
        settings = {name: default_setting(name, data, args.batch, amp) for name in args.models}
        what = f"48x48 grey FER2013, the models' own stems, batch {args.batch}"
    else:
        settings = {name: recipe_setting(name, args.profile, args.dataset, args.steps) for name in args.models}
        what = f"each model as the {args.profile} profile's recipe for {args.dataset} builds and trains it"
    results = []
    # Inductor keeps compiled kernels on disk between processes: an empty cache makes compile_s the cold cost of a first run
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        for name, setting in settings.items():
            # Each model compiles as in a run, the only one in its process: without the reset, a model sharing code with
            # an earlier one (the ResNet blocks' forward) would see other shapes there and compile it with dynamic shapes.
            torch._dynamo.reset()
            torch.set_num_threads(setting.cfg.num_threads or args.threads)
            facts = {"precision": setting.cfg.amp, "threads": torch.get_num_threads(), "batch": setting.cfg.batch_size}
            results.append(measure(name, setting, args.steps, args.rounds) | facts)
    report = {
        "what": (
            f"training images/s of the engine loop, model eager vs torch.compile (Inductor), {what}, {args.steps} timed steps, "
            f"median of {args.rounds} interleaved rounds; compile_s = the first compiled call (empty Inductor cache), recompile_s = the first call of a second compiled instance"
        ),
        "machine": machine_facts(),
        "models": results,
    }
    suffix = "" if args.profile is None else f"_{args.dataset}"
    write_report(args.out or per_machine_path(f"compile_throughput{suffix}"), report)


if __name__ == "__main__":
    main()
