"""Per dataset: every complete run's numbers under both protocols, in the form the dataset's protocol reports them
(one test split; mean ± std over subject-independent folds; pooled leave-one-subject-out with a per-database
breakdown), with the published references on that dataset beside them."""

from __future__ import annotations

from ..collect import DATASETS_FILE, Run
from ..context import PROTOCOL_TITLES, PROTOCOLS, Context
from ..markdown import bullets, code, table
from ..provenance import Value, from_claims, from_file
from .headline import metric_name


def per_dataset(ctx: Context) -> str:
    parts = ["## Per dataset\n\n"]
    for dataset in sorted({run.dataset for run in ctx.study.runs}):
        runs = [run for run in ctx.study.runs if run.dataset == dataset]
        parts.append(f"### {_title(ctx, dataset)}\n\n")
        if any("uf1" in run.first for run in runs):
            parts.append(_loso(ctx, runs))
        elif any("n_folds" in run.first for run in runs):
            parts.append(_kfold(ctx, runs))
        else:
            parts.append(_single_split(ctx, runs))
        parts.append(_references(ctx, dataset, runs))
    return "".join(parts)


def _title(ctx: Context, dataset: str) -> str:
    """``"<title> (`name`)"`` with the title of the ``01_datasets`` inventory, when it lists the dataset."""
    inventory = ctx.study.datasets or {}
    if "title" not in inventory.get(dataset, {}):
        return code(dataset)
    index = list(inventory).index(dataset)  # the inventory keeps the file's order
    title = ctx.prov.label(Value(inventory[dataset]["title"], from_file(DATASETS_FILE, "datasets", index, "title")))
    return f"{title} ({code(dataset)})"


def _identity(ctx: Context, run: Run) -> list[str]:
    return [code(run.name), code(run.first.get("split", "")), ctx.metric(run, "honest", "n", scale=1, decimals=None)]


def _single_split(ctx: Context, runs: list[Run]) -> str:
    header = ["Run", "Split", "n"]
    header += [f"{PROTOCOL_TITLES[p]} {m} (%)" for p in PROTOCOLS for m in ("accuracy", "macro-F1", "UAR")]
    header += ["Epoch chosen: honest / test-selected", "Epochs", "Converged"]
    rows = []
    for run in runs:
        cells = _identity(ctx, run) + [ctx.metric(run, p, m) for p in PROTOCOLS for m in ("accuracy", "macro_f1", "uar")]
        chosen = " / ".join(ctx.metric(run, p, "selected_epoch", scale=1, decimals=None) for p in PROTOCOLS)
        rows.append(cells + [chosen, ctx.metric(run, "honest", "epochs", scale=1, decimals=None), ctx.convergence_word([run])])
    return "One official test split, read once per protocol.\n\n" + table(header, rows, right=tuple(range(2, 11)))


def _kfold(ctx: Context, runs: list[Run]) -> str:
    header = ["Run", "Split", "n"]
    header += [f"{PROTOCOL_TITLES[p]} {m} (%)" for p in PROTOCOLS for m in ("accuracy", "macro-F1", "pooled accuracy")]
    header += ["Folds", "Epochs per fold", "Converged"]
    rows = []
    for run in runs:
        cells = _identity(ctx, run)
        for protocol in PROTOCOLS:
            for metric in ("accuracy", "macro_f1"):
                cells.append(f"{ctx.metric(run, protocol, f'{metric}_mean')} ± {ctx.metric(run, protocol, f'{metric}_std')}")
            cells.append(ctx.metric(run, protocol, "pooled", "accuracy"))
        folds = ctx.metric(run, "honest", "n_folds", scale=1, decimals=None)
        rows.append(cells + [folds, ctx.metric(run, "honest", "epochs", scale=1, decimals=None), ctx.convergence_word([run])])
    intro = (
        "Subject-independent folds: mean ± standard deviation over folds (the CK+ convention), and accuracy on the pooled "
        "predictions of all folds.\n\n"
    )
    return intro + table(header, rows, right=tuple(range(2, 11)))


