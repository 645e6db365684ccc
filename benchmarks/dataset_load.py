"""Decode-once cache: first (decoding) vs cached load of a dataset, in one process -> results/bench/dataset_load.json.

    FER_DATA=../shared/data python benchmarks/dataset_load.py --dataset fer2013
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from fer_lib.data import create_dataset


def timed_load(name: str, split: str) -> tuple[float, int]:
    start = time.perf_counter()
    dataset = create_dataset(name, split=split)
    return time.perf_counter() - start, len(dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fer2013")
    parser.add_argument("--split", default="all")
    parser.add_argument("--repeats", type=int, default=3, help="cached loads to time (the best is reported)")
    parser.add_argument("--out", default="results/bench/dataset_load.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:  # an empty cache, so the first load decodes every file
        os.environ["FER_CACHE"] = cache
        first_s, n = timed_load(args.dataset, args.split)
        cached_s = min(timed_load(args.dataset, args.split)[0] for _ in range(args.repeats))
    result = {
        "dataset": args.dataset,
        "split": args.split,
        "samples": n,
        "first_load_s": round(first_s, 3),
        "cached_load_s": round(cached_s, 3),
        "speedup": round(first_s / cached_s, 1),
        "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
