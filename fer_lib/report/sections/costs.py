"""Costs: parameters, training FLOPs per sample, wall time and throughput of every complete run, then the key
figures of each benchmark file in ``results/bench/`` as they are."""

from __future__ import annotations

import html
import json
from typing import Any, Iterator

from ..context import Context
from ..markdown import code, table
from ..provenance import Value, computed, from_file

HEADER = ["Run", "Parameters", "Input", "Training GFLOPs per sample", "Epochs", "Training wall time (min)", "Training images/s", "Device (CPU instruction set)", "Precision"]


def costs(ctx: Context) -> str:
    rows = []
    for run in ctx.study.runs:
        cost = ctx.cost(run)
        if cost.input_shape is None:
            shape, flops = "—", f"not counted: {code(cost.why_not)}"
        else:
            dims = [ctx.prov.number(Value(d, computed("input_shape", run=run.name, axis=i)), decimals=None) for i, d in enumerate(cost.input_shape)]
            shape, flops = "×".join(dims), ctx.prov.number(ctx.flops(run), scale=1e-9, decimals=3)
        rows.append([
            code(run.name),
            ctx.metric(run, "honest", "params", scale=1, decimals=None),
            shape,
            flops,
            ctx.metric(run, "honest", "epochs", scale=1, decimals=None),
            ctx.metric(run, "honest", "train_wall_s", scale=1 / 60, decimals=1),
            ctx.metric(run, "honest", "train_images_per_s", scale=1, decimals=1),
            code(run.device_name) + (f" ({code(run.cpu_capability)})" if run.cpu_capability else ""),
            run.precision or "not recorded",
        ])  # fmt: skip
    text = (
        "## Costs\n\n"
        "Training FLOPs per sample: one forward and backward pass of the run's model in training mode at the run's input "
        "shape ((frames ×) channels × height × width, read from the data as the run loaded it), counted by "
        "`torch.utils.flop_counter.FlopCounterMode` (a multiply-add counts as two; element-wise work is not counted). Wall "
        "time and images/s are the run's own (all folds; the wall time sums the epochs' training and evaluation, not the "
        "checkpoint writes between them, which `benchmarks/checkpoint_overhead.py` measures), so they compare runs of one "
        "instruction set and precision: "
        "where oneDNN has native bf16 (AVX-512-BF16) `amp=\"auto\"` trains in bf16 autocast, several times faster than "
        "float32 on a CPU without it (`benchmarks/train_throughput.py` measures both on its machine).\n\n" + table(HEADER, rows, right=(1, 3, 4, 5, 6))
    )
    if not ctx.study.benches:
        return text + "\nNo benchmark has been run (`results/bench/` holds no JSON file).\n\n"
    text += "\n### Benchmarks\n\nEvery value of each file of `results/bench/` as `benchmarks/` wrote it (unfold to read).\n\n"
    for name, data in ctx.study.benches.items():
        rows = [[code(key), _show(ctx, f"bench/{name}", keys, value)] for key, keys, value in _leaves(data)]
        link = ctx.results_link(code(name), f"bench/{name}")
        text += f"{link}\n\n<details><summary>{html.escape(name)}</summary>\n\n" + table(["Key", "Value"], rows) + "\n</details>\n\n"
    return text


def _leaves(data: Any, keys: tuple = ()) -> Iterator[tuple[str, tuple, Any]]:
    """``(dotted key, key path, value)`` for every value that is not a dict; lists of scalars stay one leaf."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*keys, key))
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        for index, value in enumerate(data):
            yield from _leaves(value, (*keys, index))
    else:
        yield "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip("."), keys, data


def _show(ctx: Context, path: str, keys: tuple, value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_show(ctx, path, (*keys, i), v) for i, v in enumerate(value))
    if isinstance(value, bool) or value is None:
        return code(json.dumps(value))
    if isinstance(value, (int, float)):
        return ctx.prov.number(Value(value, from_file(path, *keys)), decimals=None)
    return code(value)
