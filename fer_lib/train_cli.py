"""``python -m fer_lib train``: one experiment from the command line, on one process or data-parallel under ``torchrun``.

It calls :func:`~fer_lib.experiment.run_experiment` and :meth:`~fer_lib.experiment.ExperimentResult.finish`, as the
model notebooks do, so it writes the same run folder (without the notebook's own figures), by default where the study
puts it: ``results/runs/<model>__<dataset>__<profile>__s<seed>/``. Under ``torchrun --nproc-per-node N -m fer_lib
train ...`` every rank runs the same experiment (the engine trains data-parallel), rank 0 alone writes the run folder
and prints, and every rank leaves the process group at the end.
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` subcommand's arguments."""
    parser.add_argument("--model", required=True, help="a registered model, e.g. dcn_cbam, irnet, resnet18_fer")
    parser.add_argument("--dataset", required=True, help="a registered dataset, e.g. fer2013, ckplus, megc2019")
    parser.add_argument("--profile", default="smoke", choices=("smoke", "cpu", "paper"), help="training recipe (default: smoke)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0); part of the run's name")
    parser.add_argument("--output", help="run folder (default: results/runs/<model>__<dataset>__<profile>__s<seed>, as the study)")
    parser.add_argument("--force", action="store_true", help="train again over a complete run (replaced once the new run finishes)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when there is one), cpu, cuda, ... (default auto)")
    parser.add_argument("--root", help="data root (default: $FER_DATA)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override a recipe key; VALUE is read as JSON when it parses, else as text "
        "(e.g. --set epochs=3 --set model_kwargs='{\"widths\":[8,16,32,64]}')",
    )


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=3", "amp=none"]`` -> ``{"epochs": 3, "amp": "none"}``; a malformed pair or a key that is an option
    of the command itself is a :class:`ConfigError` (an unknown recipe key is refused later, by the recipe check)."""
    from .experiment import run_experiment

    own = {name for name, p in inspect.signature(run_experiment).parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set epochs=3")
        if key in own:
            raise ConfigError(f"--set {key}: {key} is not a recipe key but an argument of the run; use the command's own option (see train --help)")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    return overrides


def run_train(args: argparse.Namespace) -> int:
    """Train and finish one run for parsed ``args``; rank 0 prints where it is and both protocols' metrics. Returns 0."""
    from .engine.distributed import cleanup_distributed
    from .experiment import run_experiment
    from .runs import RUNS_DIR, run_name

    overrides = parse_overrides(args.overrides)
    output = Path(args.output) if args.output else Path("results") / RUNS_DIR / run_name(args.model, args.dataset, args.profile, args.seed, overrides.get("init_from"))
    try:
        result = run_experiment(
            args.model, args.dataset, args.profile, seed=args.seed, device=args.device, data_root=args.root,
            output_dir=output, force=args.force, **overrides,
        )
        run_dir = result.finish()
    finally:
        cleanup_distributed()
    if result.folder.writes:
        print(f"Wrote {run_dir}")
        for record in result.records:
            print(describe_record(record))
    return 0


def describe_record(record: dict[str, Any]) -> str:
    """One line per protocol, e.g. ``honest: accuracy 0.6512, macro-F1 0.6320, UAR 0.6288 on PrivateTest (n=3589),
    epoch 18 selected on val accuracy``."""
    names = (("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("uar", "UAR"))
    metrics = ", ".join(f"{label} {record[key]:.4f}{_spread(record, key)}" for key, label in names)
    epoch = record["selected_epoch"]
    chosen = f"epoch {epoch}" if isinstance(epoch, int) else f"{len(epoch)} folds' epochs"
    return f"{record['protocol']}: {metrics} on {record['split']} (n={record['n']}), {chosen} selected on {record['selected_on']}"


def _spread(record: dict[str, Any], key: str) -> str:
    """`` ± std`` over folds where the number is their mean (k-fold), not metrics of the pooled predictions (LOSO)."""
    return f" ± {record[f'{key}_std']:.4f}" if f"{key}_std" in record and record[key] == record[f"{key}_mean"] else ""
