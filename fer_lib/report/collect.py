"""What the report reads: every run folder's state, the complete runs' records and histories, the recipe probes
(``probes/``, read the same way), the benchmarks, the dataset inventory of ``01_datasets``, and the claims and
ablation pairs of ``claims.yaml``.

Nothing here raises for what a results folder holds: an unreadable file becomes a :attr:`StudyResults.problems`
line naming it, shown in the report's run-status section.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..claims import Ablation, Claim, load_ablations, load_claims
from ..model_card import PRECISION_NAMES
from ..runs import PROBES_DIR, RunState, scan_runs
from .provenance import Value, from_file

BENCH_DIR = "bench"
DATASETS_FILE = "01_datasets/datasets.json"
CROSS_DATASET_FILE = "cross_dataset.json"
TTA_FILE = "tta.json"
HISTORY_FILE = "history.csv"
ENV_FILE = "env.json"


@dataclass(frozen=True)
class Run:
    """A complete run: its state (``config.json``, ``metrics.json`` records), its history, and the extra files that
    the report reads (published-weights checks, cross-dataset and TTA records), keyed by file name."""

    state: RunState
    history: pd.DataFrame | None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def first(self) -> dict[str, Any]:
        return self.state.records[0]

    @property
    def model(self) -> str:
        return self.first["model"]

    @property
    def dataset(self) -> str:
        return self.first["dataset"]

    @property
    def profile(self) -> str:
        return self.first["profile"]

    @property
    def seed(self) -> int:
        return int(self.first["seed"])

    @property
    def recipe(self) -> dict[str, Any]:
        """The resolved recipe its ``config.json`` records (``{}`` when the config has none)."""
        return (self.state.config or {}).get("recipe") or {}

    @property
    def init_from(self) -> str:
        """The dataset of the run of ours it was fine-tuned from (``fer_lib.fine_tune``); ``""`` when trained from scratch."""
        start = self.first.get("init_from")
        return str(start.get("dataset", "")) if isinstance(start, dict) else ""

    @property
    def select_metric(self) -> str:
        """The validation metric the run selected its honest epoch on (``accuracy`` unless its config says otherwise)."""
        return str(((self.state.config or {}).get("train_config") or {}).get("select_metric", "accuracy"))

    @property
    def device_name(self) -> str:
        """What trained the run, as its ``env.json`` names it (``cpu: AMD EPYC``, ``cuda: NVIDIA H200``); the metrics'
        device alone when ``env.json`` is missing or unreadable."""
        device = str(self.first.get("device", "?"))
        name = self._env.get("device_name")
        return f"{device}: {name}" if name else device

    @property
    def _env(self) -> dict[str, Any]:
        """The run's ``env.json`` (what trained it); empty when missing or unreadable."""
        try:
            env = json.loads((self.state.path / ENV_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return env if isinstance(env, dict) else {}

    @property
    def cpu_capability(self) -> str:
        """The vector instruction set torch used on the CPU that trained the run (``AVX2``, ``AVX512``), as its
        ``env.json`` records it; ``""`` for a GPU run or a run without that record."""
        env = self._env
        return str(env.get("cpu_capability") or "") if env.get("device") == "cpu" else ""

    @property
    def precision(self) -> str:
        """What the run trained in (``float32``, ``bf16 autocast``): the precision ``amp="auto"`` resolved to on its
        machine, as ``metrics.json`` records it (runs of older code: the resolved value their ``config.json`` kept);
        ``""`` when neither records it."""
        amp = self.first.get("precision") or (self.state.config or {}).get("train_config", {}).get("amp")
        return PRECISION_NAMES.get(amp, "") if isinstance(amp, str) else ""

    @property
    def folder(self) -> str:
        """The run folder relative to the results folder: ``runs/<name>`` or ``probes/<name>``."""
        return f"{self.state.path.parent.name}/{self.name}"

    @property
    def metrics_file(self) -> str:
        """``metrics.json`` relative to the results folder (the report's sources name files so)."""
        return f"{self.folder}/metrics.json"

    def record(self, protocol: str) -> tuple[int, dict[str, Any]] | None:
        """``(position in metrics.json, record)`` of ``protocol``, or ``None`` when the run has no such record."""
        for index, record in enumerate(self.state.records):
            if record.get("protocol") == protocol:
                return index, record
        return None

    def value(self, protocol: str, *keys: str) -> Value | None:
        """The number at ``keys`` of the ``protocol`` record (e.g. ``"by_database", "samm", "uf1"``) with its source,
        or ``None`` when the run has no number there."""
        found = self.record(protocol)
        if found is None:
            return None
        index, data = found
        for key in keys:
            data = data.get(key) if isinstance(data, dict) else None
        if not isinstance(data, (int, float)) or isinstance(data, bool):
            return None
        return Value(data, from_file(self.metrics_file, index, *keys))


@dataclass(frozen=True)
class StudyResults:
    """Everything under a results folder that the report reads."""

    results_dir: Path
    states: list[RunState]
    runs: list[Run]
    probe_states: list[RunState]  # every folder under probes/
    probes: list[Run]  # the complete ones
    claims: dict[str, Claim]
    ablations: list[Ablation]
    benches: dict[str, Any]  # file name under bench/ -> parsed JSON
    datasets: dict[str, dict[str, Any]] | None  # name -> 01_datasets entry; None when 01_datasets has not run
    problems: list[str]  # files that could not be read, named


def collect(results_dir: str | os.PathLike[str]) -> StudyResults:
    """Read ``results_dir`` (see the module docstring); from each complete run folder also the claims' ``check_file``
    and ``cross_dataset.json`` and ``tta.json`` when present."""
    results_dir = Path(results_dir)
    claims = load_claims()
    wanted = sorted({CROSS_DATASET_FILE, TTA_FILE, *(c.check_file for c in claims.values() if c.check_file)})
    problems = _Problems(results_dir)
    states, probe_states = scan_runs(results_dir), scan_runs(results_dir, PROBES_DIR)
    runs, probes = _complete_runs(states, wanted, problems), _complete_runs(probe_states, wanted, problems)
    benches = {p.name: data for p in sorted((results_dir / BENCH_DIR).glob("*.json")) if (data := _read_json(p, problems)) is not None}
    inventory = _read_json(results_dir / DATASETS_FILE, problems)
    datasets = {entry["name"]: entry for entry in inventory["datasets"]} if isinstance(inventory, dict) and "datasets" in inventory else None
    return StudyResults(results_dir, states, runs, probe_states, probes, claims, load_ablations(), benches, datasets, problems.lines)


def _complete_runs(states: list[RunState], wanted: list[str], problems: _Problems) -> list[Run]:
    """The complete runs of ``states`` with their histories and the ``wanted`` extra files they hold."""
    runs = []
    for state in states:
        if state.status == "complete":
            history = _read_history(state.path / HISTORY_FILE, problems)
            extras = {name: data for name in wanted if (data := _read_json(state.path / name, problems)) is not None}
            runs.append(Run(state, history, extras))
    return runs


class _Problems:
    """Lines naming the files under ``root`` that could not be read, and why."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lines: list[str] = []

    def add(self, path: Path, why: str) -> None:
        self.lines.append(f"{path.relative_to(self.root).as_posix()}: {why}")


def _read_json(path: Path, problems: _Problems) -> Any | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.add(path, f"{type(error).__name__}: {error}")
        return None


def _read_history(path: Path, problems: _Problems) -> pd.DataFrame | None:
    if not path.exists():
        problems.add(path, "missing")
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as error:
        problems.add(path, f"{type(error).__name__}: {error}")
        return None
