"""Seeds: each (model, dataset, profile) over the seeds that ran, mean ± standard deviation and n per protocol."""

from __future__ import annotations

from ..context import PROTOCOL_TITLES, PROTOCOLS, Context
from ..markdown import code, table
from ..seeds import format_over_seeds
from .tta import views_chosen_cell


def seeds(ctx: Context) -> str:
    titles = [f"{PROTOCOL_TITLES[p]} {m} (%)" for m in ("accuracy", "macro-F1") for p in PROTOCOLS]
    # beside the honest accuracy: the same models under the evaluation each seed chose on validation (single view or TTA)
    header = ["Model", "Dataset", "Profile", titles[0], "honest accuracy, views chosen on validation (%)", *titles[1:]]
    rows = []
    for g in ctx.groups:
        values = [format_over_seeds(ctx.prov, g.values(p, m)) for m in ("accuracy", "macro_f1") for p in PROTOCOLS]
        rows.append([code(g.label), code(g.dataset), code(g.profile), values[0], views_chosen_cell(ctx, g, "accuracy"), *values[1:]])
    single = all(len(g.runs) == 1 for g in ctx.groups)
    remark = (
        "Every configuration ran with one seed, so its seed-to-seed noise is unknown: differences below should be "
        "read with that in mind."
        if single
        else "Standard deviations are over seeds (sample standard deviation); where a single seed ran, the noise of that configuration is unknown."
    )
    return "## Seeds\n\n" + remark + "\n\n" + table(header, rows, right=(3, 4, 5, 6, 7)) + "\n"
