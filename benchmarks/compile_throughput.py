"""Does ``torch.compile`` buy epochs on this CPU? Our engine's training loop with the model eager vs compiled, paired.

    FER_DATA=../shared/data python benchmarks/compile_throughput.py --models resnet18_fer dcn_cbam
    FER_DATA=../shared/data python benchmarks/compile_throughput.py --profile cpu --dataset megc2019 --models resnet34_lstm mfem_lstm

For each model: images/s of :func:`fer_lib.engine.train_one_epoch` with the model eager and wrapped in ``torch.compile``
(Inductor, default mode), same images and optimizer settings. By default: FER2013 at 48 px, batch 64, channels_last, the
precision ``amp="auto"`` picks here, the model as ``create_model`` builds it (the paper's stem, not the cpu recipe's /4).
With ``--profile``: each model as that profile's recipe for ``--dataset`` trains it (its input size and modality,
``model_kwargs``, batch, precision, layout, augmentation and thread count). The compiled model's first call compiles its
forward and backward graphs: that time (``compile_s``) is reported apart, since a run pays it once, while images/s is
what each epoch gains. A k-fold or LOSO run builds a new model for every fold: ``recompile_s`` is the first call of a
second compiled instance, what each further fold pays. Each measurement runs in a fresh process, as a run trains
either eager or compiled, never both in one process. The eager and compiled processes alternate, ``--rounds`` times,
with the order swapped every round: the speed of a shared two-core machine drifts by several per cent over minutes
(the ten folds of one eager IRNet CK+ run trained at 84–94 images/s, median epoch by fold in its history.csv), so
comparing runs made at different times can show a gain or a loss that is only drift. Each process times one pass after
a warm-up; each figure is the median over rounds, and ``speedup_per_round`` shows the spread. Inductor on a CPU needs
a C++ compiler: where it fails, the file records the error instead of a speed. Writes
``results/bench/compile_throughput_<machine kind>[_<dataset>].json``; all figures are ratios within this run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
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


def time_one_process(setting: Setting, steps: int, compiled: bool) -> dict[str, float]:
    """In this process: a warm-up call, then images/s of one pass over ``steps`` batches, the model eager or compiled.
    Compiled, also the seconds of the first call (``compile_s``) and of a second instance's first call (``recompile_s``)."""
    cfg, data, batch = setting.cfg, setting.data, setting.cfg.batch_size
    layout = (lambda m: m.to(memory_format=torch.channels_last)) if cfg.channels_last else (lambda m: m)
    wrap = torch.compile if compiled else (lambda m: m)
    warm, facts = torch.arange(2 * batch), {}
    start = time.perf_counter()
    run = epoch_runner(wrap(layout(setting.build())), data, cfg, setting.normalize)
    run(warm)  # compiled: traces, compiles forward and backward, paid once per run (and again if a shape changes)
    if compiled:
        facts["compile_s"] = time.perf_counter() - start
        start = time.perf_counter()
        epoch_runner(wrap(layout(setting.build())), data, cfg, setting.normalize)(warm)  # a new fold's model: a new instance
        facts["recompile_s"] = time.perf_counter() - start
    return facts | {"img_s": run(torch.randperm(batch * steps))}


def measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Eager and compiled images/s of ``name`` (medians over ``args.rounds`` rounds of fresh processes), and the compile
    seconds of the first compiled process (an empty Inductor cache: the cold cost of a run's first fold)."""
    timed: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for round_ in range(args.rounds):
        order = ("eager", "compiled") if round_ % 2 == 0 else ("compiled", "eager")  # drift hits both alike
        by_mode = {mode: _child(name, args, mode) for mode in order}
        failed = [r["error"] for r in by_mode.values() if "error" in r]
        if failed:
            return {"model": name, "compiled": f"failed: {failed[0]}"}
        timed.append((by_mode["eager"], by_mode["compiled"]))
    eager_img_s, compiled_img_s = (statistics.median(result["img_s"] for result in column) for column in zip(*timed))
    first = timed[0][1]
    return {
        "model": name,
        "compiled": "measured",
        "compile_s": round(first["compile_s"], 1),
        "recompile_s": round(first["recompile_s"], 1),
        "eager_img_s": round(eager_img_s, 1),
        "compiled_img_s": round(compiled_img_s, 1),
        "speedup": round(compiled_img_s / eager_img_s, 2),
        "speedup_per_round": [round(c["img_s"] / e["img_s"], 2) for e, c in timed],
        "precision": first["precision"],
        "threads": first["threads"],
        "batch": first["batch"],
    }


def _child(name: str, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """:func:`time_one_process` of ``name`` in a fresh Python process (this script with ``--child MODE``): its JSON
    result, or ``{"error": ...}`` when the process fails (an Inductor failure is the result for a compiled model)."""
    command = [sys.executable, __file__, "--child", mode, "--models", name, "--dataset", args.dataset]
    command += [f"--{key}={value}" for key, value in (("batch", args.batch), ("steps", args.steps), ("threads", args.threads))]
    command += ["--profile", args.profile] if args.profile else []
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return {"error": (lines[-1] if lines else f"exit status {done.returncode}")[:300]}
    return json.loads(done.stdout.splitlines()[-1])


def _setting(name: str, args: argparse.Namespace) -> Setting:
    """``name`` as ``--profile``'s recipe for ``--dataset`` trains it, or else the default setting."""
    if args.profile is not None:
        return recipe_setting(name, args.profile, args.dataset, args.steps)
    torch.set_num_threads(args.threads)
    train = create_dataset("fer2013", split="train")
    data = TensorSplit.from_dataset(train.subset(np.arange(args.batch * args.steps)), torch.device("cpu"))
    return default_setting(name, data, args.batch, resolve_amp("auto", torch.device("cpu")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18_fer", "dcn_cbam"])
    parser.add_argument("--profile", default=None, help="train each model as this profile's recipe for --dataset")
    parser.add_argument("--dataset", default="fer2013", help="with --profile: the dataset whose recipe and data are used")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3, help="alternating eager and compiled processes (median reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="without --profile (a recipe sets its own)")
    parser.add_argument("--out", default=None, help="default: results/bench/compile_throughput_<machine kind>.json")
    parser.add_argument("--child", choices=["eager", "compiled"], default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.child is not None:  # one measurement of one model, in this fresh process (see _child)
        setting = _setting(args.models[0], args)
        torch.set_num_threads(setting.cfg.num_threads or args.threads)
        facts = {"precision": setting.cfg.amp, "threads": torch.get_num_threads(), "batch": setting.cfg.batch_size}
        print(json.dumps(time_one_process(setting, args.steps, args.child == "compiled") | facts))
        return
    if args.profile is None:
        what = f"48x48 grey FER2013, the models' own stems, batch {args.batch}"
    else:
        what = f"each model as the {args.profile} profile's recipe for {args.dataset} builds and trains it"
    # Inductor keeps compiled kernels on disk between processes: an empty cache makes the first compiled process's
    # compile_s the cold cost of a run; the later ones read the cache, as a run's later folds do
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        results = [measure(name, args) for name in args.models]
    report = {
        "what": (
            f"training images/s of the engine loop, model eager vs torch.compile (Inductor), {what}, {args.steps} timed steps, "
            f"median of {args.rounds} rounds, each an eager and a compiled fresh process, alternating which goes first; compile_s = the first compiled call (empty Inductor cache), recompile_s = the first call of a second compiled instance"
        ),
        "machine": machine_facts(),
        "models": results,
    }
    suffix = "" if args.profile is None else f"_{args.dataset}"
    write_report(args.out or per_machine_path(f"compile_throughput{suffix}"), report)


if __name__ == "__main__":
    main()
