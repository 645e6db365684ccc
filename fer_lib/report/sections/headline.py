"""The headline table: each claim of ``claims.yaml`` beside our numbers on the dataset we could use."""

from __future__ import annotations

import pandas as pd

from ...claims import Claim
from ..context import TRAINED_FROM_SCRATCH, Context
from ..markdown import bullets, code, table
from ..provenance import Value, derive, from_claims, from_file
from ..seeds import SeedGroup, format_over_seeds, seed_mean
from .tta import views_chosen_cell

HEADER = [
    "Method", "Paper: §, dataset, metric", "Paper (%)", "Paper leaves unstated", "Ours honest (%)",
    "Ours honest, views chosen on validation (%)", "Ours test-selected (%)", "Gap honest / test-selected (pts)", "Our data",
    "Profile, device", "Epochs", "Seed ids", "Pretraining", "Converged",
]  # fmt: skip
METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "uar": "UAR"}


def metric_name(metric: str, loso: bool) -> str:
    """Display name of a metric; leave-one-subject-out macro-F1 is the MEGC2019 UF1."""
    return "UF1 (macro-F1)" if loso and metric == "macro_f1" else METRIC_NAMES.get(metric, metric)


def headline(ctx: Context) -> tuple[str, pd.DataFrame]:
    """The section's Markdown and its table as a frame (rows of display strings), one row per claim, metric and
    dataset of ours (a claim on a dataset we lack shows every dataset its model ran on)."""
    rows = [row for claim in ctx.study.claims.values() for row in _claim_rows(ctx, claim)]
    notes = [f"{code(c.key)}: {c.note}." for c in ctx.study.claims.values() if c.note]
    text = (
        "## Headline: the paper's claims beside ours\n\n"
        "One row per claim of `fer_lib/claims.yaml` and metric. **honest**: epoch chosen on validation (or a fixed "
        "budget); **views chosen on validation**: the honest model scored as it is or with ten-view test-time "
        "augmentation, whichever scored higher on validation (see Test-time augmentation; pooled over folds for a k-fold "
        "run; — where a run has no validation part or no `tta.json`); "
        "**test-selected**: best epoch on the test split, as much published code does. Values over seeds are "
        "mean ± standard deviation (n seeds). The gap (ours − paper) is given only where the datasets match and our runs used all of the data (no `train_limit`, `eval_limit` or `max_folds`).\n\n"
        + table(HEADER, rows, right=(2, 4, 5, 6, 7))
        + ("\n" + bullets(notes) if notes else "")
    )
    return text, pd.DataFrame(rows, columns=HEADER)


def _claim_rows(ctx: Context, claim: Claim) -> list[list[str]]:
    if claim.check_file:
        return _check_rows(ctx, claim)
    groups = ctx.group(claim.model)
    matching = [g for g in groups if g.dataset == claim.dataset]
    chosen = matching or groups
    if not chosen:
        return [_paper_cells(ctx, claim, m) + ["no complete run", "—", "—", "—", "—", "—", "—", "—", "—", "—"] for m in claim.metrics]
    return [_paper_cells(ctx, claim, m) + _our_cells(ctx, claim, group, m) for group in chosen for m in claim.metrics]


def _paper_cells(ctx: Context, claim: Claim, metric: str) -> list[str]:
    section = ctx.prov.label(Value(claim.section, from_claims(claim.key, "section")))
    where = f"§{section}, {code(claim.dataset)}, {metric_name(metric, claim.split == 'loso')}"
    paper = ctx.prov.number(Value(claim.metrics[metric], from_claims(claim.key, "metrics", metric)), scale=100)
    source = "" if claim.source == "survey" else f" (published: {code(claim.source)})"
    return [code(claim.key) + source, where, paper, ", ".join(claim.unstated) or "—"]


