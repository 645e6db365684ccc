"""Training throughput: our engine vs a stock torchvision ImageFolder + PIL + DataLoader fp32 loop, in one run.

    FER_DATA=../shared/data python benchmarks/train_throughput.py --models resnet18_fer dcn_cbam irnet

For each model: images/s of (a) the stock loop (torchvision ``ImageFolder`` on the FER2013 JPEGs, PIL transforms:
flip + affine + ToTensor + Normalize, ``DataLoader``, fp32) and (b) our engine's ``train_one_epoch`` (decoded uint8
tensors, batch augmentation on the device, channels_last) in fp32 and in bf16 autocast, same model, batch and images.
The headline ``speedup_vs_stock`` is the engine at its default ``amp="auto"``: the precision
``fer_lib.engine.resolve_amp`` measures faster here (bf16 is slower than fp32 on some CPUs that report bf16). Also the
achieved FLOP/s (FLOPs of one training step counted by ``torch.utils.flop_counter``) against the fp32 and bf16 dense-math
peaks measured in the same process. The three loops run interleaved, ``--rounds`` times, and each figure is the median
over rounds (one round swings by ±10 % on a 2-core machine, where the stock loop's loader worker shares the cores).
Writes ``results/bench/train_throughput_<machine kind>.json`` (e.g. ``train_throughput_avx2.json``): the figures
hold for the CPU kind they were measured on, so a run on another kind adds its own file instead of replacing the
other's. All figures are ratios within this run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import datasets, transforms

from fer_lib.data import create_dataset, locate_dataset
from fer_lib.engine import TensorSplit, TrainConfig, cpu_bf16_speedup, resolve_amp
from fer_lib.models import create_model

from bench_output import machine_facts, per_machine_path, write_report
from engine_epoch import epoch_runner

DENSE_BUDGET_S = 10.0  # seconds per dense-peak measurement, whatever the CPU emulates
# The bf16 training loop runs only where the bf16 conv probe is at least this fraction of fp32: below it the CPU emulates
# bf16 (0.12× on an AVX2 CPU) and the loop would take many minutes to say what the probe already says.
BF16_LOOP_MIN_SPEEDUP = 0.5


def fastest_seconds(run: Callable[[], object], repeats: int, rounds: int, warm_up: bool = True) -> float:
    """Seconds of ``repeats`` calls of ``run``: the fastest of ``rounds`` rounds, after one warm-up call."""
    if warm_up:
        run()
    fastest = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            run()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def dense_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 10, rounds: int = 5, budget_s: float = DENSE_BUDGET_S) -> dict[str, float]:
    """GFLOP/s of one square GEMM in ``dtype`` done two ways — ``torch.matmul`` (BLAS) and a 1×1 channels-last conv
    (oneDNN, the library the convolutions use) — and ``peak``, the faster: the machine's practical peak for dense math.
    Both count, since either library can be the slow one (BLAS's fp32 GEMM can run below the convolutions it is meant to
    bound: a fraction of peak above 1). Fastest round, as one round swings by 2× when shared.

    Time-boxed: each way gets about ``budget_s``; a CPU that emulates ``dtype`` (bf16 without AVX-512-BF16 or AMX takes
    seconds per GEMM) gets fewer repeats and rounds, down to the one warm-up call, instead of minutes."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    x = a.view(1, size, size, 1).contiguous(memory_format=torch.channels_last)
    w = b.view(size, size, 1, 1).contiguous(memory_format=torch.channels_last)
    rates = {"matmul": _gflop_s(lambda: a @ b, size, repeats, rounds, budget_s), "conv1x1": _gflop_s(lambda: F.conv2d(x, w), size, repeats, rounds, budget_s)}
    return {**rates, "peak": max(rates.values())}


