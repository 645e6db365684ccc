"""The study as a list of notebook executions (a papermill sweep): ``python -m fer_lib study --profile cpu``.

:data:`STEPS` is the manifest: each step is one notebook with its parameters, and says which seeds it trains in which
profile; a :class:`Job` is one execution (a step with one seed). Data notebooks write ``results/<notebook>/``, model
notebooks their run folder ``results/runs/<model>__<dataset>__<profile>__s<seed>/`` (:mod:`fer_lib.runs`), and the
report, last, writes ``results/``; each executed notebook lands beside what it wrote, with papermill's timings
stripped so that an unchanged re-run rewrites identical bytes.

A run folder that :func:`~fer_lib.runs.inspect_run` finds complete is skipped unless ``force``; a stale, failed or
incomplete one is run again (replaced only once the new run finishes). A job that raises keeps its partial executed
notebook (``<notebook>.failed.ipynb``) and records :data:`~fer_lib.runs.FAILURE_FILE` in its folder; the study goes on
with the next job and reports every failure at the end. Each job can also run alone (``--list``, ``--step K``), so a
cluster's job array can fan the study out.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

import nbformat

from .errors import ConfigError
from .paths import DATA_ENV, data_root
from .runs import FAILURE_FILE, RUNS_DIR, current_recipe, inspect_run, run_name, write_atomic, write_failure

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPOSITORY / "notebooks"
StepKind = Literal["data", "run", "report"]
# The micro-expression models' LOSO results vary with the seed more than the image models' (442 samples, 68 folds), so
# the cpu profile trains three seeds of each (the ablation pairs need a seed spread to be read at all).
MICRO_EXPRESSION_SEEDS = {"cpu": (0, 1, 2)}
# On FER2013 the study ranks modules (the ablations) by differences of a point or two, so every model of an ablation pair
# (DCN+CBAM, IRNet, the plain ResNet18 and the one-module ResNet18s, ResNet50) trains two seeds: the spread says whether
# a difference is more than seed noise.
FER2013_SEEDS = {"cpu": (0, 1)}
# The image models fine-tuned on CK+ train two seeds too, each from the FER2013 run of its own seed, so that the CK+
# ablations (and fine-tuned against from scratch) have a seed spread. The ResNet50 family's FER2013 models are too large
# to commit, so their fine-tuned runs start from the local model file that the FER2013 run of the same seed wrote on the
# same machine: re-making one means re-training its FER2013 source first, in the same session.
CKPLUS_FINE_TUNED_SEEDS = {"cpu": (0, 1)}
# Every image model from scratch on CK+ trains two seeds as well, so the from-scratch ablations (the ResNet18 family's
# modules, IRNet's cross-attention against ResNet50) get a seed spread: 38–60 minutes per run here, 81–92 for IRNet.
CKPLUS_SCRATCH_SEEDS = {"cpu": (0, 1)}


@dataclass(frozen=True)
class Step:
    """One notebook with its parameters; ``seeds`` per profile (a profile not listed trains seed 0)."""

    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    kind: StepKind = "data"
    seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``notebook model dataset`` (data and report steps: the notebook; a fine-tuned run adds ``from <dataset>``),
        what ``--only`` matches."""
        start = ["from", str(self.parameters["init_from"])] if self.parameters.get("init_from") else []
        return " ".join([self.notebook, *(str(self.parameters[k]) for k in ("model", "dataset") if k in self.parameters), *start])

    def seeds_for(self, profile: str) -> tuple[int, ...]:
        return self.seeds.get(profile, (0,)) if self.kind == "run" else (0,)


def run_step(notebook: str, model: str, dataset: str, seeds: dict[str, tuple[int, ...]] | None = None, init_from: str | None = None) -> Step:
    """A step that trains ``model`` on ``dataset`` (fine-tuned from its run on the dataset ``init_from``, when given)."""
    start = {"init_from": init_from} if init_from else {}
    return Step(notebook, {"model": model, "dataset": dataset, **start}, "run", seeds or {})


# The image ablations (claims.yaml), each with the notebook of the architecture it ablates.
ABLATION_MODELS = (("04_dcn_cbam", "resnet18_fer"), ("04_dcn_cbam", "resnet18_dcn"), ("04_dcn_cbam", "resnet18_cbam"), ("03_irnet", "resnet50_fer"))

