"""Command line of fer-study: ``python -m fer_lib {datasets, study, train, recipe, dry-run, predict, export-model, video, cross-dataset, tta} --help``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from .cross_dataset import add_cross_dataset_arguments, run_cross_dataset
from .tta import add_tta_arguments, run_tta
from .data.errors import DatasetFormatError, DatasetNotFoundError
from .data.summary import format_summary, parse_loader_options, require_some_dataset, summarize_all
from .errors import ConfigError
from .recipe_cli import add_recipe_arguments, run_recipe
from .train_cli import add_train_arguments, run_train
from .video.cli import add_video_arguments, run_video

PROG = "python -m fer_lib"
ENVIRONMENT = """environment:
  FER_DATA   the data root: the folder holding the datasets in their public layouts (fer2013/, ckplus/, megc2019/, ...)
  FER_CACHE  where decoded datasets are cached (default ~/.cache/fer_lib); an unreadable entry is rebuilt

A configuration error (no data root, a missing or damaged dataset file, an unknown name) prints one line and exits 2."""
# Errors whose message is the whole story for the user (what is wrong, which file or value, the fix): no traceback.
USER_ERRORS = (ConfigError, DatasetNotFoundError, DatasetFormatError)


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose ``--help`` ends with the environment it reads; subcommand parsers inherit it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", ENVIRONMENT)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; a configuration error prints one line on stderr and returns 2, other errors propagate."""
    try:
        return _run(argv)
    except USER_ERRORS as error:
        message = " ".join(str(error).splitlines())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2


def _run(argv: list[str] | None) -> int:
    parser = CommandParser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    datasets = commands.add_parser("datasets", help="counts per split, class and subject of every dataset under the data root")
    datasets.add_argument("--root", help="data root (default: $FER_DATA)")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    datasets.add_argument(
        "--loader-option", action="append", default=[], metavar="DATASET.KEY=VALUE", dest="loader_options",
        help="a keyword argument of one dataset's loader, as train's --set loader_options gives it (e.g. ckplus.on_no_face=skip)",
    )
    study = commands.add_parser("study", help="execute the study's notebooks with papermill (complete runs are skipped)")
    study.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "paper"), help="training recipe of the model notebooks")
    study.add_argument("--results", default="results", help="results folder")
    study.add_argument("--only", help="run only the steps of this notebook, model, dataset or \"model dataset\" (exact names), e.g. \"dcn_cbam fer2013\"")
    study.add_argument("--step", type=int, help="run only step K of --list (e.g. one task of a cluster job array)")
    study.add_argument("--list", action="store_true", help="print the steps (index, label, output folder) and exit")
    study.add_argument("--force", action="store_true", help="train complete runs again (each replaced once its new run finishes)")
    add_train_arguments(commands.add_parser("train", help="train one model on one dataset into its run folder; under torchrun, data-parallel"))
    add_recipe_arguments(commands.add_parser("recipe", help="print the resolved recipe of a run, each setting with the layer it came from"))
    dry_run = commands.add_parser("dry-run", help="train every model step of the study for a few optimizer steps on the CPU, with a profile's recipe")
    dry_run.add_argument("--profile", default="paper", choices=("smoke", "cpu", "paper"), help="recipe to check (default: paper, the GPU one)")
    dry_run.add_argument("--steps", type=int, default=2, help="optimizer steps per model")
    dry_run.add_argument("--n-images", type=int, default=16, help="real samples per split; the batch size is n_images // steps")
    dry_run.add_argument("--only", help="check only the steps of this notebook, model or dataset, or of this whole label, as study --only")
    dry_run.add_argument("--root", help="data root (default: $FER_DATA)")
    predict = commands.add_parser("predict", help="detect the faces in an image (or a folder of images) and print their expression probabilities")
    predict.add_argument("path", help="an image file or a folder of images")
    predict.add_argument("--model", help="a model file (default: the committed FER2013 model with the best honest accuracy)")
    predict.add_argument("--format", default="csv", choices=("csv", "json"), help="output format")
    predict.add_argument("--out", help="write to this file instead of printing")
    export = commands.add_parser("export-model", help="write a finished run folder's model.pt and MODEL_CARD.md from its committed weights")
    export.add_argument("run_dir", help="the run folder, e.g. results/runs/resnet18_fer__fer2013__cpu__s0")
    export.add_argument("--root", help="data root, to recompute the training statistics (default: $FER_DATA)")
    add_video_arguments(commands.add_parser("video", help="annotate a video: faces tracked, expressions per frame (CSV), smoothed over time, timeline"))
    add_cross_dataset_arguments(commands.add_parser("cross-dataset", help="score runs' model files on other datasets' faces (CK+, JAFFE)"))
    add_tta_arguments(commands.add_parser("tta", help="score runs' model files with and without test-time augmentation (flips, shifts)"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command in ("study", "train") else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.command == "study":
        return _study(args)
    if args.command == "train":
        return run_train(args)
    if args.command == "recipe":
        return run_recipe(args)
    if args.command == "dry-run":
        return _dry_run(args)
    if args.command == "predict":
        from .predict import run_predict

        return run_predict(args.path, args.model, args.format, args.out)
    if args.command == "video":
        return run_video(args)
    if args.command == "cross-dataset":
        return run_cross_dataset(args)
    if args.command == "tta":
        return run_tta(args)
    if args.command == "export-model":
        from .model_file import export_run

        path = export_run(args.run_dir, args.root)
        print(f"Wrote {path} and its MODEL_CARD.md" if path else f"{args.run_dir}: weights too large to export; wrote MODEL_CARD.md saying so")
        return 0
    entries = summarize_all(args.root, parse_loader_options(args.loader_options))
    print(json.dumps({"datasets": entries}, indent=2) if args.json else format_summary(entries))
    require_some_dataset(entries, args.root)
    return 1 if any("error" in e for e in entries) else 0


def _study(args: argparse.Namespace) -> int:
    """``study``: every selected step runs; exit 1 listing the failed ones (each has a failure.json in its folder)."""
    from .study import format_jobs, run_study, select_jobs, study_jobs

    if args.list:
        print(format_jobs(select_jobs(study_jobs(args.profile), args.only, args.step), args.results))
        return 0
    outcome = run_study(args.results, args.profile, args.force, args.only, args.step)
    print(f"Study ({args.profile} profile) under {args.results}: {len(outcome.ran)} steps ran, {len(outcome.skipped)} complete runs skipped, {len(outcome.failed)} failed")
    for label, folder, error in outcome.failed:
        print(f"FAILED {label}: {error} (see {folder})")
    return 1 if outcome.failed else 0


def _dry_run(args: argparse.Namespace) -> int:
    """``dry-run``: one line per step; a step that fails logs its traceback and the others still run (exit 1)."""
    from .dry_run import dry_run_step, model_steps

    steps = model_steps(args.only)
    failed, folds = [], {}
    for step in steps:
        try:
            result = dry_run_step(
                step.parameters["model"], step.parameters["dataset"], args.profile, args.steps, args.n_images, args.root, fold_cache=folds
            )
        except USER_ERRORS:
            raise
        except Exception as error:
            logging.getLogger(__name__).exception("dry run of %s failed", step.label)
            failed.append(step.label)
            print(f"FAILED {step.label}: {type(error).__name__}: {' '.join(str(error).splitlines())}", flush=True)
            continue
        print(f"ok     {result.describe()}", flush=True)
    summary = f"Dry run of the {args.profile} profile on the CPU: {len(steps) - len(failed)} of {len(steps)} steps trained"
    print(summary + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