def _loso(ctx: Context, runs: list[Run]) -> str:
    header = ["Run", "Split", "n"]
    header += [f"{PROTOCOL_TITLES[p]} {m} (%)" for p in PROTOCOLS for m in ("UF1", "UAR", "accuracy")]
    header += ["Epochs", "Converged"]
    rows = []
    for run in runs:
        cells = _identity(ctx, run) + [ctx.metric(run, p, m) for p in PROTOCOLS for m in ("uf1", "uar", "accuracy")]
        rows.append(cells + [ctx.metric(run, "honest", "epochs", scale=1, decimals=None), ctx.convergence_word([run])])
    text = (
        "Leave-one-subject-out; UF1 (macro-F1), UAR and accuracy on the predictions of all folds pooled (the MEGC2019 "
        "protocol). Honest is a fixed epoch budget: no validation subjects are held out.\n\n" + table(header, rows, right=tuple(range(2, 10)))
    )
    databases = sorted({db for run in runs for record in run.state.records for db in record.get("by_database", {})})
    if databases:
        header = ["Run", "Protocol"] + [f"{code(db)} UF1 / UAR / accuracy (%) (n)" for db in databases]
        rows = []
        for run in runs:
            for protocol in PROTOCOLS:
                cells = [code(run.name), PROTOCOL_TITLES[protocol]]
                for db in databases:
                    scores = " / ".join(ctx.metric(run, protocol, "by_database", db, m) for m in ("uf1", "uar", "accuracy"))
                    cells.append(f"{scores} ({ctx.metric(run, protocol, 'by_database', db, 'n', scale=1, decimals=None)})")
                rows.append(cells)
        text += "\nPer source database (pooled over its subjects' folds):\n\n" + table(header, rows, right=tuple(range(2, 2 + len(databases))))
    return text


def _references(ctx: Context, dataset: str, runs: list[Run]) -> str:
    """The published numbers on ``dataset`` (claims) and the published-weights checks written by these runs."""
    items = []
    for claim in ctx.study.claims.values():
        if claim.dataset != dataset:
            continue
        who = "the survey" if claim.source == "survey" else code(claim.source)
        section = ctx.prov.label(Value(claim.section, from_claims(claim.key, "section")))
        values = ", ".join(
            f"{metric_name(m, claim.split == 'loso')} {ctx.prov.number(Value(v, from_claims(claim.key, 'metrics', m)), scale=100)}"
            for m, v in claim.metrics.items()
        )
        items.append(f"{code(claim.key)} (§{section}, {who}): {values} (%)")
    text = ("\nPublished on this dataset:\n\n" + bullets(items)) if items else ""
    check_files = sorted({c.check_file for c in ctx.study.claims.values() if c.check_file})
    checks = [(run, name, run.extras[name]) for run in runs for name in check_files if name in run.extras]
    if checks:
        header = ["Run folder", "File", "Published UF1 / UAR (%)", "Ours, their weights on our loader: UF1 / UAR / accuracy (%)"]
        rows = []
        for run, name, data in checks:
            path = f"runs/{run.name}/{name}"
            published = " / ".join(_from(ctx, data, path, "published", k) for k in ("uf1", "uar"))
            ours = " / ".join(_from(ctx, data, path, "ours", k) for k in ("macro_f1", "uar", "accuracy"))
            rows.append([code(run.name), ctx.results_link(code(name), path), published, ours])
        intro = "\nThe published weights, evaluated on our loader's inputs (an external check of loader, folds and metrics):\n\n"
        text += intro + table(header, rows)
    return text + "\n"


def _from(ctx: Context, data: dict, path: str, *keys: str) -> str:
    value = data
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, (int, float)):
        return "—"
    return ctx.prov.number(Value(value, from_file(path, *keys)), scale=100)