def _gflop_s(run: Callable[[], object], size: int, repeats: int, rounds: int, budget_s: float) -> float:
    """GFLOP/s of ``run`` (one ``size``³ GEMM): the warm-up call's time sets how many calls fit ``budget_s``."""
    start = time.perf_counter()
    run()  # warm-up: oneDNN builds its kernel on the first call
    single = time.perf_counter() - start
    calls = min(repeats * rounds, int(budget_s / single))
    if calls < 2:
        return 2 * size**3 / 1e9 / single
    repeats = max(1, min(repeats, calls // rounds))
    return 2 * size**3 * repeats / 1e9 / fastest_seconds(run, repeats, max(1, min(rounds, calls // repeats)), warm_up=False)


def train_flops_per_image(model: torch.nn.Module, batch: int) -> float:
    """FLOPs of one forward + backward per image (multiply-add = 2 FLOPs)."""
    x, y = torch.randn(batch, 1, 48, 48), torch.randint(0, 7, (batch,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch


def stock_loop(model: torch.nn.Module, folder: Path, batch: int, steps: int, workers: int) -> float:
    """Images/s of the textbook loop: ImageFolder + PIL transforms + DataLoader, fp32, NCHW (first step not timed)."""
    tf = transforms.Compose(
        [transforms.Grayscale(), transforms.RandomHorizontalFlip(), transforms.RandomAffine(10, (0.1, 0.1), (0.9, 1.1)), transforms.ToTensor(), transforms.Normalize([0.5], [0.25])]
    )
    data = datasets.ImageFolder(folder / "train", transform=tf)
    pick = np.random.default_rng(0).choice(len(data), batch * (steps + 1), replace=False)
    loader = DataLoader(Subset(data, pick.tolist()), batch_size=batch, shuffle=True, num_workers=workers, drop_last=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for i, (x, y) in enumerate(loader):
        if i == 1:
            start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return batch * steps / (time.perf_counter() - start)


def engine_loop(model: torch.nn.Module, batch: int, steps: int, amp: str) -> float:
    """Images/s of our engine's ``train_one_epoch`` (channels_last, ``amp``) on the decoded tensors (one warm-up epoch of 2 steps first)."""
    train = create_dataset("fer2013", split="train")
    cfg = TrainConfig(batch_size=batch, amp=amp, channels_last=True, epochs=1, progress=False, device="cpu")
    data = TensorSplit.from_dataset(train.subset(np.arange(batch * steps)), torch.device("cpu"))
    run = epoch_runner(model.to(memory_format=torch.channels_last), data, cfg)
    run(torch.arange(2 * batch))
    return run(torch.randperm(batch * steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18_fer", "dcn_cbam", "irnet"])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions of the three loops (median reported)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--workers", type=int, default=1, help="DataLoader workers of the stock loop")
    parser.add_argument("--out", default=None, help="default: results/bench/train_throughput_<machine kind>.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    dense = {"fp32": dense_peak(torch.float32), "bf16": dense_peak(torch.bfloat16)}
    peaks = {dtype: rates["peak"] for dtype, rates in dense.items()}
    auto_amp = resolve_amp("auto", torch.device("cpu"))
    bf16_loop = cpu_bf16_speedup() >= BF16_LOOP_MIN_SPEEDUP
    auto_column = 2 if auto_amp == "bf16" else 1  # the engine loop at its default precision: (stock, fp32, bf16)[auto_column]
    folder = locate_dataset("fer2013")
    results = []
    for name in args.models:
        flops = train_flops_per_image(create_model(name), args.batch)
        rounds = [
            (
                stock_loop(create_model(name), folder, args.batch, args.steps, args.workers),
                engine_loop(create_model(name), args.batch, args.steps, "none"),
                engine_loop(create_model(name), args.batch, args.steps, "bf16") if bf16_loop else float("nan"),
            )
            for _ in range(args.rounds)
        ]
        stock, ours_fp32, ours_bf16 = medians = [statistics.median(column) for column in zip(*rounds)]
        results.append(
            {
                "model": name,
                "train_gflop_per_image": round(flops / 1e9, 3),
                "speedup_vs_stock_per_round": [round(r[auto_column] / r[0], 2) for r in rounds],
                "stock_fp32_img_s": round(stock, 1),
                "engine_fp32_channels_last_img_s": round(ours_fp32, 1),
                "engine_bf16_channels_last_img_s": round(ours_bf16, 1),
                "speedup_vs_stock": round(medians[auto_column] / stock, 2),
                "speedup_bf16_vs_stock": round(ours_bf16 / stock, 2),
                "engine_fp32_fraction_of_fp32_peak": round(ours_fp32 * flops / 1e9 / peaks["fp32"], 3),
                "stock_fraction_of_fp32_peak": round(stock * flops / 1e9 / peaks["fp32"], 3),
                "engine_bf16_fraction_of_bf16_peak": round(ours_bf16 * flops / 1e9 / peaks["bf16"], 3),
            }
        )
        if not bf16_loop:  # not measured: null, not NaN (strict JSON)
            results[-1] |= dict.fromkeys(("engine_bf16_channels_last_img_s", "speedup_bf16_vs_stock", "engine_bf16_fraction_of_bf16_peak"))
        print(json.dumps(results[-1]))
    report = {
        "what": "training images/s at 48x48 grey, batch %d, %d timed steps, median of %d interleaved rounds; stock = ImageFolder+PIL+DataLoader fp32" % (args.batch, args.steps, args.rounds),
        "dense_peak_gflop_s": {dtype: {k: round(v, 1) for k, v in rates.items()} for dtype, rates in dense.items()},
        "threads": args.threads,
        "engine_default_amp": {"auto_resolves_to": auto_amp, "bf16_conv_speedup_probe": round(cpu_bf16_speedup(), 2)},
        "bf16_loop": "measured" if bf16_loop else f"skipped: the bf16 conv probe runs at {cpu_bf16_speedup():.2f}x fp32 (< {BF16_LOOP_MIN_SPEEDUP})",
        "machine": machine_facts(),
        "models": results,
    }
    write_report(args.out or per_machine_path("train_throughput"), report)


if __name__ == "__main__":
    main()