# Data notebooks; the two image models on FER2013 (the paper's DCN+CBAM claim is on FER2013), then on CK+ (10-fold);
# then the ablations on FER2013 (what each module adds) and on CK+; then the micro-expression models; then the whole video clip
# through the best FER2013 model; then the report.
STEPS: tuple[Step, ...] = (
    Step("01_datasets"),
    Step("02_preprocessing"),
    run_step("04_dcn_cbam", "dcn_cbam", "fer2013", FER2013_SEEDS),
    run_step("03_irnet", "irnet", "fer2013", FER2013_SEEDS),
    run_step("04_dcn_cbam", "dcn_cbam", "ckplus", CKPLUS_SCRATCH_SEEDS),
    run_step("03_irnet", "irnet", "ckplus", CKPLUS_SCRATCH_SEEDS),
    # CK+ from our own FER2013 weights (still no external pretraining), after their source runs. IRNet's ResNet50 weights
    # are over the 25 MB commit limit: its source is the local model file its FER2013 run wrote on the same machine.
    run_step("04_dcn_cbam", "dcn_cbam", "ckplus", CKPLUS_FINE_TUNED_SEEDS, init_from="fer2013"),
    run_step("03_irnet", "irnet", "ckplus", CKPLUS_FINE_TUNED_SEEDS, init_from="fer2013"),
    *(run_step(notebook, model, "fer2013", FER2013_SEEDS) for notebook, model in ABLATION_MODELS),
    # The same ablations on CK+, fine-tuned from each model's FER2013 run and from scratch, each at its family's recipe.
    *(run_step(notebook, model, "ckplus", CKPLUS_FINE_TUNED_SEEDS, init_from="fer2013") for notebook, model in ABLATION_MODELS),
    *(run_step(notebook, model, "ckplus", CKPLUS_SCRATCH_SEEDS) for notebook, model in ABLATION_MODELS),
    # Micro-expressions (§4.2), MEGC2019 composite, leave-one-subject-out: the STSTNet baseline, LKCNN, MFEM-BiLSTM, ablations.
    run_step("05_lkcnn", "ststnet", "megc2019", MICRO_EXPRESSION_SEEDS),
    run_step("05_lkcnn", "lkcnn", "megc2019", MICRO_EXPRESSION_SEEDS),
    run_step("06_mfem_lstm", "mfem_lstm", "megc2019", MICRO_EXPRESSION_SEEDS),
    run_step("05_lkcnn", "lkcnn_no_attention", "megc2019", MICRO_EXPRESSION_SEEDS),
    run_step("06_mfem_lstm", "resnet34_lstm", "megc2019", MICRO_EXPRESSION_SEEDS),
    Step("07_video", {"max_seconds": None}),
    Step("08_report", kind="report"),
)


@dataclass(frozen=True)
class Job:
    """One notebook execution of the study: ``step`` with ``seed`` in ``profile``, the ``index``-th (1-based) of the study."""

    step: Step
    profile: str
    seed: int = 0
    index: int = 1

    @property
    def label(self) -> str:
        return self.step.label

    def output_dir(self, results: Path) -> Path:
        """Where the job writes: its run folder, ``results/<notebook>/`` for a data notebook, ``results/`` for the report."""
        if self.step.kind == "run":
            p = self.step.parameters
            return results / RUNS_DIR / run_name(p["model"], p["dataset"], self.profile, self.seed, p.get("init_from"))
        return results if self.step.kind == "report" else results / self.step.notebook

    def parameters(self, results: Path, force: bool, notebooks: Path = NOTEBOOKS) -> dict[str, Any]:
        """Papermill parameters. Paths are relative to ``notebooks`` (the kernel's working directory), so executed
        notebooks record no machine's absolute path."""
        out = os.path.relpath(self.output_dir(results), notebooks)
        if self.step.kind == "report":
            return {"results_dir": os.path.relpath(results, notebooks), "out_dir": out}
        if self.step.kind == "data":
            return {**self.step.parameters, "output_dir": out}
        return {**self.step.parameters, "profile": self.profile, "seed": self.seed, "output_dir": out} | ({"force": True} if force else {})


def study_jobs(profile: str, steps: tuple[Step, ...] | None = None) -> list[Job]:
    """Every job of ``steps`` (default :data:`STEPS`) in ``profile``, in manifest order (a step's seeds in order)."""
    pairs = [(step, seed) for step in steps or STEPS for seed in step.seeds_for(profile)]
    return [Job(step, profile, seed, index) for index, (step, seed) in enumerate(pairs, 1)]


