"""What every benchmark's JSON ends with: the machine it measured on, and the file written whole."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from fer_lib.runs import cpu_name


def has_amx(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> bool:
    """Whether the CPU has AMX bf16 tiles (the ``amx_bf16`` flag Linux lists in ``cpuinfo``; False where that file is
    absent). torch reports AVX512 for both AMX and plain AVX-512 CPUs, yet AMX multiplies the bf16 dense peak several times."""
    cpuinfo = Path(cpuinfo)
    return cpuinfo.exists() and any(line.startswith("flags") and "amx_bf16" in line.split() for line in cpuinfo.read_text().splitlines())


def machine_kind() -> str:
    """The CPU kind a speed figure holds for: torch's instruction set (``avx2``, ``avx512``), ``_amx`` added where the
    CPU has AMX bf16 tiles."""
    return torch.backends.cpu.get_cpu_capability().lower() + ("_amx" if has_amx() else "")


def machine_facts() -> dict[str, Any]:
    """The CPU, its vector capability (and AMX), its core count and the torch build: what a speed ratio depends on."""
    return {"cpu": cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(), "amx_bf16": has_amx(), "cpus": os.cpu_count(), "torch": torch.__version__}


def per_machine_path(stem: str) -> str:
    """``results/bench/<stem>_<machine kind>.json`` (e.g. ``_avx2``, ``_avx512``, ``_avx512_amx``): where a speed figure
    that holds for one CPU kind (images/s, the precision ``amp="auto"`` picks) is written, so that runs on other kinds sit
    beside it instead of replacing it."""
    return f"results/bench/{stem}_{machine_kind()}.json"


def write_report(out: str | os.PathLike[str], report: dict[str, Any]) -> None:
    """Write ``report`` as indented JSON to ``out`` (creating its folder) and print it."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
