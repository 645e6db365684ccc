"""Convergence: the rule (:mod:`fer_lib.report.convergence`) stated with its thresholds, and its verdict per run."""

from __future__ import annotations

import math

from ... import convergence as rule
from ..context import Context
from ..markdown import code, table
from ..provenance import Value, computed, constant

HEADER = ["Run", "Curve", "Best epoch", "Epochs", "Change over the last window", "Converged"]


def convergence_section(ctx: Context) -> str:
    prov = ctx.prov

    def threshold(name: str, scale: float = 1) -> str:
        return prov.number(Value(getattr(rule, name), constant(f"{rule.__name__}.{name}")), scale=scale, decimals=None if scale == 1 else 0)

    rows = []
    for run in ctx.study.runs:
        verdict = ctx.convergence[run.name]
        if isinstance(verdict, str):
            rows.append([code(run.name), "—", "—", "—", f"not assessable: {code(verdict)}", "unknown"])
            continue

        def number(field: str, **style) -> str:
            return prov.number(Value(verdict[field], computed("convergence", run=run.name, field=field)), **style)

        if verdict["basis"] == "validation":
            change = f"{number('change', signed=True)} points"
        elif math.isinf(verdict["change"]):
            change = "training loss did not fall"
        else:
            change = f"{number('change', scale=100, decimals=1)} % of the total fall"
        curve = "validation accuracy, mean over folds" if verdict["basis"] == "validation" else "training loss, mean over folds (no validation)"
        epochs = [number("best_epoch", decimals=None), number("epochs", decimals=None)]
        rows.append([code(run.name), curve, *epochs, change, "yes" if verdict["converged"] else "no"])
    return (
        "## Convergence\n\n"
        f"A run counts as **not converged** when its best validation epoch lies in the last {threshold('LAST_FRACTION', 100)} % "
        f"of the schedule *and* the validation metric still rose by at least {threshold('MIN_RISE_POINTS')} points over the "
        f"last window of it, its last {threshold('WINDOW_FRACTION', 100)} % (curves averaged over folds per epoch; the rise "
        "read off a least-squares line through the window's epochs, since one evaluation per epoch on a small "
        "validation part moves by about a point from epoch to epoch). Runs "
        "without a validation split (leave-one-subject-out, a fixed epoch budget) are judged on their training loss "
        f"instead: converged when the lowest loss comes before the last {threshold('LAST_FRACTION', 100)} % or the last "
        "window removed under "
        f"{threshold('LOSS_PLATEAU_FRACTION', 100)} % of the total fall. Their test curve is not used, since reading it "
        "would select on the test subjects; a settled training loss says the optimiser had finished, not that test "
        "accuracy had peaked.\n\n" + table(HEADER, rows, right=(2, 3)) + _recorded_otherwise(ctx) + "\n"
    )


def _recorded_otherwise(ctx: Context) -> str:
    """The runs whose ``metrics.json`` keeps another verdict than the table's: each run records the verdict of the rule
    as it stood when the run trained, and the rule has changed since (the rise is now fitted over the window)."""
    differing = []
    for run in ctx.study.runs:
        verdict, found = ctx.convergence[run.name], run.record("honest")
        recorded = found[1].get("convergence") if found else None
        if isinstance(verdict, dict) and isinstance(recorded, dict) and recorded.get("converged") != verdict["converged"]:
            differing.append(f"{code(run.name)} (recorded: {'converged' if recorded.get('converged') else 'not converged'})")
    if not differing:
        return ""
    return (
        "\nEach run's `metrics.json` keeps the verdict of the rule as it stood when the run trained; the table applies the "
        "rule of the current code to the run's `history.csv`. For these runs, trained under an earlier version of the "
        f"rule, the two verdicts differ, and the table's is the one to read: {', '.join(differing)}.\n"
    )
