"""Run folders (DESIGN.md §4): ``results/runs/<model>__<dataset>__<profile>__s<seed>/``.

One training run yields both protocols (``honest``: selected on validation; ``test_selected``: best test epoch,
labelled), so one folder holds ``config.json``, ``env.json``, ``history.csv``, ``predictions.csv`` (one row per
test sample and protocol), figures, the executed notebook, and ``metrics.json``: a list with one record per
protocol. ``metrics.json`` is written last and removed first when a run starts, so a folder without it is an
unfinished or failed run, which the report never reads. Every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

METRICS_FILE = "metrics.json"
REQUIRED_KEYS = (
    "model", "dataset", "protocol", "profile", "seed", "split", "n", "accuracy", "macro_f1", "uar",
    "epochs", "train_wall_s", "train_images_per_s", "params", "device", "git_sha",
)  # fmt: skip


def run_name(model: str, dataset: str, profile: str, seed: int) -> str:
    return f"{model}__{dataset}__{profile}__s{seed}"


def git_sha(cwd: Path | None = None) -> str:
    """HEAD's commit, suffixed ``-dirty`` when tracked files differ from it; ``unknown`` outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty.strip() else "")


def cpu_name(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> str:
    """The CPU's model name (e.g. "AMD EPYC"; throughput depends on it) from the ``model name`` line of ``cpuinfo``
    (Linux's description of its CPUs), else ``platform``'s guess where that file is absent (macOS, Windows)."""
    cpuinfo = Path(cpuinfo)
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment_info(device: torch.device | str) -> dict[str, Any]:
    """Versions, machine and device facts for ``env.json``."""
    import cv2
    import numpy
    import sklearn
    import torchvision

    device = torch.device(device)
    return {
        "git_sha": git_sha(Path(__file__).parent),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "scikit_learn": sklearn.__version__,
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
    }


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


class RunFolder:
    """Writes one run's files; :meth:`start` invalidates an older result, :meth:`finish` commits ``metrics.json``."""

    def __init__(self, root: str | os.PathLike[str], name: str) -> None:
        self.path = Path(root) / name

    def start(self) -> "RunFolder":
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / METRICS_FILE).unlink(missing_ok=True)
        return self

    def write_json(self, name: str, data: Any) -> None:
        _write_atomic(self.path / name, lambda p: p.write_text(json.dumps(data, indent=2, default=str) + "\n"))

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        _write_atomic(self.path / name, lambda p: frame.to_csv(p, index=False))

    def save_figure(self, name: str, figure: Figure) -> None:
        (self.path / "figures").mkdir(exist_ok=True)
        _write_atomic(self.path / "figures" / f"{name}.png", lambda p: figure.savefig(p, format="png", dpi=120, bbox_inches="tight"))

    def finish(self, records: list[dict[str, Any]]) -> Path:
        """Validate and write ``metrics.json`` (one record per protocol): the run is complete from here on."""
        for record in records:
            missing = [k for k in REQUIRED_KEYS if k not in record]
            if missing:
                raise ValueError(f"metrics record for protocol {record.get('protocol')!r} lacks {missing}")
        self.write_json(METRICS_FILE, records)
        return self.path


def read_metrics(root: str | os.PathLike[str]) -> pd.DataFrame:
    """All finished runs under ``root`` (folders with ``metrics.json``), one row per (run, protocol)."""
    rows = [dict(record, run=path.parent.name) for path in sorted(Path(root).glob(f"*/{METRICS_FILE}")) for record in json.loads(path.read_text())]
    return pd.DataFrame(rows)
