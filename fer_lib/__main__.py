"""Command line: ``python -m fer_lib datasets [--root DIR] [--json]``."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .data.summary import format_summary, summarize_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    datasets = commands.add_parser("datasets", help="counts per split, class and subject of every dataset under the data root")
    datasets.add_argument("--root", help="data root (default: $FER_DATA)")
    datasets.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    entries = summarize_all(args.root)
    print(json.dumps({"datasets": entries}, indent=2) if args.json else format_summary(entries))
    return 1 if any("error" in e for e in entries) else 0


if __name__ == "__main__":
    sys.exit(main())
