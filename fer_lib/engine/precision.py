"""Which mixed precision pays off on a device: what ``TrainConfig(amp="auto")`` trains with.

bf16 autocast halves the bytes every layer moves and, where oneDNN finds native bf16 dot products (AVX-512-BF16, AMX),
can double the dense-math peak, which makes it the engine's main gain over a stock fp32 loop on such CPUs. Where oneDNN
does not get them it is a loss: some virtualised CPUs report AVX-512-BF16 yet run a bf16 convolution slower than fp32,
and every model then trains slower in bf16 (``benchmarks/train_throughput.py`` measures both precisions and writes
``results/bench/train_throughput_<machine kind>.json``). CPU flags do not tell the two apart, so on CPU ``"auto"`` measures: one 3×3
convolution per dtype, once per process and thread count (≈ 0.1 s). On CUDA it is bf16 where the GPU has it (Ampere and
later), else fp16 with loss scaling.
"""

from __future__ import annotations

import functools
import time
from typing import Literal

import torch
import torch.nn.functional as F

Amp = Literal["auto", "bf16", "fp16", "none"]
RESOLVED_PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "none")  # what "auto" resolves to; what the loops accept

# bf16 must beat fp32 by this factor: a tie is not worth the rounding of every activation (and noise must not flip it).
MIN_BF16_SPEEDUP = 1.1


@functools.cache
def _cpu_bf16_speedup(threads: int, repeats: int) -> float:
    gen = torch.Generator().manual_seed(0)
    # A channels-last 3×3 conv of a size the study's models have (stage 3 at 48 px): what training spends its time on.
    x = torch.randn(32, 128, 12, 12, generator=gen).contiguous(memory_format=torch.channels_last)
    w = torch.randn(128, 128, 3, 3, generator=gen).contiguous(memory_format=torch.channels_last)
    fastest = {}
    with torch.no_grad():
        for dtype in (torch.float32, torch.bfloat16):
            xd, wd = x.to(dtype), w.to(dtype)
            F.conv2d(xd, wd, padding=1)  # warm-up: oneDNN builds its kernel on the first call
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                F.conv2d(xd, wd, padding=1)
                times.append(time.perf_counter() - start)
            fastest[dtype] = min(times)  # the fastest run: other processes only ever slow a run down
    return fastest[torch.float32] / fastest[torch.bfloat16]


def cpu_bf16_speedup(repeats: int = 5) -> float:
    """How many times faster a bf16 3×3 convolution runs than an fp32 one on this CPU, at torch's current thread count."""
    return _cpu_bf16_speedup(torch.get_num_threads(), repeats)


def resolve_amp(amp: Amp, device: torch.device) -> Amp:
    """``amp`` itself, or for ``"auto"`` the fastest precision on ``device``: ``"bf16"``, ``"fp16"`` or ``"none"``.

    On CPU it measures at the current thread count, so call it with the threads training will use.
    """
    if amp != "auto":
        return amp
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        return "bf16" if cpu_bf16_speedup() >= MIN_BF16_SPEEDUP else "none"
    return "none"
