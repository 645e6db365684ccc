"""Run folders: ``results/runs/<model>__<dataset>__<profile>__s<seed>/``, how they are written and when to trust one.

One training run yields both protocols (``honest``: selected on validation; ``test_selected``: best test epoch,
labelled), so one folder holds ``config.json`` (what was asked and resolved: the recipe, its :func:`recipe_hash`, the
code version), ``env.json``, ``history.csv``, ``predictions.csv`` (one row per test sample and protocol), figures, the
executed notebook, and ``metrics.json``: a list with one record per protocol.

Writing (:class:`RunFolder`): a run is written into a staging folder ``<parent>/.partial/<name>/``; ``finish``
validates the records, writes ``metrics.json`` last and moves the staging folder over the final one. An older run in
the final folder stays intact, byte for byte, until its replacement is complete; a run that fails never touches it.
Every file is written to a temporary name and renamed.

Trust (:func:`inspect_run`): a folder is ``complete`` when its ``metrics.json`` parses and its recipe is the one the
current code resolves for the same (profile, model, dataset, seed, explicit overrides); ``stale`` when the recipe
differs, or when a fine-tuned run's source model file (a sibling run folder's ``model.pt``; for a model too large to
commit, its local file, else its honest record) is no longer the one it started from; ``failed`` when a study step
recorded :data:`FAILURE_FILE` after the last ``metrics.json``; ``incomplete``
otherwise (unfinished, interrupted, or a half-written ``metrics.json``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch
from matplotlib.figure import Figure

from .atomic_write import write_atomic
from .engine.config import ADDED_FIELD_DEFAULTS, NON_SEMANTIC_FIELDS, TrainConfig, setting
from .engine.distributed import launch_rank
from .profiles import resolve_recipe

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.pt"  # a run's exported model (fer_lib.model_file)
# A model over the commit limit is still written, beside the run's checkpoints (not committed, .gitignore): usable on the
# machine that trained it, e.g. as the source of a fine-tuning run in the same study.
LOCAL_MODEL_FILE = f"checkpoints/{MODEL_FILE}"


def run_model_file(run_dir: Path) -> Path | None:
    """The model file of the run folder ``run_dir``: its committed :data:`MODEL_FILE`, else its local
    :data:`LOCAL_MODEL_FILE` where this machine has one, else ``None``."""
    return next((path for path in (run_dir / MODEL_FILE, run_dir / LOCAL_MODEL_FILE) if path.is_file()), None)


def model_file_sha256(path: Path) -> str:
    """The SHA-256 (hex) of the model file ``path``: what a fine-tuned run records of its source and a video summary of
    its model, so that a changed file is seen."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Written by the study when a step raises: {"error": "<ExceptionType: message>", "notebook": "<the partial executed
# notebook, relative to the run folder>", "step": "<the step's label>"}. A later successful run removes it.
FAILURE_FILE = "failure.json"
RUNS_DIR = "runs"  # <results>/runs/<name>/: the study's runs
# <results>/probes/<name>/: recipe probes, runs trained by hand with settings the recipe does not hold
# (``python -m fer_lib train --output results/probes/<name> --set ...``); the report sets each beside the study's run
# it would replace and takes no other number from them.
PROBES_DIR = "probes"
STAGING_DIR = ".partial"  # <parent>/.partial/<name>/: a run being written
REPLACED_DIR = ".replaced"  # <parent>/.replaced/<name>/: the older run, for the instant between the two renames
REQUIRED_KEYS = (
    "model", "dataset", "protocol", "profile", "seed", "split", "n", "accuracy", "macro_f1", "uar",
    "epochs", "train_wall_s", "train_images_per_s", "params", "device", "git_sha",
)  # fmt: skip
# The seed names the run; amp "auto" resolves per machine (bf16 or fp32): a machine fact, recorded, not a recipe setting.
MACHINE_FIELDS = frozenset({"seed", "amp"})

RunStatus = Literal["complete", "stale", "failed", "incomplete"]