def _our_cells(ctx: Context, claim: Claim, group: SeedGroup, metric: str) -> list[str]:
    prov = ctx.prov
    honest, selected = group.values("honest", metric), group.values("test_selected", metric)
    paper = Value(claim.metrics[metric], from_claims(claim.key, "metrics", metric))
    if group.dataset != claim.dataset:
        gap = "not comparable: other dataset"
    elif subset := _data_subset(ctx, group):
        gap = f"not comparable: part of the data ({subset})"
    elif honest and selected:
        gap = " / ".join(prov.number(derive("sub", seed_mean(v), paper), scale=100, signed=True) for v in (honest, selected))
    else:
        gap = "—"
    records = [r for run in group.runs for r in run.state.records]
    devices = sorted({run.device_name for run in group.runs})
    first = group.runs[0]
    epochs = ctx.metric(first, "honest", "epochs", scale=1, decimals=None)
    seeds = ", ".join(prov.number(Value(run.seed, from_file(run.metrics_file, 0, "seed")), decimals=None) for run in group.runs)
    pretraining = _pretraining(records)
    return [
        format_over_seeds(prov, honest),
        views_chosen_cell(ctx, group, metric),
        format_over_seeds(prov, selected),
        gap,
        dataset_used(ctx, claim, group.dataset),
        f"{code(group.profile)} on {', '.join(code(d) for d in devices)}",
        epochs,
        seeds,
        pretraining,
        ctx.convergence_word(group.runs),
    ]


# Recipe keys that train or score on part of the dataset (a smoke run, a two-fold probe): such a run does not measure
# the claim's protocol, so it gets no gap to the paper's number.
SUBSET_KEYS = ("train_limit", "eval_limit", "max_folds")


def _data_subset(ctx: Context, group: SeedGroup) -> str:
    """How the group's runs used part of the data (``"max_folds 3"``), or ``""`` when every run used all of it."""
    first_run = {(key, run.recipe[key]): run for run in reversed(group.runs) for key in SUBSET_KEYS if run.recipe.get(key) is not None}
    shown = [
        f"{key} {ctx.prov.number(Value(value, from_file(f'{run.folder}/config.json', 'recipe', key)), decimals=None)}"
        for (key, value), run in sorted(first_run.items())
    ]
    return ", ".join(shown)


def _pretraining(records: list[dict]) -> str:
    """What the runs started from: from scratch, our own run on another dataset (fine-tuned), or external weights."""
    if any(r.get("pretrained") for r in records):
        return "pretrained weights (see config.json)"
    sources = sorted({str(r["init_from"].get("run")) for r in records if isinstance(r.get("init_from"), dict)})
    return f"none external: fine-tuned from our {', '.join(code(s) for s in sources)}" if sources else TRAINED_FROM_SCRATCH


def _check_rows(ctx: Context, claim: Claim) -> list[list[str]]:
    """A claim about published weights: our number is their evaluation on our loader, written by a run's notebook."""
    runs = [r for r in ctx.study.runs if r.model == claim.model and r.dataset == claim.dataset and claim.check_file in r.extras]
    rows = []
    for metric in claim.metrics:
        cells = _paper_cells(ctx, claim, metric)
        ours = runs[0].extras[claim.check_file].get("ours", {}).get(metric) if runs else None
        if ours is None:
            rows.append(cells + [f"no {code(claim.check_file)} in a complete run", "—", "—", "—", "—", "—", "—", "—", "—", "—"])
            continue
        value = Value(ours, from_file(f"runs/{runs[0].name}/{claim.check_file}", "ours", metric))
        paper = Value(claim.metrics[metric], from_claims(claim.key, "metrics", metric))
        gap = ctx.prov.number(derive("sub", value, paper), scale=100, signed=True)
        rows.append(cells + [
            ctx.prov.number(value, scale=100), "—", "— (no epoch chosen: their weights)", gap,
            f"{code(claim.dataset)}: their published weights evaluated on our loader ({code(claim.check_file)})",
            "—", "—", "—", "their published weights", "—",
        ])  # fmt: skip
    return rows


def dataset_used(ctx: Context, claim: Claim, dataset: str) -> str:
    """``dataset`` and, when it is not the claim's, why the claim's is not used."""
    if dataset == claim.dataset:
        return f"{code(dataset)}, the claim's dataset"
    return f"{code(dataset)}; the claim's {code(claim.dataset)}: {why_not_run(ctx, claim.dataset)}"


def why_not_run(ctx: Context, dataset: str) -> str:
    """Why ``dataset`` has no complete run, as the ``01_datasets`` inventory tells: absent from the data root, unknown
    to the loaders, or present but not run."""
    inventory = ctx.study.datasets
    if inventory is None:
        return "whether it is available is unknown (`01_datasets/datasets.json` is missing)"
    if dataset not in inventory:
        return "no loader knows it"
    if not inventory[dataset].get("found"):
        return "it is not under the data root"
    return "it is under the data root but has no complete run"
