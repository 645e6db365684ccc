"""Does ``torch.compile`` buy epochs on this CPU? Our engine's training loop with the model eager vs compiled, in one run.

    FER_DATA=../shared/data python benchmarks/compile_throughput.py --models resnet18_fer dcn_cbam

For each model: images/s of :func:`fer_lib.engine.train_one_epoch` (48 px, batch 64, channels_last, the precision
``amp="auto"`` picks here) with the model as ``create_model`` builds it (the paper's stem, not the cpu recipe's /4), and
with it wrapped in ``torch.compile`` (Inductor, default mode), same images and optimizer settings. The compiled model's first call compiles its forward and backward graphs:
that time (``compile_s``) is reported apart, since a run pays it once, while images/s is what each epoch gains. The two
loops run interleaved, ``--rounds`` times, after both are warm; each figure is the median over rounds. Inductor on a CPU
needs a C++ compiler: where it fails, the file records the error instead of a speed. Writes
``results/bench/compile_throughput_<instruction set>.json``; all figures are ratios within this run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np
import torch

from fer_lib.data import create_dataset
from fer_lib.engine import TensorSplit, TrainConfig, resolve_amp
from fer_lib.models import create_model

from bench_output import machine_facts, per_machine_path, write_report
from engine_epoch import epoch_runner


def measure(name: str, data: TensorSplit, batch: int, steps: int, rounds: int, amp: str) -> dict[str, Any]:
    """Eager and compiled images/s of ``name`` (medians of interleaved rounds) and the seconds the first compiled call took."""
    eager_model = create_model(name).to(memory_format=torch.channels_last)
    compiled_model = torch.compile(create_model(name).to(memory_format=torch.channels_last))
    cfg = TrainConfig(batch_size=batch, amp=amp, channels_last=True, epochs=1, progress=False, device="cpu")
    eager, compiled = epoch_runner(eager_model, data, cfg), epoch_runner(compiled_model, data, cfg)
    warm = torch.arange(2 * batch)
    eager(warm)
    start = time.perf_counter()
    try:
        compiled(warm)  # traces, compiles forward and backward: paid once per run (and again if a shape changes)
    except Exception as error:  # noqa: BLE001 — Inductor's failures (no C++ compiler, an unsupported op) are the result here
        return {"model": name, "compiled": f"failed: {type(error).__name__}: {str(error).splitlines()[0][:300]}"}
    compile_s = time.perf_counter() - start
    timed = [(eager(torch.randperm(batch * steps)), compiled(torch.randperm(batch * steps))) for _ in range(rounds)]
    eager_img_s, compiled_img_s = (statistics.median(column) for column in zip(*timed))
    return {
        "model": name,
        "compiled": "measured",
        "compile_s": round(compile_s, 1),
        "eager_img_s": round(eager_img_s, 1),
        "compiled_img_s": round(compiled_img_s, 1),
        "speedup": round(compiled_img_s / eager_img_s, 2),
        "speedup_per_round": [round(c / e, 2) for e, c in timed],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18_fer", "dcn_cbam"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of the two loops (median reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", default=None, help="default: results/bench/compile_throughput_<instruction set>.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    amp = resolve_amp("auto", torch.device("cpu"))
    train = create_dataset("fer2013", split="train")
    data = TensorSplit.from_dataset(train.subset(np.arange(args.batch * args.steps)), torch.device("cpu"))
    results = [measure(name, data, args.batch, args.steps, args.rounds, amp) for name in args.models]
    report = {
        "what": (
            f"training images/s of the engine loop, model eager vs torch.compile (Inductor), 48x48 grey, batch {args.batch}, "
            f"{args.steps} timed steps, median of {args.rounds} interleaved rounds; compile_s = the first compiled call"
        ),
        "precision": amp,
        "threads": args.threads,
        "machine": machine_facts(),
        "models": results,
    }
    write_report(args.out or per_machine_path("compile_throughput"), report)


if __name__ == "__main__":
    main()
