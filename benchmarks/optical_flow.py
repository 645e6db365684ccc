"""Optical flow speed: ms per onset → apex pair for TV-L1, DIS and Farneback on real CASME II face crops, in one
process -> results/bench/optical_flow.json.

    FER_DATA=../shared/data python benchmarks/optical_flow.py --size 112 --threads 1

The face crops are cut once (as :func:`fer_lib.flow.flow_maps` cuts them) and every method then runs on the same
pairs. Each variant is warmed up on one pair first, so the reused flow objects are created outside the timing;
TV-L1 with a new object per pair is timed too (what reuse saves). Times are the best of ``--repeats`` interleaved
passes: another job sharing the CPU only ever makes a pass slower.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fer_lib.data import create_dataset
from fer_lib.flow import FLOW_METHODS, compute_flow, crop_face_pair

Pairs = list[tuple[np.ndarray, np.ndarray]]


def pass_ms(pairs: Pairs, flow: Callable[[np.ndarray, np.ndarray], object]) -> float:
    """Mean ms per pair of one pass of ``flow`` over ``pairs``."""
    start = time.perf_counter()
    for onset, apex in pairs:
        flow(onset, apex)
    return (time.perf_counter() - start) / len(pairs) * 1000


def best_ms(pairs: Pairs, flows: dict[str, Callable[[np.ndarray, np.ndarray], object]], repeats: int) -> dict[str, float]:
    """Best pass per variant; the variants' passes are interleaved, so a change in load hits them alike."""
    for flow in flows.values():
        flow(*pairs[0])  # warm-up: creates the reusable flow objects
    passes: dict[str, list[float]] = {name: [] for name in flows}
    for _ in range(repeats):
        for name, flow in flows.items():
            passes[name].append(pass_ms(pairs, flow))
    return {name: min(times) for name, times in passes.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=112, help="side of the square face crops the flow runs on")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (cv2.setNumThreads)")
    parser.add_argument("--repeats", type=int, default=5, help="passes over all pairs per method (the best is reported)")
    parser.add_argument("--out", default="results/bench/optical_flow.json")
    args = parser.parse_args()

    cv2.setNumThreads(args.threads)
    clips = create_dataset("casme2", split="all", frames="onset_apex", classes="emotion")
    faces = [crop_face_pair(clip[0], clip[1], args.size, where=str(sample)) for clip, sample in zip(clips.images, clips.sample_ids)]
    pairs = [(face.onset, face.apex) for face in faces]
    start = time.perf_counter()
    cv2.optflow.DualTVL1OpticalFlow_create()
    create_ms = (time.perf_counter() - start) * 1000
    variants = {method: functools.partial(compute_flow, method=method) for method in FLOW_METHODS}
    variants["tvl1_new_object_per_pair"] = lambda onset, apex: cv2.optflow.DualTVL1OpticalFlow_create().calc(onset, apex, None)
    timings = best_ms(pairs, variants, args.repeats)
    result = {
        "dataset": "casme2",
        "pairs": len(pairs),
        "sample_ids": clips.sample_ids.tolist(),
        "crop_size": args.size,
        "opencv_threads": cv2.getNumThreads(),
        "repeats": args.repeats,
        "ms_per_pair": {m: round(t, 2) for m, t in timings.items()},
        "speedup_vs_tvl1": {m: round(timings["tvl1"] / t, 1) for m, t in timings.items()},
        "tvl1_create_ms": round(create_ms, 3),
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
