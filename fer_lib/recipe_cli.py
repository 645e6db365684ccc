"""``python -m fer_lib recipe --model M --dataset D [--profile P] [--set KEY=VALUE ...] [--json]``: the resolved recipe
of a run, each setting with the layer it came from (:func:`fer_lib.profiles.explain_recipe`), and the evaluation
protocol its dataset declares. Nothing is trained or loaded: it is what ``train`` / the notebooks would run with.
"""

from __future__ import annotations

import argparse
import json

from .data import get_dataset_spec, list_datasets
from .errors import ConfigError
from .models import list_models
from .experiment import train_config
from .profiles import PROFILES, explain_recipe, resolve_recipe
from .train_cli import parse_overrides


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``recipe`` subcommand's arguments."""
    parser.add_argument("--model", required=True, help="a registered model, e.g. dcn_cbam, lkcnn")
    parser.add_argument("--dataset", required=True, help="a registered dataset, e.g. fer2013, megc2019")
    parser.add_argument("--profile", default="cpu", choices=sorted(PROFILES), help="training recipe (default: cpu)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides", help="an override, as train --set takes it")
    parser.add_argument("--json", action="store_true", help="print JSON: [{key, value, source}, ...] and the protocol")


def run_recipe(args: argparse.Namespace) -> int:
    """Print the recipe of ``args``'s run with its sources; an unknown model or dataset is a :class:`ConfigError`."""
    if args.model not in list_models():
        raise ConfigError(f"Unknown model {args.model!r}; choose one of {list_models()}")
    if args.dataset not in list_datasets():
        raise ConfigError(f"Unknown dataset {args.dataset!r}; choose one of {list_datasets()}")
    overrides = parse_overrides(args.overrides)
    try:  # refused as the run itself would refuse it
        train_config(resolve_recipe(args.profile, args.model, args.dataset, overrides), seed=0, device="cpu")
    except (ValueError, TypeError) as error:
        raise ConfigError(f"Invalid recipe for {args.model} on {args.dataset} ({args.profile} profile, overrides {overrides}): {error}") from None
    rows = explain_recipe(args.profile, args.model, args.dataset, overrides)
    protocol = get_dataset_spec(args.dataset).protocol
    if args.json:
        print(json.dumps({"recipe": [{"key": k, "value": v, "source": s} for k, v, s in rows], "protocol": repr(protocol)}, indent=2, default=str))
        return 0
    width = max(len(k) for k, _, _ in rows)
    values = [json.dumps(v, default=str) for _, v, _ in rows]
    value_width = max(len(v) for v in values)
    print(f"{args.model} on {args.dataset}, {args.profile} profile; evaluation protocol (declared by {args.dataset}): {protocol!r}")
    for (key, _, source), value in zip(rows, values):
        print(f"  {key:<{width}}  {value:<{value_width}}  {source}")
    return 0
