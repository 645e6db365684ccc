"""What every section of the report works from: the collected results, the provenance of printed numbers, where the
report is written (links are relative to it), and each run's convergence and training cost, computed once."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..models import model_input_kind
from .collect import Run, StudyResults
from ..convergence import convergence
from .flops import run_input_shape, train_flops_per_sample
from .markdown import link
from .provenance import Provenance, Value, computed
from .seeds import SeedGroup, group_by_seed

PROTOCOLS = ("honest", "test_selected")
PROTOCOL_TITLES = {"honest": "honest", "test_selected": "test-selected"}
TRAINED_FROM_SCRATCH = "none: trained from scratch"


@dataclass(frozen=True)
class Cost:
    """A run's training FLOPs per sample, counted on its input shape; ``why_not`` says why it was not counted."""

    input_shape: tuple[int, ...] | None = None
    flops: float | None = None
    why_not: str = ""


@dataclass
class Context:
    """The shared state of one report build (see the module docstring)."""

    study: StudyResults
    out_dir: Path
    data_root: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        self.prov = Provenance()
        self.groups: list[SeedGroup] = group_by_seed(self.study.runs)
        self.convergence: dict[str, dict[str, Any] | str] = {run.name: _assess(run) for run in self.study.runs}
        self.costs: dict[str, Cost] = {}
        self._shapes: dict[str, tuple[int, ...] | str] = {}  # by dataset and loading settings: seeds and models share them
        self._flops: dict[str, float] = {}  # by model, classes, shape and settings: seeds share them

    def relative(self, path: Path) -> str:
        """``path`` relative to the report's folder, ``/``-separated (as Markdown links want it)."""
        return Path(os.path.relpath(path, self.out_dir)).as_posix()

    def link(self, text: str, path: Path) -> str:
        """A link to ``path`` relative to the report's folder."""
        return link(text, self.relative(path))

    def results_link(self, text: str, relative: str) -> str:
        """A link to ``relative`` (a path under the results folder)."""
        return self.link(text, self.study.results_dir / relative)

    def metric(self, run: Run, protocol: str, *keys: str, scale: float = 100, decimals: int | None = 2) -> str:
        """The number at ``keys`` of ``run``'s ``protocol`` record formatted (a fraction as percent by default) and
        recorded, or ``"—"`` when absent."""
        value = run.value(protocol, *keys)
        return "—" if value is None else self.prov.number(value, scale=scale, decimals=decimals)

    def group(self, model: str, dataset: str | None = None) -> list[SeedGroup]:
        """The seed groups of ``model`` (on ``dataset`` when given)."""
        return [g for g in self.groups if g.model == model and dataset in (None, g.dataset)]

    def convergence_word(self, runs: tuple[Run, ...] | list[Run]) -> str:
        """Whether ``runs`` converged, with the curve judged: ``"no (validation)"`` for one run, ``"yes, all seeds
        (training loss)"`` or ``"no, some seeds (validation)"`` for several; ``"unknown"`` when one cannot be assessed."""
        verdicts = [c["converged"] if isinstance(c := self.convergence[run.name], dict) else None for run in runs]
        basis = {c["basis"] for run in runs if isinstance(c := self.convergence[run.name], dict)}
        on = f" ({', '.join(sorted(basis))})" if basis else ""
        if any(v is None for v in verdicts):
            return "unknown (see Convergence)"
        if len(verdicts) == 1:
            return ("yes" if verdicts[0] else "no") + on
        if all(verdicts):
            return f"yes, all seeds{on}"
        return f"no, {'all' if not any(verdicts) else 'some'} seeds{on}"

    def cost(self, run: Run) -> Cost:
        """The run's :class:`Cost`, computed on first use (the input shape is read from the data)."""
        if run.name not in self.costs:
            self.costs[run.name] = self._count(run)
        return self.costs[run.name]

    def flops(self, run: Run) -> Value:
        """The run's training FLOPs per sample (see :meth:`cost`) with its source."""
        return Value(self.cost(run).flops, computed("train_flops", run=run.name))

    def _count(self, run: Run) -> Cost:
        recipe = run.recipe
        key = json.dumps([run.dataset, recipe.get("img_size"), recipe.get("modality")])
        if key not in self._shapes:
            try:
                self._shapes[key] = run_input_shape(run.dataset, recipe, self.data_root)
            except (ConfigError, FileNotFoundError, KeyError, ValueError) as error:  # no data root or dataset, unknown name
                self._shapes[key] = f"input shape unknown: {error}"
        shape = self._shapes[key]
        if isinstance(shape, str):
            return Cost(why_not=shape)
        classes = len(run.first["confusion_matrix"])
        model = json.dumps([run.model, classes, shape, recipe.get("model_kwargs")], sort_keys=True)
        if model not in self._flops:
            self._flops[model] = train_flops_per_sample(run.model, classes, shape, recipe.get("model_kwargs"))
        return Cost(shape, self._flops[model])

    def input_kind(self, model: str) -> str:
        try:
            return model_input_kind(model)
        except KeyError:
            return "unknown"


def _assess(run: Run) -> dict[str, Any] | str:
    """The convergence of ``run`` (see :mod:`fer_lib.report.convergence`), or why it cannot be assessed."""
    if run.history is None:
        return "history.csv is missing or unreadable"
    select = run.select_metric
    try:
        return convergence(run.history, "val_acc" if select == "accuracy" else f"val_{select}")
    except ValueError as error:
        return f"history.csv: {error}"
