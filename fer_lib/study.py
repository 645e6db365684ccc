"""The study as a list of notebook runs (a papermill sweep): ``python -m fer_lib study --profile cpu``.

Each step is one notebook with one parameter set. Data notebooks write ``results/<notebook>/``; model notebooks
write their run folder ``results/runs/<model>__<dataset>__<profile>__s<seed>/`` (see :mod:`fer_lib.runs`), and the
executed notebook lands beside its results. A step whose run folder already holds ``metrics.json`` is skipped
unless ``force``: re-running the study resumes where it stopped. A cluster can fan the steps out instead (DESIGN §8).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runs import METRICS_FILE, run_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def output_dir(self, results: Path, profile: str) -> Path:
        if "model" not in self.parameters:
            return results / self.notebook
        p = self.parameters
        return results / "runs" / run_name(p["model"], p["dataset"], profile, p.get("seed", 0))


# Paper models on their datasets, then the ablations on FER2013 (what each module adds; issue 3 §5).
STEPS: tuple[Step, ...] = (
    Step("01_datasets"),
    Step("02_preprocessing"),
)


def run_study(root: Path, profile: str, results: Path, force: bool = False, only: str | None = None) -> list[Path]:
    """Execute every step (or those whose notebook name contains ``only``) with papermill; return the output folders."""
    import papermill

    done = []
    for step in STEPS:
        if only and only not in step.notebook:
            continue
        out = step.output_dir(results, profile)
        if "model" in step.parameters and (out / METRICS_FILE).exists() and not force:
            log.info("skip %s: %s exists", out.name, METRICS_FILE)
            continue
        out.mkdir(parents=True, exist_ok=True)
        parameters = {**step.parameters, "output_dir": str(out.resolve())}
        if "model" in step.parameters:
            parameters["profile"] = profile
        log.info("run %s %s", step.notebook, parameters)
        papermill.execute_notebook(root / "notebooks" / f"{step.notebook}.ipynb", out / f"{step.notebook}.ipynb", parameters=parameters, cwd=root / "notebooks")
        done.append(out)
    return done