def select_jobs(jobs: list[Job], only: str | None = None, step: int | None = None) -> list[Job]:
    """``jobs`` filtered: ``only`` must equal a job's notebook, model, dataset, "model dataset" or whole label; ``step`` is a 1-based
    index into ``jobs`` (as ``--list`` prints it). No match is a :class:`ConfigError` listing what would match."""
    if step is not None:
        if not 1 <= step <= len(jobs):
            raise ConfigError(f"--step {step} is out of range: the study has steps 1 to {len(jobs)} (see --list)")
        jobs = [jobs[step - 1]]
    if only is None:
        return jobs
    chosen = [job for job in jobs if only in _names(job)]
    if not chosen:
        labels = sorted({name for job in jobs for name in _names(job)})
        raise ConfigError(f"--only {only!r} matches no step; use one of: {', '.join(labels)}")
    return chosen


def _names(job: Job) -> set[str]:
    """What ``--only`` accepts for ``job``: its notebook, model, dataset, "model dataset" and whole label."""
    p = job.step.parameters
    run = {p["model"], p["dataset"], f"{p['model']} {p['dataset']}"} if job.step.kind == "run" else set()
    return {job.step.notebook, job.label, *run}


@dataclass
class StudyOutcome:
    """What :func:`run_study` did: output folders run, skipped as complete, and failures as ``(label, folder, error)``."""

    ran: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[str, Path, str]] = field(default_factory=list)


def run_study(
    results: str | os.PathLike[str],
    profile: str,
    force: bool = False,
    only: str | None = None,
    step: int | None = None,
    steps: tuple[Step, ...] | None = None,
    notebooks: Path | None = None,
) -> StudyOutcome:
    """Execute the selected jobs of ``steps`` (default :data:`STEPS`) from ``notebooks`` (default: the repository's)
    into ``results``; see the module docstring.

    Everything that can be checked first is (data root, selection, notebooks and their declared parameters): a
    :class:`ConfigError` then, before any notebook runs. Failures of jobs are returned, not raised.
    """
    results, notebooks = Path(results).resolve(), notebooks or NOTEBOOKS
    # Kernels run in the notebooks' folder and read the data root from the environment: given relative to that folder,
    # the paths that executed notebooks print (a loader's warning, say) are not this machine's absolute paths.
    kernel_env = {DATA_ENV: _relative_if_possible(data_root().resolve(), notebooks)}
    jobs = select_jobs(study_jobs(profile, steps or STEPS), only, step)
    declared: dict[str, set[str]] = {}
    for job in jobs:
        _check_notebook(notebooks / f"{job.step.notebook}.ipynb", job.parameters(results, force, notebooks), declared)
    outcome = StudyOutcome()
    for job in jobs:
        out = job.output_dir(results)
        if job.step.kind == "run" and not force:
            state = inspect_run(out)
            if state.status == "complete":
                overrides = recipe_deviations(state.config or {}, job.step.parameters)
                if overrides:  # trained by hand with other settings: complete, but not the study's recipe
                    log.warning("skip %s: complete, but trained with overrides %s (--force retrains it with the study's recipe)", out.name, overrides)
                else:
                    log.info("skip %s: complete", out.name)
                outcome.skipped.append(out)
                continue
            if out.exists():
                log.info("run %s again: %s (%s)", out.name, state.status, state.detail)
        error = execute_job(job, results, force, notebooks, kernel_env)
        if error:
            log.error("%s failed: %s", job.label, error)
            outcome.failed.append((job.label, out, error))
        else:
            outcome.ran.append(out)
    return outcome


def recipe_deviations(config: dict[str, Any], step_parameters: dict[str, Any]) -> dict[str, Any]:
    """The overrides a run's ``config.json`` records that make it another recipe than the study's: those the step does
    not set itself and the current recipe does not already hold (a run probed by hand with settings the recipe has since
    adopted is the study's run)."""
    recorded = config.get("overrides") or {}
    own = {k: v for k, v in recorded.items() if step_parameters.get(k) == v}
    recipe = current_recipe(config["profile"], config["model"], config["dataset"], own)
    return {k: v for k, v in recorded.items() if k not in own and recipe.get(k) != v}


def _relative_if_possible(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start)
    except ValueError:  # another drive (Windows)
        return str(path)


