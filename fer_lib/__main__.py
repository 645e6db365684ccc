"""Command line: ``python -m fer_lib datasets [--root DIR] [--json]`` and ``python -m fer_lib study [--profile P]``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .data.summary import format_summary, summarize_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    datasets = commands.add_parser("datasets", help="counts per split, class and subject of every dataset under the data root")
    datasets.add_argument("--root", help="data root (default: $FER_DATA)")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    study = commands.add_parser("study", help="execute the study's notebooks with papermill (finished runs are skipped)")
    study.add_argument("--profile", default="cpu", choices=("smoke", "cpu", "paper"), help="training recipe of the model notebooks")
    study.add_argument("--results", default="results", help="results folder")
    study.add_argument("--only", help="run only the steps whose \"notebook model dataset\" label contains this, e.g. \"dcn_cbam fer2013\"")
    study.add_argument("--force", action="store_true", help="re-run finished runs too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command == "study" else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.command == "study":
        from .study import run_study

        folders = run_study(Path.cwd(), args.profile, Path(args.results), args.force, args.only)
        print(f"Study done ({args.profile} profile): {len(folders)} notebook runs written under {Path(args.results).resolve()}")
        return 0
    entries = summarize_all(args.root)
    print(json.dumps({"datasets": entries}, indent=2) if args.json else format_summary(entries))
    return 1 if any("error" in e for e in entries) else 0


if __name__ == "__main__":
    sys.exit(main())