@dataclass(frozen=True)
class RunState:
    """What :func:`inspect_run` found in a run folder.

    ``detail``: for ``failed`` the error line, for ``stale`` why (e.g. ``"recipe differs: epochs 12 -> 30"``), for
    ``incomplete`` what is missing, for ``complete`` ``""``. ``records`` (``metrics.json``) only for complete and stale runs.
    """

    path: Path
    name: str
    status: RunStatus
    detail: str
    config: dict | None
    records: list[dict] | None


def run_name(model: str, dataset: str, profile: str, seed: int, init_from: str | None = None) -> str:
    """``<model>__<dataset>__<profile>__s<seed>``; a run fine-tuned from our run on another dataset (``init_from``, a
    dataset name: :mod:`fer_lib.fine_tune`) adds ``__from-<dataset>``, one started from a model file ``__from-file``."""
    name = f"{model}__{dataset}__{profile}__s{seed}"
    if init_from is None:
        return name
    return f"{name}__from-{init_from if init_from.isidentifier() else 'file'}"


def recipe_hash(recipe: dict) -> str:
    """The first 16 hex digits of the SHA-256 of ``recipe`` as canonical JSON (sorted keys, tuples as lists)."""
    canonical = json.dumps(recipe, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def full_recipe(recipe: dict[str, Any], train_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every setting a run's numbers depend on: ``recipe`` over the :class:`TrainConfig` settings it leaves out.

    Those come from ``train_config`` (a run's recorded ``TrainConfig.to_dict()``) when given, else from the current
    defaults, so a changed default makes a recorded run stale. Speed and display settings are left out
    (:data:`~fer_lib.engine.config.NON_SEMANTIC_FIELDS`), and so are the seed and the resolved precision
    (:data:`MACHINE_FIELDS`): ``amp`` counts only as the recipe asks for it ("auto" unless set). A setting added after
    runs were recorded counts only away from the value that does what the code did before it
    (:data:`~fer_lib.engine.config.ADDED_FIELD_DEFAULTS`).
    """
    defaults = TrainConfig().to_dict()
    recorded = {k: v for k, v in (train_config or {}).items() if k in defaults and k != "amp"}
    merged = defaults | recorded | recipe
    skipped = NON_SEMANTIC_FIELDS | (MACHINE_FIELDS - {"amp"})
    added = {k for k, v in ADDED_FIELD_DEFAULTS.items() if k in merged and merged[k] == v}
    return json.loads(json.dumps({k: v for k, v in sorted(merged.items()) if k not in skipped | added}, default=str))


def current_recipe(profile: str, model: str, dataset: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The :func:`full_recipe` the current code resolves for a run (raises ``ValueError`` for an unknown profile)."""
    return full_recipe(resolve_recipe(profile, model, dataset, overrides))


def recorded_recipe(config: dict[str, Any]) -> dict[str, Any]:
    """The :func:`full_recipe` a run's ``config.json`` records (runs written before ``recipe_hash`` included)."""
    return full_recipe(config.get("recipe", {}), config.get("train_config"))


def recipe_differences(recorded: dict[str, Any], current: dict[str, Any]) -> str:
    """``"epochs 12 -> 30, lr 0.05 -> 0.02"``: the settings that differ, recorded value first; ``""`` when none do. Each
    is read with :func:`~fer_lib.engine.config.setting`: an added setting a recipe leaves out shows its default."""
    keys = sorted(set(recorded) | set(current))
    return ", ".join(f"{k} {_show(setting(recorded, k))} -> {_show(setting(current, k))}" for k in keys if setting(recorded, k) != setting(current, k))


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def inspect_run(path: str | os.PathLike[str]) -> RunState:
    """The status of the run folder ``path`` (see the module docstring); never raises for what the folder holds."""
    path = Path(path)

    def state(status: RunStatus, detail: str, config: dict | None = None, records: list[dict] | None = None) -> RunState:
        return RunState(path, path.name, status, detail, config, records)

    config, config_problem = _read_json(path / CONFIG_FILE)
    config = config if isinstance(config, dict) else None
    metrics_path, failure_path = path / METRICS_FILE, path / FAILURE_FILE
    if failure_path.exists() and not (metrics_path.exists() and metrics_path.stat().st_mtime_ns > failure_path.stat().st_mtime_ns):
        failure, problem = _read_json(failure_path)
        error = failure.get("error") if isinstance(failure, dict) else None
        return state("failed", str(error) if error else f"{FAILURE_FILE} does not say which error ({problem or 'no error field'})", config)
    if not metrics_path.exists():
        if config is None:
            return state("incomplete", f"no {METRICS_FILE} and no {CONFIG_FILE}: the run never started here")
        return state("incomplete", f"no {METRICS_FILE}: the run did not finish", config)
    records, problem = _read_json(metrics_path)
    if problem:
        return state("incomplete", f"{METRICS_FILE} does not parse (half-written?): {problem}", config)
    problem = _records_problem(records)
    if problem:
        return state("incomplete", f"{METRICS_FILE} {problem}", config)
    if config is None:
        return state("incomplete", f"{CONFIG_FILE} {config_problem or 'is not a JSON object'}: the recipe cannot be checked", None, None)
    try:
        current = current_recipe(config["profile"], config["model"], config["dataset"], config.get("overrides"))
    except (KeyError, ValueError) as error:
        return state("stale", f"the current code resolves no recipe for it ({type(error).__name__}: {error})", config, records)
    recorded = recorded_recipe(config)
    if config.get("recipe_hash", recipe_hash(recorded)) != recipe_hash(current):
        return state("stale", f"recipe differs: {recipe_differences(recorded, current) or 'recipe_hash ' + config['recipe_hash']}", config, records)
    changed = _changed_source(path, config)
    if changed:
        return state("stale", changed, config, records)
    return state("complete", "", config, records)


def _changed_source(path: Path, config: dict[str, Any]) -> str:
    """Why a fine-tuned run no longer matches its source (``config["init_from"]``): the source run beside it holds
    another model file than the one it started from, or, where that run has no model file here (too large to commit),
    its honest record names another epoch or accuracy than the weights it started from; ``""`` when it matches or the
    source run is not here to check."""
    start = config.get("init_from")
    if not isinstance(start, dict) or not start.get("run"):
        return ""
    source_run = path.parent / str(start["run"])
    if (source := run_model_file(source_run)) is not None:
        digest = model_file_sha256(source)
        if digest == start.get("sha256"):
            return ""
        shown = source.relative_to(path.parent)
        return f"its source model {shown} changed since it was fine-tuned from it (sha256 {str(start.get('sha256'))[:12]}… -> {digest[:12]}…)"
    try:
        honest = next(r for r in json.loads((source_run / METRICS_FILE).read_text()) if r.get("protocol") == "honest")
    except (OSError, ValueError, StopIteration, AttributeError, TypeError):
        return ""
    recorded, now = (start.get("epoch"), start.get("test_accuracy")), (honest.get("selected_epoch"), honest.get("accuracy"))
    if recorded == now:
        return ""
    return f"its source run {start['run']} was re-made since it was fine-tuned from it (honest epoch, test accuracy {recorded} -> {now})"


def scan_runs(results: str | os.PathLike[str], folder: str = RUNS_DIR) -> list[RunState]:
    """:func:`inspect_run` of every folder under ``<results>/<folder>/`` (default the study's ``runs/``; or
    :data:`PROBES_DIR`), sorted by name (staging folders are not runs)."""
    runs = Path(results) / folder
    if not runs.is_dir():
        return []
    return [inspect_run(p) for p in sorted(runs.iterdir(), key=lambda p: p.name) if p.is_dir() and not p.name.startswith(".")]


def _read_json(path: Path) -> tuple[Any, str]:
    """``(data, "")``, or ``(None, why)`` when the file is missing or does not parse."""
    try:
        return json.loads(path.read_text()), ""
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{type(error).__name__}: {error}"


def _records_problem(records: Any) -> str:
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        return "is not a non-empty list of records"
    for record in records:
        missing = [k for k in REQUIRED_KEYS if k not in record]
        if missing:
            return f"record of protocol {record.get('protocol')!r} lacks {missing}"
    return ""


def git_sha(cwd: Path | None = None) -> str:
    """HEAD's commit, suffixed ``-dirty`` when tracked files outside ``results/`` differ from it; ``unknown`` outside a
    git checkout. The committed run folders under ``results/`` are outputs, not code: a study that re-makes one run
    after another rewrites them, and that must not mark the later runs' code as modified."""
    code = [":(top)", ":(top,exclude)results"]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *code], cwd=cwd, capture_output=True, text=True, check=True).stdout
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
        "world_size": launch_rank()[1],  # processes training the run together (torchrun), each on its own device
    }


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """``data`` as indented JSON with a final newline, atomically; the same data always gives the same bytes."""
    write_atomic(path, lambda p: p.write_text(json.dumps(data, indent=2, default=str) + "\n"))