def _check_notebook(path: Path, parameters: dict[str, Any], declared: dict[str, set[str]]) -> None:
    """A :class:`ConfigError` unless ``path`` exists and declares every one of ``parameters`` (``declared``: a cache)."""
    import papermill

    if not path.is_file():
        raise ConfigError(f"Notebook {path} does not exist: the study's manifest (fer_lib/study.py STEPS) names it")
    if str(path) not in declared:
        declared[str(path)] = set(papermill.inspect_notebook(str(path)))
    unknown = sorted(set(parameters) - declared[str(path)])
    if unknown:
        raise ConfigError(f"{path.name} does not declare the parameters {unknown} the study passes it; it declares {sorted(declared[str(path)])}")


def execute_job(job: Job, results: Path, force: bool, notebooks: Path = NOTEBOOKS, kernel_env: dict[str, str] | None = None) -> str:
    """Execute one job with papermill, its kernel started with ``kernel_env`` added to this process's environment;
    return ``""`` on success, else the error line (also in ``failure.json``).

    The executed notebook is written as ``.<notebook>.partial.ipynb`` while it runs (a run's ``finish`` moves the run
    folder, and papermill's next save lands in the new one), then saved as ``<notebook>.ipynb`` (success) or
    ``<notebook>.failed.ipynb``, timings stripped. Success removes an older failure record.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = job.output_dir(results)
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f".{job.step.notebook}.partial.ipynb"
    source = notebooks / f"{job.step.notebook}.ipynb"
    parameters = job.parameters(results, force, notebooks)
    log.info("run %s %s", job.step.notebook, parameters)
    error = ""
    try:
        with _environment(kernel_env or {}):
            papermill.execute_notebook(source, partial, parameters=parameters, cwd=notebooks, progress_bar=False)
    except PapermillExecutionError as failure:
        error = _one_line(f"{failure.ename}: {failure.evalue}")
    except Exception as failure:  # a kernel that died, a notebook that does not parse: the study goes on regardless
        error = _one_line(f"{type(failure).__name__}: {failure}")
    if not error and job.step.kind == "run":
        state = inspect_run(out)
        if state.status != "complete":
            error = f"RunNotFinished: the notebook ran to its end but {out.name} is {state.status} ({state.detail}); does its last cell call result.finish()?"
    name = f"{job.step.notebook}.failed.ipynb" if error else f"{job.step.notebook}.ipynb"
    if partial.exists():
        save_executed_notebook(partial, out / name, source)
        partial.unlink()
    if error:
        write_failure(out, error, name if (out / name).exists() else "", job.label)
    else:
        for stale in (out / FAILURE_FILE, out / f"{job.step.notebook}.failed.ipynb"):
            stale.unlink(missing_ok=True)
    return error


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the duration (a kernel inherits the environment it starts in), then restored."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return " ".join(lines)[:500] if lines else "unknown error"


# papermill and nbclient record when each cell ran and for how long: a re-run of an unchanged notebook would differ.
TIMING_KEYS = ("start_time", "end_time", "duration")
# tqdm's progress bars in a kernel with ipywidgets: one widget per bar, with a random model id and its state in the
# notebook's metadata (megabytes for a 68-fold LOSO run). They are live feedback, not results: the saved copy drops them.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def save_executed_notebook(executed: Path, target: Path, source: Path) -> None:
    """Write papermill's ``executed`` notebook to ``target`` atomically, without timings or progress-bar widgets, with a
    fixed id for the parameters cell papermill adds and with notebook paths relative to the repository: the same
    outputs give the same bytes on any machine."""
    notebook = nbformat.read(executed, as_version=4)
    notebook.metadata.pop("widgets", None)
    record = notebook.metadata.get("papermill", {})
    for key in TIMING_KEYS:
        record.pop(key, None)
    record["input_path"] = _relative(source)
    record["output_path"] = _relative(target)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill draws a random id for the cell it adds
        for key in TIMING_KEYS:
            cell.metadata.get("papermill", {}).pop(key, None)
    write_atomic(target, lambda p: nbformat.write(notebook, p))


def _relative(path: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), REPOSITORY)).as_posix()


def format_jobs(jobs: list[Job], results: str | os.PathLike[str]) -> str:
    """``--list``: one line per job, its index (what ``--step`` takes), label and output folder."""
    width = max(len(job.label) for job in jobs)
    return "\n".join(f"{job.index:>3}  {job.label:<{width}}  {job.output_dir(Path(results))}" for job in jobs)
