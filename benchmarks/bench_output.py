"""What every benchmark's JSON ends with: the machine it measured on, and the file written whole."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from fer_lib.runs import cpu_name


def machine_facts() -> dict[str, Any]:
    """The CPU, its vector capability, its core count and the torch build: what a speed ratio depends on."""
    return {"cpu": cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpus": os.cpu_count(), "torch": torch.__version__}


def per_machine_path(stem: str) -> str:
    """``results/bench/<stem>_<instruction set>.json``: where a speed figure that holds for one CPU kind (images/s,
    the precision ``amp="auto"`` picks) is written, so that runs on other kinds sit beside it instead of replacing it."""
    return f"results/bench/{stem}_{torch.backends.cpu.get_cpu_capability().lower()}.json"


def write_report(out: str | os.PathLike[str], report: dict[str, Any]) -> None:
    """Write ``report`` as indented JSON to ``out`` (creating its folder) and print it."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