def save_figure(path: str | os.PathLike[str], figure: Figure) -> None:
    """``figure`` as a PNG at 120 dpi, atomically, without the Software tag: the same figure always gives the same bytes."""
    write_atomic(path, lambda p: figure.savefig(p, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None}))


def write_failure(folder: str | os.PathLike[str], error: str, notebook: str, step: str) -> Path:
    """Record a failed step in ``folder``/:data:`FAILURE_FILE` (see its comment); return the file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / FAILURE_FILE, {"error": error, "notebook": notebook, "step": step})
    return folder / FAILURE_FILE


class RunFolder:
    """Writes one run's files into :attr:`path` and, at :meth:`finish`, moves them to :attr:`final`.

    ``path`` is the staging folder ``<final's parent>/.partial/<name>/`` (same name, so files that name their run read
    right) unless ``staged=False``, for a folder of its own (a new temporary one): then ``path`` is ``final``.

    Under ``torchrun`` every rank runs the same experiment (training needs them all), but only rank 0 :attr:`writes`:
    on the other ranks writing and :meth:`finish` create, change and move nothing.
    """

    def __init__(self, final: str | os.PathLike[str], staged: bool = True) -> None:
        self.final = Path(final)
        self.path = staging_path(self.final) if staged else self.final
        self.finished = False
        self.writes = launch_rank()[0] == 0

    def write_json(self, name: str, data: Any) -> None:
        if self._writing(name):
            write_json(self.path / name, data)

    def write_csv(self, name: str, frame: pd.DataFrame) -> None:
        if self._writing(name):
            write_atomic(self.path / name, lambda p: frame.to_csv(p, index=False))

    def save_figure(self, name: str, figure: Figure) -> None:
        """``figures/<name>.png``."""
        if self._writing(f"figures/{name}.png"):
            save_figure(self.path / "figures" / f"{name}.png", figure)

    def _writing(self, name: str) -> bool:
        """Whether this process writes ``name`` (its folder is then created); writing after :meth:`finish` is an error on every rank."""
        if self.finished:
            raise RuntimeError(f"{self.final} is finished ({METRICS_FILE} written): write {name} before finish()")
        if self.writes:
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
        return self.writes

    def finish(self, records: list[dict[str, Any]]) -> Path:
        """Validate the records, write ``metrics.json`` last and move the run into :attr:`final`; return it."""
        problem = _records_problem(records)
        if problem:
            raise ValueError(f"metrics for {self.final.name}: {problem}")
        self.write_json(METRICS_FILE, records)
        if self.writes and self.path != self.final:
            replace_folder(self.path, self.final)
        self.finished = True
        return self.final


def staging_path(final: Path) -> Path:
    return final.parent / STAGING_DIR / final.name


def replace_folder(source: Path, target: Path) -> None:
    """Move the folder ``source`` to ``target``, replacing what ``target`` held, with two renames on one file system
    (POSIX has no atomic swap of two folders): a crash between them leaves the older folder under ``.replaced/``."""
    old = target.parent / REPLACED_DIR / target.name
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        old.parent.mkdir(parents=True, exist_ok=True)
        os.replace(target, old)
    os.replace(source, target)
    shutil.rmtree(old, ignore_errors=True)
    for empty in (old.parent, source.parent):
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()

