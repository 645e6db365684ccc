"""Honest vs test-selected: the gap of every complete run, as a figure and as the range it spans."""

from __future__ import annotations

from matplotlib.figure import Figure

from ..context import Context
from ..figures import plot_protocol_gaps
from ..provenance import Value, derive

METRICS = {"accuracy": "accuracy", "macro_f1": "macro-F1 (UF1)"}


def protocol_gaps(ctx: Context) -> tuple[str, Figure | None]:
    """The section's text and its figure (``None`` when no run holds both protocols)."""
    gaps: dict[str, list[Value]] = {m: [] for m in METRICS}
    names = []
    for run in ctx.study.runs:
        pairs = {m: (run.value("test_selected", m), run.value("honest", m)) for m in METRICS}
        if all(a is not None and b is not None for a, b in pairs.values()):
            names.append(run.name)
            for metric, (selected, honest) in pairs.items():
                gaps[metric].append(derive("sub", selected, honest))
    text = "## Honest vs test-selected\n\n"
    if not names:
        return text + "No complete run holds both protocols.\n\n", None
    prov = ctx.prov

    def span(values: list[Value]) -> str:
        low, high = (prov.number(derive(op, *values), scale=100, signed=True) for op in ("min", "max"))
        return f"{low} to {high} points"

    ranges = "; ".join(f"{label} {span(gaps[m])}" for m, label in METRICS.items())
    count = prov.number(derive("count", *gaps["accuracy"]), decimals=None)
    figure = plot_protocol_gaps(names, {label: [100 * g.value for g in gaps[m]] for m, label in METRICS.items()})
    return (
        text + f"Choosing each run's epoch on its test split (test-selected − honest) changes the score by {ranges}, over "
        f"{count} complete runs. The paper does not say which protocol its numbers use.\n\n"
    ), figure
