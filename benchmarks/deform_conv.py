"""Deformable conv speed: ours (embedding_bag gather + one matmul) vs torchvision's deform_conv2d and nn.Conv2d -> results/bench/deform_conv.json.

    python benchmarks/deform_conv.py                       # 2 threads, batch 64, 48 px: layer shapes + dcn_cbam training steps
    python benchmarks/deform_conv.py --model-steps 0       # layer shapes only

Layer section: the input shapes of the deformable convs of ``dcn_cbam`` built with ``deformable_stages=(2, 3, 4)``
(stages 3–4 are the default model; stage 2 is the DCNv2 option), ms per forward (no grad) and per forward+backward
(gradients of input, offsets and weight), and the ratios ours/torchvision and ours/conv. Implementations are interleaved
round by round and the fastest round is reported (the median too), so other processes on the machine inflate every
implementation alike rather than whichever ran while they did.

Model section: training steps (forward, cross-entropy, backward, SGD step) of ``dcn_cbam`` and its ablations in fp32 and
in bf16 autocast + channels_last: images/s, and the share of the step spent in the deformable convs (timed alone,
forward+backward, on the inputs they get inside the model, interleaved with the steps).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from functools import partial
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
import torchvision
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from fer_lib.layers.deform_conv import deform_conv2d, deform_convs
from fer_lib.models import create_model
from fer_lib.runs import cpu_name

Step = Callable[[], None]


def interleaved_ms(steps: dict[str, Step], rounds: int, warmup: int = 1) -> dict[str, dict[str, float]]:
    """Run every step once per round, in turn; ``{name: {"min_ms", "median_ms"}}`` over the rounds after ``warmup``."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(warmup + rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if r >= warmup:
                times[name].append(1000 * (time.perf_counter() - start))
    return {name: {"min_ms": round(min(t), 2), "median_ms": round(statistics.median(t), 2)} for name, t in times.items()}


def layer_steps(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, backward: bool) -> dict[str, Step]:
    """The five implementations on one shape (3×3, stride 1, padding 1): a forward, or a forward+backward."""
    bf16 = partial(torch.autocast, "cpu", torch.bfloat16)
    fp32 = partial(torch.autocast, "cpu", enabled=False)
    impls = {
        "ours_fp32": (fp32, lambda: deform_conv2d(x, offset, weight, padding=1)),
        "ours_bf16_autocast": (bf16, lambda: deform_conv2d(x, offset, weight, padding=1)),
        "torchvision_fp32": (fp32, lambda: tv_deform_conv2d(x, offset, weight, padding=(1, 1))),
        "conv2d_fp32": (fp32, lambda: F.conv2d(x, weight, padding=1)),
        "conv2d_bf16_autocast": (bf16, lambda: F.conv2d(x, weight, padding=1)),
    }

    def make(context: Callable, fn: Callable[[], torch.Tensor]) -> Step:
        def step() -> None:
            with torch.set_grad_enabled(backward), context():
                out = fn()
            if backward:
                out.float().sum().backward()
                for t in (x, offset, weight):
                    t.grad = None

        return step

    return {name: make(context, fn) for name, (context, fn) in impls.items()}


def deform_input_shapes(batch: int, img_size: int) -> list[tuple[tuple[int, ...], bool]]:
    """Distinct input shapes of the deformable convs (all stages 2–4), each with whether the default model has it."""
    default = {tuple(s) for s in _captured_shapes(create_model("dcn_cbam", img_size=img_size), batch, img_size)}
    every = _captured_shapes(create_model("dcn_cbam", img_size=img_size, deformable_stages=(2, 3, 4)), batch, img_size)
    return [(s, s in default) for s in dict.fromkeys(tuple(s) for s in every)]


def _captured_shapes(model: torch.nn.Module, batch: int, img_size: int) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    hooks = [layer.register_forward_pre_hook(lambda _m, inp: shapes.append(tuple(inp[0].shape))) for _, layer in deform_convs(model)]
    with torch.no_grad():
        model.eval()(torch.zeros(2, 1, img_size, img_size))
    for h in hooks:
        h.remove()
    return [(batch, *s[1:]) for s in shapes]


