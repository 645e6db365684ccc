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


    @property
    def label(self) -> str:
        """``notebook model dataset``, what ``--only`` matches against."""
        return " ".join([self.notebook, *(str(self.parameters[k]) for k in ("model", "dataset") if k in self.parameters)])


# Data notebooks; the two image models on FER2013 (the paper's DCN+CBAM claim is on FER2013), then on CK+ (10-fold);
# then the ablations on FER2013 (what each module adds); then the micro-expression models.
STEPS: tuple[Step, ...] = (
    Step("01_datasets"),
    Step("02_preprocessing"),
    Step("04_dcn_cbam", {"model": "dcn_cbam", "dataset": "fer2013"}),
    Step("03_irnet", {"model": "irnet", "dataset": "fer2013"}),
    Step("04_dcn_cbam", {"model": "dcn_cbam", "dataset": "ckplus"}),
    Step("03_irnet", {"model": "irnet", "dataset": "ckplus"}),
    Step("04_dcn_cbam", {"model": "resnet18_fer", "dataset": "fer2013"}),
    Step("04_dcn_cbam", {"model": "resnet18_dcn", "dataset": "fer2013"}),
    Step("04_dcn_cbam", {"model": "resnet18_cbam", "dataset": "fer2013"}),
    Step("03_irnet", {"model": "resnet50_fer", "dataset": "fer2013"}),
    # Micro-expressions (§4.2), MEGC2019 composite, leave-one-subject-out: the STSTNet baseline, LKCNN, MFEM-BiLSTM, ablations.
    Step("05_lkcnn", {"model": "ststnet", "dataset": "megc2019"}),
    Step("05_lkcnn", {"model": "lkcnn", "dataset": "megc2019"}),
    Step("06_mfem_lstm", {"model": "mfem_lstm", "dataset": "megc2019"}),
    Step("05_lkcnn", {"model": "lkcnn_no_attention", "dataset": "megc2019"}),
    Step("06_mfem_lstm", {"model": "resnet34_lstm", "dataset": "megc2019"}),
)


def run_study(root: Path, profile: str, results: Path, force: bool = False, only: str | None = None) -> list[Path]:
    """Execute every step (or those whose :attr:`Step.label` contains ``only``) with papermill; return the output folders."""
    import papermill

    done = []
    for step in STEPS:
        if only and only not in step.label:
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
