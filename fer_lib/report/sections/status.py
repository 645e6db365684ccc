"""Run status (every run folder, whatever state it is in) and the links to each run's files, figures and notebook."""

from __future__ import annotations

from ...runs import FAILURE_FILE
from ...study import study_jobs
from ..context import Context
from ..markdown import bullets, code, table

FILES = ("config.json", "metrics.json", "history.csv", "predictions.csv", "MODEL_CARD.md")


def run_status(ctx: Context) -> str:
    rows = [[code(s.name), s.status, code(s.detail) if s.detail else ""] for s in ctx.study.states]
    text = (
        "## Run status\n\n"
        "Every folder under `runs/`. Only **complete** runs (metrics written, recipe still the one the code resolves) "
        "feed the numbers above; **stale** runs were trained with a recipe the code no longer resolves and are not "
        "shown as current; **failed** and **incomplete** runs are listed with what went wrong.\n\n"
    )
    text += table(["Run folder", "Status", "Detail"], rows) if rows else "No run folder under `runs/`.\n"
    text += _not_made(ctx)
    if ctx.study.problems:
        text += "\nFiles that could not be read (their numbers are left out):\n\n" + bullets([code(p) for p in ctx.study.problems])
    return text + "\n"


def _not_made(ctx: Context) -> str:
    """The study's runs (``python -m fer_lib study --list``) of each profile these results hold that have no folder
    yet, so that a reader sees what the tables above still lack rather than inferring it from absent rows."""
    present = {s.name for s in ctx.study.states}
    profiles = sorted({s.config["profile"] for s in ctx.study.states if s.config and "profile" in s.config})
    rows = [
        [code(name), code(job.label), code(f"--profile {profile} --step {job.index}")]
        for profile in profiles
        for job in study_jobs(profile)
        if job.step.kind == "run" and (name := job.output_dir(ctx.study.results_dir).name) not in present
    ]
    if not rows:
        return ""
    return "\nStudy runs not made yet:\n\n" + table(["Run folder", "Notebook, model, dataset", "Arguments to `python -m fer_lib study`"], rows)


def run_links(ctx: Context) -> str:
    items = []
    for state in ctx.study.states:
        folder = state.path
        files = [ctx.link(code(name), folder / name) for name in FILES if (folder / name).exists()]
        if (folder / FAILURE_FILE).exists():
            files.append(ctx.link(code(FAILURE_FILE), folder / FAILURE_FILE))
        figures = [ctx.link(code(p.stem), p) for p in sorted((folder / "figures").glob("*.png"))]
        notebooks = [ctx.link(code(p.name), p) for p in sorted(folder.glob("*.ipynb"))]
        line = f"{code(state.name)} ({state.status}): " + " · ".join(files or ["no files"])
        if figures:
            line += " — figures: " + ", ".join(figures)
        if notebooks:
            line += " — executed notebook: " + ", ".join(notebooks)
        items.append(line)
    return "## Figures and notebooks of each run\n\n" + (bullets(items) if items else "No run folder.\n") + "\n"