def bench_layers(batch: int, img_size: int, rounds: int, tv_rounds: int) -> list[dict]:
    rows = []
    for shape, in_default in deform_input_shapes(batch, img_size):
        n, c, h, w = shape
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(shape, generator=gen).requires_grad_()
        offset = (2 * torch.randn(n, 18, h, w, generator=gen)).requires_grad_()  # a few pixels, as learned offsets grow to
        weight = (torch.randn(c, c, 3, 3, generator=gen) / (3 * c**0.5)).requires_grad_()
        row: dict = {"input_shape": list(shape), "out_channels": c, "kernel": 3, "in_default_dcn_cbam": in_default}
        for phase, backward in (("forward", False), ("forward_backward", True)):
            steps = layer_steps(x, offset, weight, backward)
            slow = {"torchvision_fp32": steps.pop("torchvision_fp32")}  # ~10-50x slower: fewer rounds
            timed = interleaved_ms(steps, rounds) | interleaved_ms(slow, tv_rounds)
            ours, tv, conv = (timed[k]["min_ms"] for k in ("ours_fp32", "torchvision_fp32", "conv2d_fp32"))
            row[phase] = {
                "ms": timed,
                "ratio_ours_over_torchvision": round(ours / tv, 3),
                "speedup_ours_vs_torchvision": round(tv / ours, 2),
                "ratio_ours_over_conv2d": round(ours / conv, 2),
                "ratio_ours_bf16_over_conv2d_bf16": round(timed["ours_bf16_autocast"]["min_ms"] / timed["conv2d_bf16_autocast"]["min_ms"], 2),
            }
            print(json.dumps({"shape": shape, phase: row[phase]}), flush=True)
        rows.append(row)
    return rows


def bench_models(names: list[tuple[str, dict]], batch: int, img_size: int, steps: int) -> list[dict]:
    """Training steps of each model in fp32 and bf16 + channels_last, and — interleaved with them, so both see the same
    machine — the forward+backward of the model's deformable convs alone, on the inputs they get inside the model."""
    x = torch.randn(batch, 1, img_size, img_size)
    y = torch.randint(0, 7, (batch,))
    timed_steps: dict[str, Step] = {}
    configs = []
    for name, kwargs in names:
        for precision in ("fp32", "bf16_autocast_channels_last"):
            bf16 = precision != "fp32"
            torch.manual_seed(0)
            model = create_model(name, img_size=img_size, **kwargs)
            inputs = x.to(memory_format=torch.channels_last) if bf16 else x
            model = model.to(memory_format=torch.channels_last) if bf16 else model
            key = f"{name}{kwargs or ''} {precision}"
            timed_steps[key] = _train_step(model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), inputs, y, bf16)
            if any(True for _ in deform_convs(model)):
                timed_steps[key + " deform_convs"] = _deform_layers_step(model, inputs, bf16)
            configs.append((key, name, kwargs, precision))
    timed = interleaved_ms(timed_steps, steps)
    rows = []
    for key, name, kwargs, precision in configs:
        step_ms = timed[key]["min_ms"]
        deform = timed.get(key + " deform_convs")
        rows.append(
            {
                "model": name,
                "kwargs": {k: list(v) for k, v in kwargs.items()},
                "precision": precision,
                "step_ms": timed[key],
                "images_per_s": round(1000 * batch / step_ms, 1),
                "deform_convs_ms": deform,
                "deform_convs_share_of_step": round(deform["min_ms"] / step_ms, 3) if deform else 0.0,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> Step:
    def step() -> None:
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _deform_layers_step(model: torch.nn.Module, x: torch.Tensor, bf16: bool) -> Step:
    """Forward+backward of every deformable conv of ``model`` on the input it gets in the model (captured once)."""
    inputs: dict[str, torch.Tensor] = {}
    layers = dict(deform_convs(model))
    hooks = [
        layer.register_forward_pre_hook(lambda _m, inp, name=name: inputs.__setitem__(name, inp[0].detach().clone()))
        for name, layer in layers.items()
    ]
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
        model(x)
    for h in hooks:
        h.remove()
    for t in inputs.values():
        t.requires_grad_()

    def step() -> None:
        for name, layer in layers.items():
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                out = layer(inputs[name])
            out.backward(torch.ones_like(out))

    return step


def machine_facts(threads: int) -> dict:
    return {
        "cpu": cpu_name(),
        "cpus": os.cpu_count(),
        "torch_threads": threads,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "load_average_1m_start": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (this machine has 2 cores)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--img-size", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per implementation (fastest reported)")
    parser.add_argument("--tv-rounds", type=int, default=2, help="timed rounds for torchvision (it is ~10-50x slower)")
    parser.add_argument("--model-steps", type=int, default=3, help="timed training steps per model configuration (0: skip)")
    parser.add_argument("--out", default="results/bench/deform_conv.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    result = {"machine": machine_facts(args.threads), "batch": args.batch, "img_size": args.img_size, "rounds": args.rounds}
    result["layers"] = bench_layers(args.batch, args.img_size, args.rounds, args.tv_rounds)
    in_model = [row["forward_backward"]["ms"] for row in result["layers"] if row["in_default_dcn_cbam"]]
    result["default_dcn_cbam_forward_backward_speedup_vs_torchvision"] = round(
        sum(ms["torchvision_fp32"]["min_ms"] for ms in in_model) / sum(ms["ours_fp32"]["min_ms"] for ms in in_model), 2
    )
    if args.model_steps:
        models = [("resnet18_fer", {}), ("resnet18_cbam", {}), ("resnet18_dcn", {}), ("dcn_cbam", {}), ("dcn_cbam", {"deformable_stages": (2, 3, 4)})]
        result["models"] = bench_models(models, args.batch, args.img_size, args.model_steps)
    result["machine"]["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
