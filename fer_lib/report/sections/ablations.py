"""Ablations: what each module adds (the model with it minus the same network without it, ``claims.yaml``
``ablations``), beside the seed noise of that difference."""

from __future__ import annotations

from ...claims import Ablation
from ..context import Context
from ..markdown import code, table
from ..provenance import Value, constant, derive, from_ablation
from ..seeds import SeedGroup, seed_mean
from .headline import metric_name

NOISE_MULTIPLE = 2  # a difference "exceeds the seed noise" beyond 2 standard errors (about 95 % for normal noise)
HEADER = [
    "Module (§)", "With / without", "Dataset, profile", "Metric", "Δ honest (pts)", "Δ test-selected (pts)", "Seed noise, honest (pts)",
    "Exceeds noise?",
]  # fmt: skip


def ablations(ctx: Context) -> str:
    rows = []
    for ablation in ctx.study.ablations:
        pairs = [(g, b) for g in ctx.group(ablation.model) for b in ctx.group(ablation.baseline, g.dataset) if (b.profile, b.init_from) == (g.profile, g.init_from)]
        if not pairs:
            rows.append(_identity(ctx, ablation) + ["no complete runs of both", "—", "—", "—", "—", "—"])
        for model, baseline in pairs:
            gap = _recipe_gap(model, baseline)
            rows += _rows(ctx, ablation, model, baseline) if not gap else [_identity(ctx, ablation) + [_where(model), "—", "—", "—", "—", f"not compared: {gap}"]]
    multiple = ctx.prov.number(_multiple(), decimals=None)
    return (
        "## Ablations: what each module adds\n\n"
        "Δ = the model with the module minus the same network without it, trained with the same recipe (mean over seeds). "
        f"Seed noise is {multiple} standard errors of that difference, sqrt(s₁²/n₁ + s₂²/n₂) with s the sample standard "
        "deviation over seeds; it needs at least two seeds of each model.\n\n" + table(HEADER, rows, right=(4, 5, 6)) + "\n"
    )


def _recipe_gap(model: SeedGroup, baseline: SeedGroup) -> str:
    """The recipe settings in which the two models' runs differ (``""`` when none do): a module's effect is measured
    only between runs of the same recipe, or it would include e.g. a longer schedule's gain. Names only: the values
    are in the runs' configs (the report prints no number without its source)."""
    recipes = [run.state.config["recipe"] for group in (baseline, model) for run in group.runs]
    keys = sorted({key for other in recipes[1:] for key in set(recipes[0]) | set(other) if recipes[0].get(key) != other.get(key)})
    return f"recipes differ in {', '.join(keys)}" if keys else ""


def _where(group: SeedGroup) -> str:
    """Dataset and profile, and the start of a fine-tuned pair: the same pair from scratch is another row."""
    start = f", fine-tuned from {code(group.init_from)}" if group.init_from else ""
    return f"{code(group.dataset)}, {code(group.profile)}{start}"


def _multiple() -> Value:
    return Value(NOISE_MULTIPLE, constant(f"{__name__}.NOISE_MULTIPLE"))


def _identity(ctx: Context, ablation: Ablation) -> list[str]:
    section = ctx.prov.label(Value(ablation.section, from_ablation(ablation.model, "section")))
    return [f"{ablation.module} (§{section})", f"{code(ablation.model)} / {code(ablation.baseline)}"]


def _rows(ctx: Context, ablation: Ablation, model: SeedGroup, baseline: SeedGroup) -> list[list[str]]:
    rows = []
    loso = any("uf1" in r for run in model.runs for r in run.state.records)
    for metric in ("accuracy", "macro_f1"):
        deltas = []
        for protocol in ("honest", "test_selected"):
            a, b = model.values(protocol, metric), baseline.values(protocol, metric)
            deltas.append(ctx.prov.number(derive("sub", seed_mean(a), seed_mean(b)), scale=100, signed=True) if a and b else "—")
        a, b = model.values("honest", metric), baseline.values("honest", metric)
        if len(a) > 1 and len(b) > 1:
            standard_error = derive("se_diff", derive("std", *a), derive("count", *a), derive("std", *b), derive("count", *b))
            noise = derive("mul", _multiple(), standard_error)
            exceeds = abs(seed_mean(a).value - seed_mean(b).value) > noise.value
            noise_text, verdict = ctx.prov.number(noise, scale=100), "yes" if exceeds else "no"
        else:
            noise_text, verdict = "unknown", "unknown: one seed"
        rows.append(_identity(ctx, ablation) + [_where(model), metric_name(metric, loso), *deltas, noise_text, verdict])
    return rows
